"""`make data`'s downloader, against a local HTTP server on 127.0.0.1 serving a Natural Earth-like zip
and a geokz-like shapefile: fetch, checksum, clip to the bbox, column handling, atomic output."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
import yaml

from pipeline.config import load_config
from pipeline.download import download_sources
from pipeline.errors import DataError, DataMissingError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


def shapefile(path: Path) -> None:
    # One unit inside the bbox [40, 33, 95, 60], one straddling its eastern edge, one outside.
    gpd.GeoDataFrame({"ADM1_CODE": ["IN-1", "EDGE-1", "OUT-1"], "Name_EN": ["In", "Edge", "Out"]},
                     geometry=[shapely.box(50, 40, 52, 42), shapely.box(94, 40, 96, 42),
                               shapely.box(100, 40, 102, 42)], crs="EPSG:4326").to_file(path)


def configure(tmp_path: Path, base: str, sha: str | None) -> Path:
    layers = tmp_path / "layers"
    shutil.copytree(ROOT / "layers", layers)
    data = yaml.safe_load((layers / "sources.yaml").read_text())
    data["sources"] = {
        "admin1": {"file": "naturalearth/ne_test.gpkg", "url": f"{base}/ne_test.zip",
                   "member": "ne_test.shp", "lowercase_columns": True, "sha256": sha,
                   "title": "test zip", "licence": "public domain", "credit": "test"},
        "kz": {"file": "geokz/kz_test.gpkg", "url": f"{base}/kz/kz_test.shp", "columns": ["Name_EN"],
               "title": "test shp", "licence": "CC BY 4.0", "credit": "test"},
    }
    data["roles"] = {"regions": "admin1", "focus_regions_vintages": {}}
    (layers / "sources.yaml").write_text(yaml.safe_dump(data))
    return layers


@pytest.fixture
def served(server, tmp_path: Path) -> tuple[str, str]:
    base, www = server
    build = tmp_path / "build"
    build.mkdir()
    shapefile(build / "ne_test.shp")
    with zipfile.ZipFile(www / "ne_test.zip", "w") as z:
        for f in build.iterdir():
            z.write(f, f.name)
    (www / "kz").mkdir()
    shapefile(www / "kz" / "kz_test.shp")
    return base, hashlib.sha256((www / "ne_test.zip").read_bytes()).hexdigest()


def test_download_writes_the_data_pack_layout(served, tmp_path: Path) -> None:
    base, sha = served
    cfg = load_config(configure(tmp_path, base, sha), tmp_path / "data")
    download_sources(cfg, ["admin1", "kz"])
    ne = gpd.read_file(tmp_path / "data" / "naturalearth" / "ne_test.gpkg", layer="ne_test")
    assert list(ne.columns) == ["adm1_code", "name_en", "geometry"]  # lower-cased
    assert list(ne.adm1_code) == ["IN-1", "EDGE-1"]  # the unit outside the bbox is dropped
    assert ne.total_bounds.tolist() == [50.0, 40.0, 95.0, 42.0]  # clipped at 95°E
    assert set(ne.geom_type) == {"MultiPolygon"} and ne.crs.to_epsg() == 4326
    kz = gpd.read_file(tmp_path / "data" / "geokz" / "kz_test.gpkg", layer="kz_test")
    assert list(kz.columns) == ["Name_EN", "geometry"]  # reduced to `columns`, case kept


def test_checksum_mismatch_is_refused(served, tmp_path: Path) -> None:
    base, _ = served
    cfg = load_config(configure(tmp_path, base, "0" * 64), tmp_path / "data")
    with pytest.raises(DataError, match="does not match the pinned"):
        download_sources(cfg, ["admin1"])
    assert not (tmp_path / "data" / "naturalearth" / "ne_test.gpkg").exists()


def test_unreachable_file_is_a_clear_error(served, tmp_path: Path) -> None:
    base, _ = served
    cfg = load_config(configure(tmp_path, base + "/missing", None), tmp_path / "data")
    with pytest.raises(DataError, match="HTTP 404"):
        download_sources(cfg, ["admin1"])


def test_present_files_are_kept(served, tmp_path: Path) -> None:
    base, sha = served
    cfg = load_config(configure(tmp_path, base, sha), tmp_path / "data")
    download_sources(cfg, ["admin1"])
    target = tmp_path / "data" / "naturalearth" / "ne_test.gpkg"
    stamp = target.stat().st_mtime_ns
    download_sources(cfg, ["admin1"])
    assert target.stat().st_mtime_ns == stamp


def test_corrupt_zip_is_a_clear_error(served, server, tmp_path: Path) -> None:
    base, www = server
    (www / "ne_test.zip").write_bytes(b"PK\x03\x04 this is not a whole zip archive")
    cfg = load_config(configure(tmp_path, base, None), tmp_path / "data")
    with pytest.raises(DataError, match=r"ne_test\.zip: the downloaded file cannot be read as a zip") as exc:
        download_sources(cfg, ["admin1"])
    assert base in str(exc.value)  # names what was downloaded, not a temporary path
    assert not (tmp_path / "data" / "naturalearth" / "ne_test.gpkg").exists()


def test_a_download_with_nothing_in_the_study_area_is_refused_and_replaces_nothing(server, tmp_path: Path) -> None:
    base, www = server
    (www / "kz").mkdir()
    gpd.GeoDataFrame({"Name_EN": ["Far"]}, geometry=[shapely.box(100, 40, 102, 42)],   # east of 95°E
                     crs="EPSG:4326").to_file(www / "kz" / "kz_test.shp")
    cfg = load_config(configure(tmp_path, base, None), tmp_path / "data")
    target = tmp_path / "data" / "geokz" / "kz_test.gpkg"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"previous")
    with pytest.raises(DataError, match="no feature of kz inside the study area"):
        download_sources(cfg, ["kz"], force=True)
    assert target.read_bytes() == b"previous"


def test_worldpop_url_of_kazakhstan_is_the_canonical_one() -> None:
    from pipeline.config import load_population
    from pipeline.download import worldpop_url

    wp = load_population(ROOT / "layers").worldpop
    assert worldpop_url(wp.url, "KAZ", wp.year) == ("https://data.worldpop.org/GIS/Population/Global_2000_2020_1km/"
                                                    "2020/KAZ/kaz_ppp_2020_1km_Aggregated.tif")


def test_the_grid_countries_are_kazakhstan_then_its_neighbours(cfg) -> None:
    from pipeline.download import grid_countries

    codes = grid_countries(cfg)
    assert codes[0] == "KAZ"
    assert {"RUS", "CHN", "KGZ", "UZB", "TKM"} <= set(codes)
    assert "USA" not in codes and len(codes) == len(set(codes))


def test_worldpop_files_are_clipped_to_the_bbox_and_feed_the_population_surface(server, tmp_path: Path) -> None:
    """Two served country rasters (0.5° cells, one reaching beyond the bbox's eastern edge at 95°E): each is
    clipped to the bbox, keeps the people inside it, and the folder is read as one mosaic."""
    import numpy as np
    import rasterio
    from affine import Affine

    from pipeline.accessibility import make_grid
    from pipeline.download import download_worldpop
    from pipeline.population import raster_files, resample_sum

    base, www = server
    for iso3, x0 in (("AAA", 60.0), ("BBB", 90.0)):
        (www / iso3).mkdir()
        people = np.full((10, 20), 5.0, dtype="float32")   # 20 × 0.5° east of x0, 5° tall from 50°N
        with rasterio.open(www / iso3 / f"{iso3.lower()}.tif", "w", driver="GTiff", width=20, height=10, count=1,
                           dtype="float32", crs="EPSG:4326", transform=Affine(0.5, 0, x0, 0, -0.5, 50.0),
                           nodata=-99999) as dst:
            dst.write(people, 1)
    layers = tmp_path / "layers"
    shutil.copytree(ROOT / "layers", layers)
    conf = yaml.safe_load((layers / "population.yaml").read_text())
    conf["population"]["worldpop"] = {"year": 2020, "folder": "wp", "url": f"{base}/{{ISO3}}/{{iso3}}.tif"}
    (layers / "population.yaml").write_text(yaml.safe_dump(conf))
    cfg = load_config(layers, tmp_path / "data")
    files = download_worldpop(cfg, countries=["AAA", "BBB"])
    assert [f.name for f in files] == ["aaa.tif", "bbb.tif"]
    with rasterio.open(files[1]) as src:   # 90–100°E clipped at 95°E: 10 of 20 columns
        assert (src.width, src.height) == (10, 10) and src.bounds.right == 95.0
        assert float(src.read(1, masked=True).sum()) == 500.0
    assert raster_files(cfg.data_dir, "wp") == files
    grid = make_grid((-3_000_000.0, -2_000_000.0, 3_000_000.0, 2_000_000.0), 50_000.0,
                     "+proj=aea +lat_0=47 +lon_0=67 +lat_1=42 +lat_2=52 +datum=WGS84 +units=m +no_defs")
    total = sum(resample_sum(f, grid) for f in files).sum()
    assert total == pytest.approx(1000.0 + 500.0, rel=1e-3)
    with pytest.raises(DataMissingError, match="make data-worldpop"):
        raster_files(cfg.data_dir, ["wp/aaa.tif", "nope"])


def test_a_country_without_a_worldpop_file_is_skipped_with_a_warning(server, tmp_path: Path, caplog) -> None:
    from pipeline.download import download_worldpop

    base, _ = server
    layers = tmp_path / "layers"
    shutil.copytree(ROOT / "layers", layers)
    conf = yaml.safe_load((layers / "population.yaml").read_text())
    conf["population"]["worldpop"] = {"year": 2020, "folder": "wp", "url": f"{base}/{{ISO3}}/{{iso3}}.tif"}
    (layers / "population.yaml").write_text(yaml.safe_dump(conf))
    assert download_worldpop(load_config(layers, tmp_path / "data"), countries=["KAB"]) == []
    assert "KAB: WorldPop has no file" in caplog.text


def test_check_data_reports_every_truncated_or_random_source_and_exits_non_zero(cfg, tmp_path: Path, capsys) -> None:
    from pipeline.cli import main

    data = tmp_path / "data"
    for src in cfg.sources.values():
        (data / src.file).parent.mkdir(parents=True, exist_ok=True)
        (data / src.file).symlink_to(cfg.data_dir / src.file)
    roads, geokz = cfg.sources["roads"].file, cfg.sources["kz_adm1_2024"].file
    (data / roads).unlink()
    (data / roads).write_bytes((cfg.data_dir / roads).read_bytes()[:4096])            # truncated
    (data / geokz).unlink()
    (data / geokz).write_bytes(bytes(range(256)) * 64)                                  # random bytes
    code = main(["--data-dir", str(data), "check-data"])
    out = capsys.readouterr()
    text = (out.out + out.err).replace("\n", "")   # the console folds long lines
    assert code != 0 and "Traceback" not in text
    assert f"bad      {data / roads}" in text and f"bad      {data / geokz}" in text
    assert "2 source file(s) unreadable" in text
    assert "damaged or truncated" in text and "not a GeoPackage" in text and "sqlite" not in text.lower()
    assert text.count("ok       ") == len(cfg.sources) - 2
