"""Stage 6a, publish: ``borders.gpkg``, ``REPORT.md`` and the QGIS project.

Reads the stage files of stages 1–2 (``stages/ingest.gpkg``, ``borders.gpkg``, ``zones.gpkg``,
``border_regions.gpkg``) and, in a full run, ``accessibility.gpkg``, ``influence.gpkg``,
``economy.gpkg``, the crossings and the GeoTIFFs of ``rasters/``; ``layers/official_borders.yaml``
(through the core configuration), ``layers/influence.yaml`` and ``layers/economy.yaml``.
Writes
  * ``borders.gpkg`` (EPSG:4326): ``countries``, ``regions``, ``regions_<vintage>``,
    ``border_segments``, ``zones``, ``border_regions``, styled for QGIS;
  * ``REPORT.md``: every figure regenerated from the layers (no run date: reproducible);
  * ``border_regions.qgs``: every layer and raster grouped by stage, styled, relative paths, in the
    equal-area CRS of ``layers/study.yaml``; filtered views of the catchments (per tier set and
    scenario), beyond-influence (per tier set), economy and trade (the maps' years); a map theme and an
    A4 print layout per publication map; every layer's metadata (title, abstract, licence, credit); each
    GeoTIFF gets sidecars ``.qml`` (style) and ``.qmd`` (metadata).
"""

from __future__ import annotations

import os
from pathlib import Path

from .config import Config
from .paths import Paths


def descriptions() -> dict[str, str]:
    """Layer descriptions of the boundary stages, reused for ``borders.gpkg``."""
    from . import border_regions, borders, ingest, zones

    return {**ingest.DESCRIPTIONS, **borders.DESCRIPTIONS, **zones.DESCRIPTIONS, **border_regions.DESCRIPTIONS}


def write_project(cfg: Config, project: Path, borders: Path, stages: Paths, rasters: Path,
                  economy: Path | None = None) -> None:
    """Write the QGIS project and the rasters' sidecar styles; paths relative to the project.

    Parameters
    ----------
    cfg
        The run's configuration (equal-area CRS, belt distances, study name).
    project
        The ``.qgs`` file to write.
    borders
        ``borders.gpkg``.
    stages
        Where ``accessibility.gpkg``, ``influence.gpkg`` and the crossings are.
    rasters
        The GeoTIFF folder.
    economy
        ``economy.gpkg``, when the economy stage ran.
    """
    from .io import pending_or_current, write_text
    from .qgis_project import build_project, geotiff_tags, qmd, raster_metadata, raster_qml
    from .styles import styles_for

    base = project.parent.resolve()

    def rel(p: Path) -> str:
        return Path(os.path.relpath(p.resolve(), base)).as_posix()

    # not hidden files: a killed stage's temporaries (.name.xxxxxxxx.tif) are no outputs
    tifs = sorted(rasters.glob("[!.]*.tif")) if rasters.is_dir() else []
    for tif in tifs:
        write_text(tif.with_suffix(".qml"), raster_qml(tif.stem))
        write_text(tif.with_suffix(".qmd"), qmd(raster_metadata(geotiff_tags(tif), tif.stem), cfg.equal_area_crs))
    # A readable default: base, belts, segments, crossings and labelled poles; the rest present but off.
    shown = {"poles", "border_segments", "zones", "countries", "crossings"}

    def raster(stem: str) -> tuple[str, str, bool]:
        return (rel(rasters / f"{stem}.tif"), "", stem in shown)

    influence, access = stages.influence, stages.accessibility
    from .config import load_influence
    from .styles import INFLUENCE_MAPS, economy_map_year

    conf = load_influence(cfg.layers_dir)
    scen = conf.beyond.scenario

    def catchments(tier_set: str, scenario: str) -> tuple:
        return (rel(influence), "catchments", False, f"\"tier_set\" = '{tier_set}' AND \"scenario\" = '{scenario}'",
                f"catchments: {tier_set}, {scenario}")

    def beyond(tier_set: str) -> tuple:
        return (rel(influence), "beyond_influence", False, f"\"tier_set\" = '{tier_set}'",
                f"beyond {conf.beyond.hours:g} h: {tier_set}")

    years = {}
    if economy is not None and pending_or_current(economy).exists():
        from .io import read_layer

        years["grp"] = economy_map_year(read_layer(pending_or_current(economy), "region_stats"))
        years["trade"] = int(read_layer(pending_or_current(economy), "trade_by_partner")["year"].max())
    groups = {
        "Poles and crossings": [(rel(influence), "poles", True), (rel(stages.crossings), "crossings", True)],
        "Growth poles and influence": [
            (rel(influence), n, n in shown)
            for n in ("axes", "axis_corridors", "edge_effect", "huff_dominant", "huff_variants",
                      "region_beyond", "cross_border_influence")] + [raster("huff_probability")],
        # One filtered view per tier set and scenario (all 177 catchments together overlap).
        "Catchments (tier set, scenario)": [catchments(t, sc) for t in conf.tier_sets for sc in conf.scenarios],
        f"Beyond {conf.beyond.hours:g} h of every pole ({scen})": [beyond(t) for t in conf.tier_sets],
        "Border zones": [(rel(borders), n, n in shown) for n in
                         ("border_segments", "border_regions", "zones", "regions_geokz_2024", "regions")],
        "Accessibility": [(rel(access), n, False) for n in ("isochrones", "zone_access", "region_access")]
        + [raster(s) for s in ("access_current", "access_open", "access_closed", "barrier_current",
                               "barrier_closed")],
        "Economy": ([(rel(economy), "region_stats", False, f"\"vintage\" = 'naturalearth' AND \"year\" = {years['grp']}",
                      f"region_stats {years['grp']}")] if years else [])
        + ([(rel(economy), "trade_by_neighbour", False, f"\"year\" = {years['trade']}",
             f"trade_by_neighbour {years['trade']}")] if years else [])
        + ([(rel(economy), n, False) for n in ("region_stats", "border_economy", "trade_by_neighbour")]
           if economy is not None else []),
        "People": [(rel(stages.population), n, False) for n in ("district_typology", "belt_population",
                                                                 "access_by_people")]
        + [(rel(stages.people_influence), "people_across", False)]
        + [raster("population"), raster("person_hours_lost_current")],
        "Base": [(rel(borders), "countries", True)],
    }
    groups = {g: [m for m in ms if pending_or_current(base / m[0]).exists()] for g, ms in groups.items()}
    groups = {g: ms for g, ms in groups.items() if ms}
    from .io import read_layer

    countries = read_layer(pending_or_current(borders), "countries")
    focus = countries[countries["country"] == cfg.focus_country].to_crs(cfg.equal_area_crs)
    minx, miny, maxx, maxy = focus.total_bounds
    pad = 0.06 * max(maxx - minx, maxy - miny)  # the view of the publication maps
    credit = (f"{cfg.equal_area_crs.name}. Data: Natural Earth (public domain); geokz, A. Rodionov (CC BY 4.0); "
              "GeoNames (CC BY 4.0); crossing delays: ADB CAREC CPMM 2022. Computed by border-pipeline.")
    from .qgis_project import layer_id

    inf, bor = rel(influence), rel(borders)
    poles, base_ = layer_id(inf, "poles"), layer_id(bor, "countries")
    xings, segs = layer_id(rel(stages.crossings), "crossings"), layer_id(bor, "border_segments")
    themes = {
        "zones": ("Cross-border belts and border regions", [poles, xings, segs, layer_id(bor, "border_regions"),
                                                            layer_id(bor, "zones"), base_]),
        "travel_time": (f"Travel time to the nearest growth pole ({scen} border delays)", [
            poles, layer_id(rel(rasters / "access_current.tif")), base_]),
        "barrier": ("Barrier effect of the borders: hours lost against open borders", [
            poles, xings, segs, layer_id(rel(rasters / "barrier_current.tif")), base_]),
        **{name: (f"Catchments of the poles of tier set '{t}', {scen} border delays",
                  [poles, layer_id(inf, "catchments", catchments(t, scen)[4]),
                   layer_id(inf, "beyond_influence", beyond(t)[4]), base_])
           for name, t in INFLUENCE_MAPS.items() if t in conf.tier_sets},
        "axes": ("Development axes by road and by rail", [poles, layer_id(inf, "axes"), layer_id(inf, "axis_corridors"),
                                                         base_]),
        "population": ("People per km²", [poles, segs, layer_id(rel(rasters / "population.tif")), base_]),
        "barrier_people": ("Barrier effect weighted by people: person-hours lost per km²",
                           [poles, xings, layer_id(rel(rasters / "person_hours_lost_current.tif")), base_]),
    }
    if years:
        themes["economy"] = (f"Gross regional product per capita, {years['grp']} (USD)",
                             [poles, layer_id(rel(economy), "region_stats", f"region_stats {years['grp']}"), base_])
        themes["trade"] = (f"Trade with each neighbour, {years['trade']} (million USD)",
                           [layer_id(rel(economy), "trade_by_neighbour", f"trade_by_neighbour {years['trade']}"),
                            base_])
    xml = build_project(base, groups, styles_for(cfg.distances_km), cfg.equal_area_crs,
                        f"{cfg.name}: border regions", extent=(minx - pad, miny - pad, maxx + pad, maxy + pad),
                        credit=credit, themes=themes)
    write_text(project, xml)


def run(cfg: Config, stages: Paths, out: Path, report: Path, *, full: bool, project: Path | None,
        rasters: Path) -> None:
    """Assemble ``borders.gpkg``, render ``REPORT.md`` and (in a full run) write the QGIS project.

    Parameters
    ----------
    cfg
        The run's configuration.
    stages
        Where the stage files and the accessibility, influence and economy GeoPackages are.
    out
        ``borders.gpkg``.
    report
        ``REPORT.md``.
    full
        Whether the network, accessibility, influence and economy stages ran (else the border study only).
    project
        The QGIS project to write (full runs).
    rasters
        The GeoTIFF folder.
    """
    from .io import read_layer, write_text
    from .outputs import provenance, write_stage
    from .report import accessibility_section, influence_section, render_report

    ing = stages.ingest
    layers = {
        "countries": read_layer(ing, "countries"),
        "regions": read_layer(ing, "regions"),
        **{f"regions_{v}": read_layer(ing, f"regions_{v}") for v in cfg.vintages},
        "border_segments": read_layer(stages.borders, "border_segments"),
        "zones": read_layer(stages.zones, "zones"),
        "border_regions": read_layer(stages.border_regions, "border_regions"),
    }
    write_stage(cfg, out, layers, descriptions())
    text = render_report(
        study=cfg.name, focus=cfg.focus_country, countries=layers["countries"],
        segments=layers["border_segments"], zones=layers["zones"], br=layers["border_regions"],
        distances=cfg.distances_km, official=cfg.official,
        vintages=["naturalearth", *cfg.vintages], provenance=provenance(cfg),
        tolerance=read_layer(stages.border_regions, "tolerance_sensitivity"), tolerance_km=cfg.tolerance_km)
    sections = []
    if full:
        from .config import load_influence

        sections.append(accessibility_section(read_layer(stages.accessibility, "zone_access"),
                                              read_layer(stages.accessibility, "region_access"),
                                              read_layer(stages.crossings, "crossings"), cfg.distances_km[0]))
        conf = load_influence(cfg.layers_dir)
        names = ("catchments", "beyond_influence", "region_beyond", "cross_border_influence", "axes",
                 "huff_variants", "huff_changes", "poles", "sensitivity", "edge_effect")
        sections.append(influence_section({n: read_layer(stages.influence, n) for n in names},
                                          scenario=conf.beyond.scenario, tier_set=conf.cross_border.tier_set,
                                          beyond_hours=conf.beyond.hours, distance=cfg.distances_km[0],
                                          max_access_km=conf.axes.max_access_km))
        if stages.economy.is_file():
            from .economy import report_section

            sections.append(report_section(cfg, stages.economy))
        if stages.population.is_file():
            from .population_report import render

            sections.append(render(cfg, stages.population, stages.people_influence))
    for section in sections:
        text = text.replace("## Provenance", section + "\n## Provenance")
    write_text(report, text)
    if full and project is not None:
        write_project(cfg, project, out, stages, rasters,
                      stages.economy if stages.economy.is_file() else None)
