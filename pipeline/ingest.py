"""Stage 1, ingest: clean, valid boundary layers.

Reads (from the data directory, see ``layers/sources.yaml``):
  * Natural Earth 1:10m admin-1 (``roles.regions``): regions of every country in the study area;
  * each further admin-1 vintage of the focus country (``roles.focus_regions_vintages``; geokz 2024).
Writes ``outputs/stages/ingest.gpkg`` with layers
  * ``regions``: admin-1 of all countries, normalised columns (below), EPSG:4326;
  * ``countries``: the dissolve of ``regions`` by sovereignty, so dependencies such as Baikonur
    ('KAB', sovereign Kazakhstan) are part of their country and admin-0 and admin-1 share edges exactly;
  * ``regions_<vintage>``: the focus country's regions in each further vintage.

Invalid geometries are repaired with ``make_valid`` (their polygonal part kept) and counted.
Region keys are ISO 3166-2 codes with the source's own unit code as tie-breaker (Natural Earth gives
Almaty City and Almaty oblast the same 'KZ-ALA'); English names are never used as keys.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from .errors import DataError
from .geodesy import area_km2
from .topology import repair

log = logging.getLogger("pipeline")

ADMIN1_COLUMNS = ("adm1_code", "iso_3166_2", "name", "name_en", "name_ru", "type_en",
                  "sov_a3", "adm0_a3", "admin")
GEOKZ_COLUMNS = ("ISO_3166_2", "KATO", "ADM1_EN", "ADM1_KK", "ADM1_RU")

REGION_FIELDS = ["region_id", "iso_3166_2", "unit_code", "name_en", "name_local", "name_ru",
                 "type_en", "country", "adm0_a3", "vintage", "area_km2"]


@dataclass
class Cleaned:
    gdf: gpd.GeoDataFrame
    repaired: int
    dropped_empty: int


def clean(gdf: gpd.GeoDataFrame, name: str) -> Cleaned:
    """Drop empty geometries and repair invalid ones; log what was done."""
    empty = gdf.geometry.isna() | gdf.geometry.is_empty
    gdf = gdf.loc[~empty].copy()
    geoms, n = repair(gdf.geometry.values)
    gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    still_empty = gdf.geometry.is_empty
    gdf = gdf.loc[~still_empty]
    log.info("%s: %d features, %d invalid geometr%s repaired, %d empty dropped", name, len(gdf), n,
             "y" if n == 1 else "ies", int(empty.sum() + still_empty.sum()))
    return Cleaned(gdf, n, int(empty.sum() + still_empty.sum()))


def sovereignties(admin1: gpd.GeoDataFrame) -> pd.DataFrame:
    """Map each Natural Earth sovereignty code (sov_a3, e.g. 'KA1', 'CH1') to an ISO alpha-3 code
    and a name: those of the sovereignty's largest unit, so 'KA1' → 'KAZ' Kazakhstan (not Baikonur's
    'KAB') and 'CH1' → 'CHN' China. Derived from the data, not listed by hand.
    """
    frame = pd.DataFrame({"sov_a3": admin1["sov_a3"].values, "country": admin1["adm0_a3"].values,
                          "name": admin1["admin"].values, "area": area_km2(admin1.geometry.values)})
    per_unit = frame.groupby(["sov_a3", "country", "name"], sort=True)["area"].sum().reset_index()
    best = per_unit.sort_values(["sov_a3", "area"], ascending=[True, False]).drop_duplicates("sov_a3")
    return best.set_index("sov_a3")[["country", "name"]]


def regions_from_admin1(admin1: gpd.GeoDataFrame, fixes: dict[str, dict[str, str]],
                        vintage: str = "naturalearth") -> gpd.GeoDataFrame:
    """Normalise Natural Earth admin-1 into the pipeline's region schema.

    ``fixes`` maps adm1_code to corrected ``name_en`` / ``iso_3166_2`` (``layers/region_fixes.yaml``).
    """
    codes = sovereignties(admin1)["country"]
    unit = admin1["adm1_code"].astype(str)
    name_en = admin1["name_en"].where(admin1["name_en"].notna(), admin1["name"]).astype(str)
    iso = admin1["iso_3166_2"].astype(str)
    for field, series in (("name_en", name_en), ("iso_3166_2", iso)):
        fix = unit.map({c: f[field] for c, f in fixes.items() if field in f})
        for code, old, new in zip(unit[fix.notna()], series[fix.notna()], fix.dropna()):
            log.info("regions: %s %s %r → %r (layers/region_fixes.yaml)", code, field, old, new)
        series.update(fix.dropna())
    out = gpd.GeoDataFrame({
        "region_id": iso + "|" + unit,
        "iso_3166_2": iso,
        "unit_code": unit,
        "name_en": name_en,
        "name_local": admin1["name"].astype(str),
        "name_ru": admin1["name_ru"].astype(str),
        "type_en": admin1["type_en"].fillna("").astype(str),
        "country": admin1["sov_a3"].map(codes).astype(str),
        "adm0_a3": admin1["adm0_a3"].astype(str),
        "vintage": vintage,
    }, geometry=admin1.geometry.values, crs=admin1.crs)
    out["area_km2"] = area_km2(out.geometry.values)
    return out.sort_values(["country", "iso_3166_2", "unit_code"]).reset_index(drop=True)[
        REGION_FIELDS + ["geometry"]]


def countries_from_regions(regions: gpd.GeoDataFrame, names: pd.Series) -> gpd.GeoDataFrame:
    """Dissolve regions by country; ``names`` maps country code to name (see :func:`sovereignties`)."""
    dissolved = regions[["country", "adm0_a3", "geometry"]].dissolve(
        "country", aggfunc={"adm0_a3": lambda s: ",".join(sorted(set(s)))})
    dissolved = dissolved.rename(columns={"adm0_a3": "units"})
    dissolved["n_regions"] = regions.groupby("country").size()
    dissolved["name"] = names.reindex(dissolved.index).values
    dissolved["area_km2"] = area_km2(dissolved.geometry.values)
    out = dissolved.reset_index()[["country", "name", "units", "n_regions", "area_km2", "geometry"]]
    return out.sort_values("country").reset_index(drop=True)


def regions_from_geokz(gdf: gpd.GeoDataFrame, country: str, vintage: str) -> gpd.GeoDataFrame:
    """Normalise a geokz admin-1 layer into the region schema (key: ISO 3166-2, tie-break: KATO)."""
    out = gpd.GeoDataFrame({
        "region_id": gdf["ISO_3166_2"].astype(str) + "|" + gdf["KATO"].astype(str),
        "iso_3166_2": gdf["ISO_3166_2"].astype(str),
        "unit_code": gdf["KATO"].astype(str),
        "name_en": gdf["ADM1_EN"].astype(str),
        "name_local": gdf["ADM1_KK"].astype(str),
        "name_ru": gdf["ADM1_RU"].astype(str),
        "type_en": np.where(gdf["ADM1_EN"].str.contains("(city)", regex=False), "City", "Region"),
        "country": country,
        "adm0_a3": country,
        "vintage": vintage,
    }, geometry=gdf.geometry.values, crs=gdf.crs)
    out["area_km2"] = area_km2(out.geometry.values)
    return out.sort_values(["iso_3166_2", "unit_code"]).reset_index(drop=True)[
        REGION_FIELDS + ["geometry"]]


def check_keys(regions: gpd.GeoDataFrame, source: str) -> None:
    """Region keys (``region_id`` = ISO 3166-2|unit code) must be unique: a duplicate would take another
    region's corrections and statistics. One :class:`DataError` lists every duplicate.

    Parameters
    ----------
    regions
        Normalised regions.
    source
        The file, for the message.
    """
    dup = regions[regions["region_id"].duplicated(keep=False)]
    if len(dup):
        listed = "; ".join(f"{k} ({', '.join(g['name_en'])})" for k, g in dup.groupby("region_id"))
        raise DataError(f"{source}: {dup['region_id'].nunique()} region key(s) used twice (ISO 3166-2|unit code): "
                        f"{listed}. Give each region its own code (layers/region_fixes.yaml corrects attributes).")


def check_focus(countries: gpd.GeoDataFrame, focus: str, source: str) -> None:
    if focus not in set(countries["country"]):
        raise DataError(
            f"focus country '{focus}' (layers/study.yaml: study.focus_country) is not in {source}; "
            f"countries there: {', '.join(sorted(countries['country']))}"
        )


DESCRIPTIONS = {
    "countries": "Countries of the study area: dissolve of Natural Earth admin-1 by sovereignty "
                 "(Baikonur is part of Kazakhstan). area_km2 geodesic.",
    "regions": "Admin-1 regions of every country (Natural Earth 1:10m; Kazakhstan pre-2022). "
               "Key: region_id = ISO 3166-2|unit code.",
    "regions_geokz_2024": "Kazakhstan admin-1 regions after the 2022 reform (geokz, A. Rodionov, CC BY 4.0).",
}


def run(cfg, out) -> None:
    """Read the admin-1 sources of ``cfg`` and write the ingest GeoPackage ``out``.

    Parameters
    ----------
    cfg : Config
        The run's configuration (sources, fixes, focus country).
    out : Path
        ``stages/ingest.gpkg``: layers ``regions``, ``countries``, ``regions_<vintage>``.
    """
    from .io import read_layer, to_crs
    from .outputs import write_stage

    src = cfg.source(cfg.regions_source)
    path = cfg.source_path(cfg.regions_source)
    admin1 = clean(to_crs(read_layer(path, src.layer, required=ADMIN1_COLUMNS), cfg.output_crs, src.file),
                   src.file).gdf
    if admin1.empty:
        raise DataError(f"{path} (layer {src.layer}): has no regions with a geometry (an empty admin-1 layer); "
                        "download it again with `make data`")
    regions = regions_from_admin1(admin1, cfg.region_fixes)
    check_keys(regions, str(path))
    countries = countries_from_regions(regions, sovereignties(admin1).set_index("country")["name"])
    check_focus(countries, cfg.focus_country, str(path))
    layers = {"regions": regions, "countries": countries}
    for vintage, key in cfg.vintages.items():
        vsrc = cfg.source(key)
        raw = to_crs(read_layer(cfg.source_path(key), vsrc.layer, required=GEOKZ_COLUMNS), cfg.output_crs,
                     vsrc.file)
        layers[f"regions_{vintage}"] = regions_from_geokz(clean(raw, vsrc.file).gdf, cfg.focus_country, vintage)
        check_keys(layers[f"regions_{vintage}"], str(cfg.source_path(key)))
    write_stage(cfg, out, layers, DESCRIPTIONS)
