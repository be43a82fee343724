"""Stage 5, influence: growth poles' catchments, Huff market areas, territories beyond influence,
cross-border influence and development axes.

Reads the crossings stage's graph, the poles (``layers/poles.yaml``), countries, zones and border
regions, and ``layers/influence.yaml``. Writes ``outputs/influence.gpkg`` with layers
  * ``poles``; ``catchments`` (per tier set and scenario: the cells whose fastest pole is each pole,
    with ``area_km2`` and ``population``: GeoNames settlements ≥ 5,000 inside);
  * ``huff_dominant`` (per dominant pole: area and mean probability, Huff model of the configured
    scenario and tier set: P_ij = A_j^α·exp(−β·t_ij) / Σ_k A_k^α·exp(−β·t_ik), A = population);
  * ``beyond_influence`` (per tier set: land farther than ``beyond_hours`` from every pole of the
    set, with area and settlement population; ``region_beyond``: that area per region);
  * ``cross_border_influence`` (per zone / border region and scenario: share of area and of
    settlement population whose fastest pole lies in another country);
  * ``axes`` (each leg between consecutive stops routed on the road graph: ``length_km``, ``minutes``)
    and ``axis_corridors`` (geodesic buffers of the axes, clipped to land);
and ``outputs/rasters/huff_probability.tif`` (probability of the dominant pole).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import CRS
from rasterio import features
from scipy.sparse.csgraph import dijkstra

from .geodesy import geodesic_buffer, length_km
from .network import graph_matrix
from .topology import polygonal

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
    total = np.zeros(n)
    best_w = np.zeros(n)
    best = np.full(n, -1, dtype=np.int32)
    for pole, minutes in per_pole:
        w = huff_weights(minutes, float(attraction[pole]), alpha, beta_per_h)
        total += w
        better = w > best_w
        best_w = np.where(better, w, best_w)
        best = np.where(better, pole, best)
    with np.errstate(invalid="ignore", divide="ignore"):
        prob = np.where(total > 0, best_w / total, np.nan)
    return best, prob


# --- raster → polygons ----------------------------------------------------------------------------

def class_polygons(classes: np.ndarray, transform: Affine, crs: CRS, name: str = "value",
                   nodata: int = -1) -> gpd.GeoDataFrame:
    """Polygons of equal integer values of ``classes`` (``nodata`` left out), dissolved per value."""
    data = classes.astype(np.int32)
    geoms, ids = [], []
    for geom, value in features.shapes(data, mask=data != nodata, transform=transform, connectivity=4):
        geoms.append(shapely.geometry.shape(geom))
        ids.append(int(value))
    if not geoms:
        return gpd.GeoDataFrame({name: []}, geometry=[], crs=crs)
    return gpd.GeoDataFrame({name: ids}, geometry=geoms, crs=crs).dissolve(name).reset_index()


def settlement_population(polygons: gpd.GeoDataFrame, settlements: gpd.GeoDataFrame) -> np.ndarray:
    """Sum of settlement populations inside each polygon (same CRS)."""
    if polygons.empty or settlements.empty:
        return np.zeros(len(polygons), dtype=np.int64)
    hit_pt, hit_poly = polygons.sindex.query(settlements.geometry.values, predicate="within")
    pops = settlements["population"].to_numpy()[hit_pt]
    return np.bincount(hit_poly, weights=pops, minlength=len(polygons)).astype(np.int64)


# --- cross-border influence ---------------------------------------------------------------------

def cross_border_shares(polygons: gpd.GeoSeries, own_country: np.ndarray, pole_country: np.ndarray,
                        transform: Affine, settlements: gpd.GeoDataFrame,
                        settlement_pole_country: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each polygon (grid CRS): the share of its cells, and of its settlement population, whose
    fastest pole lies in a country other than ``own_country`` (country codes as integers; the raster
    ``pole_country`` holds the pole's country per cell, −1 where no pole is reachable)."""
    from .rasters import zonal_means

    area_share = np.full(len(polygons), np.nan)
    pop_share = np.full(len(polygons), np.nan)
    sx, sy = settlements.geometry.x.to_numpy(), settlements.geometry.y.to_numpy()
    pops_all = settlements["population"].to_numpy()
    for own in np.unique(own_country):
        which = np.flatnonzero(own_country == own)
        across = np.where(pole_country >= 0, (pole_country != own).astype(np.float32), np.nan)
        area_share[which] = zonal_means(across, polygons.iloc[which], transform)
        for i in which:
            inside = shapely.contains_xy(polygons.values[i], sx, sy) if len(sx) else np.zeros(0, bool)
            pops = pops_all[inside]
            if pops.sum() > 0:
                spc = settlement_pole_country[inside]
                pop_share[i] = float(pops[(spc != own) & (spc >= 0)].sum() / pops.sum())
    return area_share, pop_share


# --- development axes ---------------------------------------------------------------------------

def route_legs(edges: gpd.GeoDataFrame, node_xy: np.ndarray, stops: list[tuple[str, float, float]],
               n_nodes: int, ellps: str = "WGS84",
               stop_nodes: list[np.ndarray | None] | None = None) -> gpd.GeoDataFrame:
    """Fastest road route between each pair of consecutive stops (name, lon, lat), as lines.

    ``edges`` (lon/lat) carry u, v and ``minutes``; ``node_xy`` the lon/lat of every node id of the
    graph (NaN for ids that are not nodes of it). Each stop joins the graph at its nearest node, or at
    the nearest of ``stop_nodes[i]`` where given (e.g. a border checkpoint on the focus side)."""
    graph = graph_matrix(edges, n_nodes)
    # Each (u, v) pair's fastest edge, for drawing the route.
    key = pd.DataFrame({"a": np.minimum(edges["u"], edges["v"]),
                        "b": np.maximum(edges["u"], edges["v"]),
                        "m": edges["minutes"].to_numpy(), "i": np.arange(len(edges))})
    fastest = key.sort_values("m").drop_duplicates(["a", "b"]).set_index(["a", "b"])["i"]
    everywhere = np.flatnonzero(np.isfinite(node_xy[:, 0]))
    allowed = stop_nodes or [None] * len(stops)
    geod_ = __import__("pyproj").Geod(ellps=ellps)

    def nearest(i: int) -> int:
        ids = everywhere if allowed[i] is None else allowed[i]
        _, _, d = geod_.inv(np.full(len(ids), stops[i][1]), np.full(len(ids), stops[i][2]),
                            node_xy[ids, 0], node_xy[ids, 1])
        return int(ids[np.argmin(d)])

    rows = []
    for i, ((na, _, _), (nb, _, _)) in enumerate(zip(stops[:-1], stops[1:])):
        sa, sb = nearest(i), nearest(i + 1)
        dist, pred = dijkstra(graph, directed=False, indices=int(sa), return_predecessors=True)
        if not np.isfinite(dist[sb]):
            rows.append({"from_stop": na, "to_stop": nb, "minutes": np.nan, "from_access_km": np.nan,
                         "to_access_km": np.nan, "geometry": None})
            continue
        path = [int(sb)]
        while path[-1] != sa:
            path.append(int(pred[path[-1]]))
        path.reverse()
        parts = []
        for a, b in zip(path[:-1], path[1:]):
            g = edges.geometry.iloc[int(fastest.loc[(min(a, b), max(a, b))])]
            xy = shapely.get_coordinates(g)
            if np.hypot(*(xy[0] - node_xy[a])) > np.hypot(*(xy[-1] - node_xy[a])):
                xy = xy[::-1]  # orient the edge from a to b
            parts.append(xy if not parts else xy[1:])
        line = shapely.LineString(np.vstack(parts)) if parts else None
        rows.append({"from_stop": na, "to_stop": nb, "minutes": float(dist[sb]),
                     "from_access_km": geod_.inv(stops[i][1], stops[i][2], *node_xy[sa])[2] / 1000,
                     "to_access_km": geod_.inv(stops[i + 1][1], stops[i + 1][2], *node_xy[sb])[2] / 1000,
                     "geometry": line})
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
