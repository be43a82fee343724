"""Sensitivity of the headline figures to the parameters nobody measured (used by stage 4, influence).

Road speeds, the off-network speed and the crossing delays are defaults, not calibrated: this module
recomputes the headline figures — the share of the focus country beyond the threshold of every pole,
the barrier hours per belt, the share of the focus country whose fastest pole lies abroad, and every
road axis leg's time — with each parameter varied on its own (``layers/influence.yaml``:
``sensitivity``), and the share beyond influence for each threshold.

Every variant reuses the linked cells of the base run: a faster or slower network scales the edges'
travel minutes, the off-network speed scales the access legs (the nearest access points by distance
are the nearest by time at any uniform speed), the delays scale the crossing edges' extra minutes. A
variant costs the two multi-source Dijkstra runs (open and current) and the cell minimum, not a new
linking.
"""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd

SCENARIO_COLUMNS = ("min_open", "min_current", "min_closed")


def scaled_edges(edges: pd.DataFrame, *, speed: float = 1.0, delay: float = 1.0) -> pd.DataFrame:
    """Edges with travel minutes divided by ``speed`` and crossing delays multiplied by ``delay``.

    Parameters
    ----------
    edges
        Crossings-stage edges: ``minutes`` (travel), ``min_open`` (travel), ``min_current`` (travel plus
        delay), ``min_closed`` (NaN on crossings).
    speed
        Factor on every speed of the network (0.8: 20 % slower).
    delay
        Factor on every crossing delay.

    Returns
    -------
    DataFrame
        A copy with the scaled columns.
    """
    out = edges.copy()
    travel = edges["min_open"].to_numpy(dtype=float)
    for col in SCENARIO_COLUMNS:
        if col in out:
            out[col] = travel / speed + delay * (edges[col].to_numpy(dtype=float) - travel)
    out["minutes"] = edges["minutes"].to_numpy(dtype=float) / speed
    return out


def scaled_links(lk, *, speed: float = 1.0, off_kmh: float | None = None, delay: float = 1.0):
    """The linked model of a variant, from the base one without linking again.

    Parameters
    ----------
    lk : accessibility.Linked
        The base model.
    speed, delay
        See :func:`scaled_edges`.
    off_kmh
        Off-network speed of the variant (km/h); None: the base one.

    Returns
    -------
    accessibility.Linked
    """
    r = 1.0 if off_kmh is None else lk.off_kmh / off_kmh
    pole, j, access = lk.links
    cells = lk.cells if r == 1.0 else replace(lk.cells, leg_min=lk.cells.leg_min * np.float32(r),
                                              pole_min=lk.cells.pole_min * np.float32(r))
    return replace(lk, road=scaled_edges(lk.road, speed=speed, delay=delay),
                   base=lk.base.assign(minutes=lk.base["minutes"].to_numpy(dtype=float) / speed),
                   links=(pole, j, access * r), cells=cells, off_kmh=lk.off_kmh if off_kmh is None else off_kmh)


def headline(hours: dict[str, tuple[np.ndarray, np.ndarray]], focus_cells: np.ndarray, pole_abroad: np.ndarray,
             zones_ea: gpd.GeoSeries, transform, threshold_h: float, masks: list | None = None) -> dict[str, float]:
    """The headline figures of one variant.

    Parameters
    ----------
    hours
        ``open`` and ``current`` → (hours grid, fastest pole grid), as :func:`accessibility.hours_per_scenario`;
        only the cells of ``focus_cells`` and of the belts are read.
    focus_cells
        Land cells of the focus country.
    pole_abroad
        Per pole id, whether it lies outside the focus country.
    zones_ea
        Belts in the grid CRS (``zone_id`` as index).
    transform
        Grid transform.
    threshold_h
        Threshold of "beyond influence" (h).
    masks
        ``rasters.zone_masks`` of ``zones_ea`` (made once for all variants); None: made here.

    Returns
    -------
    dict
        ``beyond_share_pct``, ``pole_abroad_share_pct`` (current scenario, % of the focus country's land
        cells), ``barrier_h|<zone_id>`` (area-weighted mean of current − open hours per belt).
    """
    from .influence import beyond_mask
    from .rasters import means_in_zones, zone_masks

    h_cur, which = hours["current"]
    n = focus_cells.sum()
    out = {"beyond_share_pct": 100 * float(beyond_mask(h_cur, focus_cells, threshold_h).sum()) / n}
    abroad = focus_cells & (which >= 0) & np.append(pole_abroad, False)[np.where(which >= 0, which, -1)]
    out["pole_abroad_share_pct"] = 100 * float(abroad.sum()) / n
    masks = zone_masks(zones_ea, transform, h_cur.shape) if masks is None else masks
    barrier = means_in_zones(h_cur - hours["open"][0], masks)
    out |= {f"barrier_h|{z}": float(b) for z, b in zip(zones_ea.index, barrier)}
    return out


def variants(conf) -> list[tuple[str, dict]]:
    """The variants of ``sensitivity`` (name, keyword arguments of :func:`scaled_links`), base first."""
    out = [("base", {})]
    out += [(f"road speeds ×{f:g}", {"speed": f}) for f in conf.road_speed_factors]
    out += [(f"off-network {v:g} km/h", {"off_kmh": v}) for v in conf.off_network_kmh]
    out += [(f"crossing delays ×{f:g}", {"delay": f}) for f in conf.delay_factors]
    return out


def table(rows: list[dict]) -> pd.DataFrame:
    """Long table: variant, metric, target, value, unit (from per-variant dicts of metric|target → value)."""
    recs = []
    for r in rows:
        for key, value in r["values"].items():
            metric, _, target = key.partition("|")
            unit = "%" if metric.endswith("_pct") else ("h" if metric.endswith("_h") else "min")
            recs.append({"variant": r["variant"], "metric": metric, "target": target or "", "value": value,
                         "unit": unit})
    return pd.DataFrame(recs)
