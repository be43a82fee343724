"""`make all` builds every output and a second run does nothing (targets are real files)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    if not shutil.which("make"):
        pytest.fail("GNU make is required")
    tmp = tmp_path_factory.mktemp("make")
    shutil.copy(ROOT / "Makefile", tmp / "Makefile")
    shutil.copytree(ROOT / "layers", tmp / "layers")
    # Without the bytecode, with numba's cache of the compiled kernels (valid: copy2 keeps the sources' times).
    shutil.copytree(ROOT / "pipeline", tmp / "pipeline", ignore=shutil.ignore_patterns("*.pyc"))
    return tmp


def make(tree: Path, cfg, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", f"PYTHON={sys.executable}", f"DATA_DIR={cfg.data_dir}", *args],
                          cwd=tree, capture_output=True, text=True, timeout=600)


def test_make_all_then_nothing_to_do(tree: Path, cfg) -> None:
    first = make(tree, cfg, "all")
    assert first.returncode == 0, first.stderr
    for f in ("outputs/borders.gpkg", "outputs/REPORT.md", "outputs/stages/zones.gpkg"):
        assert (tree / f).is_file(), f
    assert make(tree, cfg, "-q", "all").returncode == 0  # -q: exit 0 only if everything is up to date
    check_outputs(tree)
    second = make(tree, cfg, "all")
    assert "warm_client.py" not in second.stdout


def test_touching_a_stage_reruns_only_what_depends_on_it(tree: Path, cfg) -> None:
    assert make(tree, cfg, "all").returncode == 0
    (tree / "pipeline" / "report.py").touch()
    out = make(tree, cfg, "all").stdout
    assert "warm_client.py publish" in out
    for stage in ("ingest", "borders", "zones", "border-regions", "network", "crossings", "link", "accessibility",
                  "influence"):
        assert f"warm_client.py {stage} " not in out, stage


def test_the_links_read_from_the_link_stage_are_those_linking_again_gives(tree: Path, cfg, tmp_path: Path) -> None:
    from pipeline.accessibility import prepare
    from pipeline.errors import DataMissingError
    from pipeline.link import load_prepared, read_linked, write_arrays
    from pipeline.paths import Paths

    assert make(tree, cfg, "all").returncode == 0
    paths = Paths(out=tree / "outputs")
    read, fresh = load_prepared(cfg, paths), prepare(cfg, paths)
    for name in ("rows", "cols", "label", "point", "leg_min", "pole", "pole_min", "raster"):
        np.testing.assert_array_equal(getattr(read.lk.cells, name), getattr(fresh.lk.cells, name), err_msg=name)
    for a, b in zip((*read.lk.links, read.lk.pts.xy, read.lk.pts.edge, read.lk.pts.frac, read.lk.poles_ea,
                     read.lk.pole_label),
                    (*fresh.lk.links, fresh.lk.pts.xy, fresh.lk.pts.edge, fresh.lk.pts.frac, fresh.lk.poles_ea,
                     fresh.lk.pole_label)):
        np.testing.assert_array_equal(a, b)
    assert read.lk.n_nodes == fresh.lk.n_nodes and read.grid == fresh.grid
    pd.testing.assert_frame_equal(read.poles.drop(columns="geometry"), fresh.poles.drop(columns="geometry"),
                                  check_dtype=False)
    assert read.poles.geometry.geom_equals(fresh.poles.geometry).all() and read.poles.crs == fresh.poles.crs
    # A file made for another off-network speed (or grid, or network) is refused, not used.
    other = read_linked(paths.linked) | {"off_kmh": np.array(7.0)}
    elsewhere = Paths(out=tmp_path, stages_dir=tmp_path)
    for name in ("crossings.gpkg", "ingest.gpkg"):
        (tmp_path / name).symlink_to(paths.stages / name)
    write_arrays(elsewhere.linked, other)
    with pytest.raises(DataMissingError, match="run the link stage again"):
        load_prepared(cfg, elsewhere)
    with pytest.raises(DataMissingError, match="run the link stage first"):
        load_prepared(cfg, Paths(out=tmp_path / "none"))


def test_the_catchment_rasters_hold_the_cells_of_the_published_polygons_and_their_area(tree: Path, cfg) -> None:
    """people-influence sums people over stages/catchment_poles.tif instead of burning influence.gpkg's
    catchments: the two are the same cells, and each polygon's geodesic area is its cells' (1 km² each)."""
    import rasterio

    from pipeline.rasters import burn

    assert make(tree, cfg, "all").returncode == 0
    catchments = gpd.read_file(tree / "outputs" / "influence.gpkg", layer="catchments")
    with rasterio.open(tree / "outputs" / "stages" / "catchment_poles.tif") as src:
        tags, crs, transform = src.tags(), src.crs, src.transform
        bands = {tags[f"band_{i}"]: src.read(i) for i in range(1, src.count + 1)}
    assert len(bands) == catchments.groupby(["tier_set", "scenario"]).ngroups == 9   # 3 tier sets × 3 scenarios
    for name, poles in bands.items():
        tier_set, scenario = name.split("|")
        c = catchments[(catchments["tier_set"] == tier_set) & (catchments["scenario"] == scenario)]
        burnt = burn(zip(c.to_crs(crs).geometry.values, c["pole_id"]), out_shape=poles.shape, transform=transform,
                     fill=-1, dtype="int32")
        np.testing.assert_array_equal(burnt, poles, err_msg=name)
        cells = np.bincount(poles[poles >= 0])[c["pole_id"].to_numpy()] * abs(transform.a * transform.e) / 1e6
        np.testing.assert_allclose(c["area_km2"], cells, rtol=1e-5, err_msg=name)


def test_new_data_dir_rebuilds(tree: Path, cfg, tmp_path: Path) -> None:
    assert make(tree, cfg, "all").returncode == 0
    res = subprocess.run(["make", f"PYTHON={sys.executable}", f"DATA_DIR={tmp_path}", "all"],
                         cwd=tree, capture_output=True, text=True, timeout=600)
    assert res.returncode != 0
    # The sources are missing: `make all` first downloads them (make data); offline, that fails saying so.
    assert "warm_client.py download" in res.stdout
    assert "is this machine online?" in res.stderr and "DATA_DIR" in res.stderr and "Traceback" not in res.stderr
    assert (tree / "outputs" / "borders.gpkg").is_file()  # the previous output is untouched


def check_outputs(tree: Path) -> None:
    """What `make all` built on the data pack: every layer valid with a CRS; the influence figures."""
    import geopandas as gpd
    import numpy as np
    import pyogrio
    import rasterio

    for gpkg in ("borders", "accessibility", "influence", "economy"):
        path = tree / "outputs" / f"{gpkg}.gpkg"
        for layer, geom_type in pyogrio.list_layers(path):
            if geom_type is None:  # QGIS styles and statistics tables: attribute tables
                assert pyogrio.read_info(path, layer=layer)["features"] > 0, (gpkg, layer)
                continue
            info = pyogrio.read_info(path, layer=layer)
            assert info["crs"] == "EPSG:4326" and info["features"] > 0, (gpkg, layer)
    inf = tree / "outputs" / "influence.gpkg"
    axes = gpd.read_file(inf, layer="axes")
    assert np.isfinite(axes["minutes"]).all() and (axes["length_km"] > 0).all()
    assert set(axes["axis"]) == {"northern", "southern", "central"} and set(axes["mode"]) == {"road", "rail"}
    road = axes[axes["mode"] == "road"]
    assert (road["from_access_km"] < 25).all() and (road["to_access_km"] < 25).all()
    # Every leg between two Kazakh stops has a route with under 1 km abroad (here: by road, all of them).
    assert (road.loc[road["route"] == "domestic", "outside_km"] < 1).all()
    # Astana–Karaganda (~210 km by road): about 3.5 h at the configured speeds.
    ak = road[(road.from_stop == "Astana") & (road.to_stop == "Karaganda")].iloc[0]
    assert 180 < ak.length_km < 260 and 2.5 < ak.minutes / 60 < 5
    # The Shetpe gap of the Natural Earth roads is bridged: Atyrau → Aktau by road stays in Kazakhstan.
    aa = road[(road.from_stop == "Atyrau") & (road.to_stop == "Aktau")].iloc[0]
    assert aa.minutes / 60 < 20 and aa.outside_km < 1, (aa.minutes / 60, aa.outside_km)
    # Khorgos's access leg (the checkpoint to the nearest Kazakh road) is counted in its leg.
    kh = road[road.from_stop == "Nur Zholy – Khorgos"].iloc[0]
    assert kh.from_access_km > 5 and kh.length_km > kh.from_access_km
    changes = gpd.read_file(inf, layer="huff_changes")
    assert (changes["changed_km2"] > 0).all() and (changes["changed_share_pct"] < 100).all()
    repairs = gpd.read_file(tree / "outputs" / "stages" / "network.gpkg", layer="repairs")
    shetpe = repairs.cx[52.0:52.3, 44.0:44.3]
    assert len(shetpe) == 1 and 7.5 < shetpe["length_km"].iloc[0] < 7.9
    catch = gpd.read_file(inf, layer="catchments")
    assert set(catch["tier_set"]) == {"national", "kazakh", "all"}
    assert set(catch["scenario"]) == {"open", "current", "closed"}
    beyond = gpd.read_file(inf, layer="beyond_influence").set_index("tier_set")
    # More poles, less territory beyond their reach.
    area = beyond["area_km2"]
    assert area["national"] >= area["kazakh"] >= area["all"]
    with rasterio.open(tree / "outputs" / "rasters" / "huff_probability.tif") as src:
        p = src.read(1, masked=True)
        assert src.crs is not None and 0.0 < p.min() and p.max() <= 1.0 + 1e-6
    report = (tree / "outputs" / "REPORT.md").read_text()
    for heading in ("## Accessibility and the border as a barrier", "## Growth poles and their influence",
                    "## Economy of the border regions", "### The paper's claims"):
        assert heading in report
    # The paper's people claim, from the official rows (7 Kazakh + 12 Russian regions, 2020, Tyumen with okrugs).
    assert "| 32,000,000 persons | 32,092,509 persons | 2020 | naturalearth | with okrugs | +0.3 % | yes |" in report
    eco = tree / "outputs" / "economy.gpkg"
    trade = gpd.read_file(eco, layer="trade_by_neighbour")
    assert set(trade["country"]) == {"RUS", "UZB", "CHN", "KGZ", "TKM", "AZE", "IRN"}
    assert not trade.loc[trade["country"].isin(["AZE", "IRN"]), "in_table"].any()  # named missing, not filled
    from pipeline.maps import MAPS

    from PIL import Image

    for name in MAPS:
        png = tree / "outputs" / "maps" / f"{name}.png"
        assert png.stat().st_size > 100_000, name
        # Nothing touches the image's edge (titles were clipped at the top): ink ≥ 10 px (0.85 mm) inside.
        ink = np.asarray(Image.open(png).convert("L")) < 200
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        assert min(rows[0], cols[0], ink.shape[0] - 1 - rows[-1], ink.shape[1] - 1 - cols[-1]) >= 10, name
    # No output line or polygon has consecutive vertices QGIS would call duplicate nodes (equal within
    # 1e-8 on both axes).
    import shapely

    for gpkg in sorted((tree / "outputs").glob("*.gpkg")):
        for name, geom_type in pyogrio.list_layers(gpkg):
            if geom_type is None or "Point" in geom_type or name == "layer_styles":
                continue
            geoms = gpd.read_file(gpkg, layer=name).geometry.values
            parts = shapely.get_parts(geoms)
            rings = np.concatenate([shapely.get_rings(parts[shapely.get_type_id(parts) == 3]),
                                    parts[shapely.get_type_id(parts) == 1]])
            xy, which = shapely.get_coordinates(rings, return_index=True)
            same = (which[1:] == which[:-1]) & np.all(np.abs(np.diff(xy, axis=0)) <= 1e-8, axis=1)
            assert not same.any(), (gpkg.name, name, int(same.sum()))
    # People: the Kazakh cells of population.tif hold the BNS 2023 total (19,900,324) within 0.5 %.
    kz = gpd.read_file(tree / "outputs" / "stages" / "ingest.gpkg", layer="regions_geokz_2024")
    with rasterio.open(tree / "outputs" / "rasters" / "population.tif") as src:
        from rasterio.features import geometry_mask

        pop = src.read(1, masked=True).filled(0.0)
        inside = ~geometry_mask(kz.to_crs(src.crs).geometry, pop.shape, src.transform)
        assert float(pop[inside].sum()) == pytest.approx(19_900_324, rel=0.005)
        assert "settlements only" in src.tags()["settlements_only"]
    assert "### People near each border" in report and "| KAZ-RUS | focus | KAZ |" in report


def qgis_python() -> str | None:
    """A Python that imports PyQGIS: $QGIS_PYTHON, else Debian's /usr/bin/python3."""
    import os

    for exe in (os.environ.get("QGIS_PYTHON"), "/usr/bin/python3"):
        if exe and Path(exe).exists() and subprocess.run(
                [exe, "-c", "import qgis.core"], capture_output=True,
                env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}).returncode == 0:
            return exe
    return None


def test_outputs_open_styled_in_real_qgis(tree: Path, cfg, tmp_path: Path) -> None:
    """Every GeoPackage layer and GeoTIFF opens in QGIS with the expected features, CRS and stored
    style; the project's layers all resolve; the project renders to a picture that is not blank."""
    import json
    import os
    import re

    import pyogrio
    from pyproj import CRS

    from pipeline.styles import styles_for

    exe = qgis_python()
    if exe is None:
        pytest.skip("QGIS is not installed here (Debian: apt-get install qgis python3-qgis; "
                    "or set QGIS_PYTHON to a Python with PyQGIS)")
    if not (tree / "outputs" / "border_regions.qgs").is_file():
        assert make(tree, cfg, "all").returncode == 0
    png = Path(os.environ.get("QGIS_RENDER_PNG", tmp_path / "render.png"))
    res = subprocess.run([exe, str(ROOT / "tests" / "qgis_check.py"), str(tree / "outputs"),
                          str(tree / "outputs" / "border_regions.qgs"), str(png)],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert res.returncode == 0, res.stderr[-2000:]
    seen = json.loads(res.stdout.strip().splitlines()[-1])
    styles = styles_for(cfg.distances_km)
    expected = 0
    for gpkg in sorted((tree / "outputs").glob("*.gpkg")) + [tree / "outputs" / "stages" / "crossings.gpkg"]:
        for name, geom_type in pyogrio.list_layers(gpkg):
            if name == "layer_styles":
                continue
            expected += 1
            got = seen["vector"][f"{gpkg.name}/{name}"]
            assert got["valid"], (gpkg.name, name)
            assert got["features"] == pyogrio.read_info(gpkg, layer=name)["features"], (gpkg.name, name)
            if geom_type is None:  # a statistics table: QGIS opens it as a table, without CRS or symbols
                assert got["crs"] == "", (gpkg.name, name)
                continue
            assert got["crs"] == "EPSG:4326", (gpkg.name, name)
            want = re.search(r'renderer-v2 type="(\w+)"', styles[name]).group(1)
            assert got["renderer"] == want, (gpkg.name, name, got["renderer"])
    assert len(seen["vector"]) == expected
    assert "land border" in seen["vector"]["borders.gpkg/border_segments"]["categories"]
    for stem in ("access_open", "access_current", "access_closed", "barrier_current", "huff_probability"):
        got = seen["raster"][stem]
        assert got["valid"] and got["renderer"] == "singlebandpseudocolor", stem
        assert CRS.from_wkt(got["crs_wkt"]).equals(cfg.equal_area_crs, ignore_axis_order=True), stem
    assert seen["project_read"] and seen["project_invalid"] == []
    # Poles and countries are labelled by name, in the GeoPackage styles and in the project; the CRS is named.
    for layer in ("influence.gpkg/poles", "borders.gpkg/countries"):
        assert seen["vector"][layer]["labels"] == "name", layer
    assert seen["project_labels"]["poles"] and seen["project_labels"]["countries"]
    assert seen["project_crs_name"] == "Kazakhstan Albers Equal Area"
    xmin, ymin, xmax, ymax = seen["project_extent"]  # the saved view: Kazakhstan, as on the maps
    assert -2.5e6 < xmin < -1e6 and 1e6 < xmax < 2.5e6 and ymin < 0 < ymax
    assert seen["project_layers"] >= 20
    assert seen["render_errors"] == [] and seen["render_colours"] > 20, seen["render_colours"]
    assert png.stat().st_size > 10_000
    # One A4 print layout per publication map, its map following the map theme of the same name (the
    # layers of that map, e.g. one tier set and scenario of the catchments), exported to PDF headless.
    from pipeline.maps import MAPS

    layouts = {name.split(":")[0]: lay for name, lay in seen["layouts"].items()}
    assert set(layouts) == set(MAPS) == set(seen["themes"])
    for theme, lay in layouts.items():
        assert lay["status"] == 0 and lay["pdf_bytes"] > 100_000, (theme, lay)
        assert {"map", "legend", "scale bar", "title", "credits"} <= set(lay["items"]), theme
        assert 30 < lay["items"]["scale bar"] < 100   # two segments of a round number of km, not metres
        assert lay["theme"] == theme and lay["map_layers"] == seen["themes"][theme], theme
        assert lay["colours"] > 100, (theme, lay["colours"])   # not blank: the map frame is drawn
    assert seen["themes"]["influence"] == ["poles", "catchments: all, current", "beyond 3 h: all", "countries"]
    assert seen["project_features"]["catchments: all, current"] == 69
    assert seen["project_features"]["catchments: kazakh, current"] == 20
    # The catchments are drawn (a category value the style does not match leaves a layer blank): drawn alone,
    # a view of a coverage of catchments paints a large part of its own box.
    for view in ("catchments: all, current", "catchments: kazakh, current"):
        assert seen["project_painted"][view] > 0.2, (view, seen["project_painted"][view])   # 0.40, 0.43 here
    # Metadata panel: every project layer has a title, an abstract, a licence and a credit; the GeoTIFFs
    # opened alone too (their .qmd sidecars).
    for name, md in seen["project_metadata"].items():
        assert md["title"] and md["abstract"] and md["licenses"] and md["rights"], name
    for stem, got in seen["raster"].items():
        assert got["metadata"]["title"] and got["metadata"]["licenses"], stem
        assert got["crs_name"] == "Kazakhstan Albers Equal Area", stem
    # QGIS's validity check finds no duplicate nodes (it found them in 18 border regions and 10 geokz regions).
    assert {k: v["duplicate_nodes"] for k, v in seen["vector"].items() if v["duplicate_nodes"]} == {}


def test_interrupted_stage_leaves_the_previous_output_intact(tree: Path, cfg, tmp_path: Path) -> None:
    """SIGTERM in the middle of the accessibility stage: exit 130, old output byte-identical, no
    temporary file left behind."""
    import signal
    import time

    if not (tree / "outputs" / "accessibility.gpkg").is_file():
        assert make(tree, cfg, "all").returncode == 0
    target = tmp_path / "accessibility.gpkg"
    shutil.copy(tree / "outputs" / "accessibility.gpkg", target)
    before = target.read_bytes()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "--layers", str(tree / "layers"),
                             "--data-dir", str(cfg.data_dir), "accessibility", "--stages",
                             str(tree / "outputs" / "stages"), "--out", str(target), "--rasters",
                             str(tmp_path / "rasters")], cwd=tree, stderr=subprocess.PIPE, text=True)
    time.sleep(6)  # the stage takes ~20 s
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-500:]
    assert "interrupted" in err
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []



def test_studies_of_several_focus_countries_run_in_parallel(tree: Path, cfg) -> None:
    """`make -j studies` runs one independent study per focus country, each in its own folder."""
    res = make(tree, cfg, "-j4", "studies", "STUDIES=KAZ UZB KGZ TKM")
    assert res.returncode == 0, res.stderr
    import geopandas as gpd

    expected = {"UZB": {"KAZ", "TKM", "TJK", "KGZ", "AFG"}, "KGZ": {"KAZ", "UZB", "TJK", "CHN"},
                "TKM": {"KAZ", "UZB", "AFG", "IRN"}}
    for code, neighbours in expected.items():
        out = tree / "outputs" / "studies" / code
        segs = gpd.read_file(out / "borders.gpkg", layer="border_segments")
        assert set(segs["focus"]) == {code}
        assert set(segs.loc[segs.segment_type == "land", "neighbour"]) == neighbours
        assert (segs.segment_type == "maritime").any() == (code == "TKM")  # only TKM is on the Caspian
        assert "Result: **PASS**" in (out / "VALIDATION.md").read_text()
        report = (out / "REPORT.md").read_text()
        assert f"({code})" in report and "factbook" not in report  # KAZ's official lengths not misused
    uzb = gpd.read_file(tree / "outputs/studies/UZB/borders.gpkg", layer="border_segments")
    kaz = gpd.read_file(tree / "outputs/studies/KAZ/borders.gpkg", layer="border_segments")
    a = float(uzb.loc[uzb.neighbour == "KAZ", "length_km"].iloc[0])
    b = float(kaz.loc[kaz.neighbour == "UZB", "length_km"].iloc[0])
    assert abs(a - b) < 1e-6 * b and abs(b - 2183) < 1  # the same line, measured from either side
    rerun = make(tree, cfg, "-q", "all", "SCOPE=borders", "OUT=outputs/studies/KGZ", "FOCUS=KGZ")
    assert rerun.returncode == 0  # a study is incremental like the main one


def test_make_does_not_delete_the_outputs_of_a_killed_grouped_stage(tree: Path, cfg) -> None:
    """SIGTERM to the accessibility stage run by Make: the five previous GeoTIFFs are byte-identical (Make
    deleted them before, with .DELETE_ON_ERROR and grouped targets) and the next `make all` succeeds."""
    import os
    import signal
    import time

    assert make(tree, cfg, "all").returncode == 0
    tifs = sorted((tree / "outputs" / "rasters").glob("*_*.tif"))
    before = {p.name: p.read_bytes() for p in tifs}
    (tree / "pipeline" / "accessibility.py").touch()
    proc = subprocess.Popen(["make", f"PYTHON={sys.executable}", f"DATA_DIR={cfg.data_dir}", "all"], cwd=tree,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait for the accessibility stage to start working (its command, as Make ran it)
        ps = subprocess.run(["pgrep", "-f", "warm_client.py accessibility"], capture_output=True, text=True).stdout
        if ps.strip():
            break
        time.sleep(0.2)
    assert ps.strip(), "the accessibility stage never started"
    time.sleep(2)  # travel times, well before its outputs are written (it takes some 7 s)
    for pid in ps.split():   # the command Make started: it forwards the signal to the stage
        os.kill(int(pid), signal.SIGTERM)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0
    assert "Deleting file" not in out
    assert {p.name: p.read_bytes() for p in tifs} == before
    assert not [p for p in (tree / "outputs").rglob(".*") if p.is_file()]  # no temporaries left
    assert make(tree, cfg, "all").returncode == 0


def _clean_outputs(tree: Path, cfg) -> Path:
    if not (tree / "outputs" / "VALIDATION.md").is_file():
        assert make(tree, cfg, "all").returncode == 0
    return tree / "outputs"


def _compare(clean: Path, other: Path) -> list[str]:
    """What differs between two `make all` outputs (studies/ is `make studies`' own, written by another test)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from compare_outputs import compare

    return [p for p in compare(clean, other) if "/studies/" not in p]


def test_ten_random_kills_of_make_all_then_make_all_give_the_outputs_of_a_clean_run(tree: Path, cfg) -> None:
    """SIGKILL to the whole `make all` (make and its stage) at ten random moments, each time started
    again; then `make all` ends with every GeoPackage layer and GeoTIFF equal to a clean run's."""
    import os
    import random
    import signal
    import time

    clean = _clean_outputs(tree, cfg)
    rng = random.Random(20261129)
    kills = 0
    for _ in range(10):
        proc = subprocess.Popen(["make", f"PYTHON={sys.executable}", f"DATA_DIR={cfg.data_dir}", "OUT=killed", "all"],
                                cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        time.sleep(rng.uniform(1.0, 20.0))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)   # the stages forked from the warm process die with their clients
            kills += 1
        proc.wait()
    assert kills >= 3   # moments fell inside the build (each run resumes the last: later ones may finish first)
    final = make(tree, cfg, "OUT=killed", "all")
    assert final.returncode == 0, final.stderr[-3000:]
    assert _compare(clean, tree / "killed") == []
    assert not [p.name for p in (tree / "killed").rglob(".*") if p.is_file()]   # no temporary left over


def test_two_make_all_at_once_in_one_folder_end_correct_or_say_already_running(tree: Path, cfg) -> None:
    clean = _clean_outputs(tree, cfg)
    cmd = ["make", f"PYTHON={sys.executable}", f"DATA_DIR={cfg.data_dir}", "OUT=twice", "all"]
    runs = [subprocess.Popen(cmd, cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    results = [(p.wait(timeout=900), p.stderr.read()) for p in runs]
    for code, err in results:
        assert code == 0 or ("already running" in err and "Traceback" not in err), err[-3000:]
    assert make(tree, cfg, "OUT=twice", "all").returncode == 0
    assert _compare(clean, tree / "twice") == []
