"""Shared fixtures. Real-data tests read the data pack from $PIPELINE_DATA_DIR, else ../shared/data
beside the checkout; if neither has it they fail (not skip) with a message saying how to provide it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import geopandas as gpd
import pytest

from pipeline.border_regions import border_regions
from pipeline.borders import border_segments
from pipeline.config import DATA_DIR_ENV, Config, load_config
from pipeline.ingest import (clean, countries_from_regions, regions_from_admin1, regions_from_geokz,
                             sovereignties)
from pipeline.io import read_layer
from pipeline.zones import cross_border_zones

ROOT = Path(__file__).resolve().parents[1]

# The tests run `make` as a user would, at the top level. Under `make test` the outer make's variables
# would reach them: its job server, whose descriptors their subprocesses do not inherit (make would
# fall back to one job with a warning), and MAKELEVEL (the Makefile's default -j is for the top level).
for _var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
    os.environ.pop(_var, None)


def _data_dir() -> Path:
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else ROOT.parent / "shared" / "data"


@pytest.fixture
def layers(tmp_path: Path) -> Path:
    """A copy of layers/ that a test may edit."""
    dst = tmp_path / "layers"
    shutil.copytree(ROOT / "layers", dst)
    return dst


@pytest.fixture(scope="session")
def cfg() -> Config:
    data = _data_dir()
    if not (data / "naturalearth" / "ne_10m_admin_1_states_provinces.gpkg").is_file():
        pytest.fail(f"data pack not found in {data}: set {DATA_DIR_ENV} (or DATA_DIR for make test) "
                    "to a directory with the sources, or run `make data`")
    return load_config(ROOT / "layers", data)


@pytest.fixture(scope="session")
def real(cfg: Config) -> dict[str, gpd.GeoDataFrame]:
    """Every layer of the border-zones slice computed on the data pack, in memory."""
    src = cfg.source(cfg.regions_source)
    admin1 = clean(read_layer(cfg.source_path(cfg.regions_source), src.layer), "admin1").gdf
    regions = regions_from_admin1(admin1, cfg.region_fixes)
    countries = countries_from_regions(regions, sovereignties(admin1).set_index("country")["name"])
    geokz = regions_from_geokz(read_layer(cfg.source_path("kz_adm1_2024")), cfg.focus_country,
                               "geokz_2024")
    segments = border_segments(countries, cfg.focus_country, cfg.seas)
    zones = cross_border_zones(segments, countries, cfg.distances_km)
    kw = dict(tolerance_km=cfg.tolerance_km, min_shared_km=cfg.min_shared_km,
              min_zone_share=cfg.min_zone_share, equal_area_crs=cfg.equal_area_crs)
    br = gpd.pd.concat([border_regions(regions, segments, zones, cfg.distances_km, **kw),
                        border_regions(geokz, segments, zones, cfg.distances_km, **kw)],
                       ignore_index=True)
    return {"admin1": admin1, "regions": regions, "countries": countries, "geokz": geokz,
            "segments": segments, "zones": zones, "border_regions": br}
