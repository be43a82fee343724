"""Stage 3b, crossings (border crossings and scenarios): where the network crosses the focus country's land border.

Reads ``outputs/stages/network.gpkg`` (``edges``, ``nodes``), ``outputs/stages/borders.gpkg``
(``border_segments``), the delays in ``layers/network.yaml`` (``crossings.delay_hours``) and the
official checkpoints of ``layers/checkpoints.yaml`` (name, coordinates, source).
Writes ``outputs/stages/crossings.gpkg`` with layers
  * ``crossings`` (Point): ``crossing_id``, ``segment_id``, ``neighbour``, ``mode``, ``class``,
    ``delay_h`` (current scenario), ``edge_id`` (the crossing edge in ``edges``), ``checkpoint`` (the
    official checkpoint it is matched to, where one with coordinates lies within ``match_km``) and
    ``checkpoint_km`` (distance to it);
  * ``edges``: the network with every border-crossing edge split at the border and an explicit
    crossing edge (``class`` = 'border crossing', 0 km, drawn as 2 cm of the road) inserted
    between a node on each side, with one travel-time column per scenario: ``min_open`` (no
    delay), ``min_current`` (plus the crossing delay), ``min_closed`` (crossing edges unusable: NaN).

Splitting gives each crossing two nodes, so a route pays the delay exactly once when it crosses, and
never when it only runs up to the border and back.

Limits: only the focus country's borders carry delays; borders between third countries are crossed
freely, so a route may dodge a delayed crossing through a neighbour (Almaty→Tashkent through Kyrgyzstan).
Only checkpoints with cited coordinates can be matched (see layers/checkpoints.yaml).
"""

from __future__ import annotations

import logging

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod
from shapely.ops import substring

log = logging.getLogger("pipeline")

SCENARIOS = ("open", "current", "closed")
CROSSING_CLASS = "border crossing"


def delay_hours(delays: dict[str, dict[str, float]], neighbour: str, mode: str) -> float:
    """Delay for a neighbour and mode: its own figure, else the ``default`` one."""
    for key in (neighbour, "default"):
        if mode in delays.get(key, {}):
            return float(delays[key][mode])
    raise KeyError(f"no crossing delay for {neighbour} / {mode} and no default for {mode}")


def insert_crossings(edges: gpd.GeoDataFrame, n_nodes: int, segments: gpd.GeoDataFrame,
                     delays: dict[str, dict[str, float]]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Split edges at the land border and insert crossing edges; add per-scenario minutes.

    The pieces of a split edge share its length and minutes in proportion to where it is cut, so
    splitting alone changes no travel time."""
    land = segments[segments["segment_type"] == "land"]
    keep = np.ones(len(edges), dtype=bool)
    pieces: list[dict] = []
    points: list[dict] = []
    next_node = n_nodes
    for seg in land.itertuples(index=False):
        hit = edges.sindex.query(seg.geometry, predicate="crosses")
        for i in hit:
            if not keep[i]:
                continue  # already split on another segment (a triple point): keep the first
            e = edges.iloc[i]
            cut = shapely.intersection(e.geometry, seg.geometry)
            pts = [p for p in shapely.get_parts(cut) if p.geom_type == "Point"]
            if not pts:
                continue
            at = sorted(e.geometry.project(p, normalized=True) for p in pts)
            at = [a for a in at if 0.0 < a < 1.0]
            if not at:
                continue
            keep[i] = False
            bounds = [0.0, *at, 1.0]
            parts = [substring(e.geometry, a, b, normalized=True) for a, b in zip(bounds[:-1], bounds[1:])]
            ends = [int(e["u"])]
            for _ in at:
                ends += [next_node, next_node + 1]
                next_node += 2
            ends.append(int(e["v"]))
            for k, part in enumerate(parts):
                share = bounds[k + 1] - bounds[k]  # of the edge, so the halves add up exactly
                pieces.append({"u": ends[2 * k], "v": ends[2 * k + 1], "mode": e["mode"],
                               "class": e["class"], "speed_kmh": e["speed_kmh"],
                               "length_km": e["length_km"] * share, "minutes": e["minutes"] * share,
                               "geometry": part})
            for k, a in enumerate(at):
                where = e.geometry.interpolate(a, normalized=True)
                h = delay_hours(delays, seg.neighbour, e["mode"])
                # A valid (non-degenerate) line: ±1 cm along the road around the crossing point.
                eps = 0.01 / max(e["length_km"] * 1000.0, 1.0)
                span = shapely.LineString([e.geometry.interpolate(max(a - eps, 0.0), normalized=True),
                                           e.geometry.interpolate(min(a + eps, 1.0), normalized=True)])
                pieces.append({"u": ends[2 * k + 1], "v": ends[2 * k + 2], "mode": e["mode"],
                               "class": CROSSING_CLASS, "speed_kmh": np.nan, "delay_h": h,
                               "crossing": len(points), "geometry": span})
                points.append({"segment_id": seg.segment_id, "neighbour": seg.neighbour,
                               "mode": e["mode"], "class": e["class"], "delay_h": h,
                               "geometry": where})
    out = edges.loc[keep].drop(columns=["edge_id"], errors="ignore").copy()
    out["delay_h"] = np.nan
    out["crossing"] = -1
    if pieces:
        new = gpd.GeoDataFrame(pieces, geometry="geometry", crs=edges.crs)
        new[["length_km", "minutes"]] = new[["length_km", "minutes"]].fillna(0.0)
        new["crossing"] = new["crossing"].fillna(-1).astype(int)
        out = gpd.GeoDataFrame(pd.concat([out, new], ignore_index=True), geometry="geometry",
                               crs=edges.crs)
    out = out.reset_index(drop=True)
    out.insert(0, "edge_id", np.arange(len(out)))
    is_x = out["class"] == CROSSING_CLASS
    out["min_open"] = out["minutes"]
    out["min_current"] = out["minutes"] + np.where(is_x, out["delay_h"].fillna(0) * 60.0, 0.0)
    out["min_closed"] = np.where(is_x, np.nan, out["minutes"])
    crossings = gpd.GeoDataFrame(points, geometry="geometry", crs=edges.crs) if points else \
        gpd.GeoDataFrame(columns=["segment_id", "neighbour", "mode", "class", "delay_h", "geometry"],
                         geometry="geometry", crs=edges.crs)
    crossings.insert(0, "crossing_id", np.arange(len(crossings)))
    x_edges = out.loc[is_x, ["crossing", "edge_id"]].set_index("crossing")["edge_id"]
    crossings["edge_id"] = crossings["crossing_id"].map(x_edges).astype("Int64")
    out = out.drop(columns=["crossing"])
    log.info("crossings: %d points where the network crosses the land border (%s)", len(crossings),
             ", ".join(f"{n}: {c}" for n, c in crossings.groupby("neighbour").size().items()))
    return out, crossings


def scenario_edges(edges: pd.DataFrame, scenario: str) -> pd.DataFrame:
    """Edges usable in ``scenario`` with their ``minutes`` for it (closed crossings dropped)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
    col = f"min_{scenario}"
    usable = edges[edges[col].notna()]
    return usable.assign(minutes=usable[col])


def load_checkpoints(path: Path) -> gpd.GeoDataFrame:
    """``layers/checkpoints.yaml`` as points (EPSG:4326); every entry must cite a source.

    Parameters
    ----------
    path
        The checkpoints file (validated against :class:`~pipeline.config.network.CheckpointsFile`).

    Returns
    -------
    GeoDataFrame
        ``name``, ``neighbour``, ``modes`` (comma-separated), ``source``, Point geometry.
    """
    from .config.base import validate_file
    from .config.network import CheckpointsFile

    rows = [{"name": c.name, "neighbour": c.neighbour, "modes": ",".join(c.modes), "source": c.source,
             "geometry": shapely.Point(c.lon, c.lat)}
            for c in validate_file(path, CheckpointsFile).checkpoints]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326") if rows else \
        gpd.GeoDataFrame(columns=["name", "neighbour", "modes", "source", "geometry"],
                         geometry="geometry", crs="EPSG:4326")


def match_checkpoints(crossings: gpd.GeoDataFrame, checkpoints: gpd.GeoDataFrame,
                      max_km: float) -> gpd.GeoDataFrame:
    """Name each crossing after the nearest checkpoint with its neighbour and mode within ``max_km``
    (geodesic); ``checkpoint`` is empty and ``checkpoint_km`` NaN where none is that close."""
    out = crossings.copy()
    out["checkpoint"] = ""
    out["checkpoint_km"] = np.nan
    geod = Geod(ellps="WGS84")
    for i, x in enumerate(out.itertuples()):
        cands = checkpoints[(checkpoints["neighbour"] == x.neighbour)
                            & checkpoints["modes"].str.split(",").apply(lambda m, mode=x.mode: mode in m)]
        if cands.empty:
            continue
        lon, lat = np.full(len(cands), x.geometry.x), np.full(len(cands), x.geometry.y)
        _, _, d = geod.inv(lon, lat, cands.geometry.x.to_numpy(), cands.geometry.y.to_numpy())
        j = int(np.argmin(d))
        if d[j] / 1000.0 <= max_km:
            out.iloc[i, out.columns.get_loc("checkpoint")] = cands["name"].iloc[j]
            out.iloc[i, out.columns.get_loc("checkpoint_km")] = d[j] / 1000.0
    return out


DESCRIPTIONS = {
    "crossings": "Points where the network crosses the focus country's land border; delay_h = "
                 "crossing delay (hours) in the current scenario, from layers/network.yaml.",
    "edges": "Travel-time graph split at the border crossings: minutes per scenario (min_open, "
             "min_current, min_closed).",
}


def run(cfg, network, borders, out) -> None:
    """Split the network at the focus country's land borders and write crossings and edges to ``out``.

    Parameters
    ----------
    cfg : Config
        Configuration folder (network.yaml delays, checkpoints.yaml).
    network, borders : Path
        ``stages/network.gpkg`` (``edges``, ``nodes``) and ``stages/borders.gpkg`` (``border_segments``).
    out : Path
        ``stages/crossings.gpkg``: layers ``crossings`` and ``edges``.
    """
    from .config import load_network
    from .errors import ConfigError
    from .io import read_layer
    from .outputs import write_stage

    net = load_network(cfg.layers_dir, cfg.sources)
    edges, nodes = read_layer(network, "edges"), read_layer(network, "nodes")
    segs = read_layer(borders, "border_segments")
    neighbours = set(segs.loc[segs["segment_type"] == "land", "neighbour"])
    strangers = sorted(set(net.delay_hours) - neighbours - {"default"})
    if strangers:
        raise ConfigError(f"{cfg.layers_dir / 'network.yaml'}: crossings.delay_hours: {', '.join(strangers)} "
                          f"not a land neighbour of {cfg.focus_country} (neighbours: {', '.join(sorted(neighbours))})")
    out_edges, points = insert_crossings(edges, len(nodes), segs, net.delay_hours)
    points = match_checkpoints(points, load_checkpoints(cfg.layers_dir / "checkpoints.yaml"), net.match_km)
    log.info("crossings: %d of %d matched to official checkpoints (%s)",
             int((points["checkpoint"] != "").sum()), len(points),
             ", ".join(sorted(set(points["checkpoint"]) - {""})))
    write_stage(cfg, out, {"crossings": points, "edges": out_edges}, DESCRIPTIONS)
