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
from pipeline.errors import DataError

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
