"""Make rebuilds a stage when any module it imports changes: every module a stage's module reaches
through its imports (pipeline/*.py, pipeline/config/*.py) is a prerequisite of the stage's output."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Output (relative to OUT) → the module of its stage.
STAGES = {"stages/ingest.gpkg": "ingest", "stages/borders.gpkg": "borders", "stages/zones.gpkg": "zones",
          "stages/border_regions.gpkg": "border_regions", "stages/network.gpkg": "network",
          "stages/crossings.gpkg": "crossings", "stages/linked.arrays": "link", "accessibility.gpkg": "accessibility",
          "influence.gpkg": "influence", "economy.gpkg": "economy", "population.gpkg": "population",
          "people_influence.gpkg": "people_influence",
          "maps/zones.png": "maps", "borders.gpkg": "publish"}
# The command line reaches every stage and the configuration package every model: they are not followed
# (each stage lists its own configuration models).
NOT_FOLLOWED = {ROOT / "pipeline" / "cli.py", ROOT / "pipeline" / "config" / "__init__.py"}


def imports_of(path: Path) -> set[Path]:
    """The package's modules that ``path`` imports (relative imports, at any depth of the code)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.ImportFrom) and node.level >= 1):
            continue
        base = path.parent
        for _ in range(node.level - 1):
            base = base.parent
        if node.module is None:
            out |= {base / f"{a.name}.py" for a in node.names}
            continue
        target = base.joinpath(*node.module.split("."))
        if target.with_suffix(".py").is_file():
            out.add(target.with_suffix(".py"))
        elif (target / "__init__.py").is_file():
            out.add(target / "__init__.py")
            out |= {target / f"{a.name}.py" for a in node.names}
    return {p for p in out if p.is_file()}


def reached(module: Path) -> set[Path]:
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        if m not in NOT_FOLLOWED or m == module:
            todo.extend(imports_of(m))
    return seen


@pytest.fixture(scope="module")
def prerequisites(cfg, tmp_path_factory) -> dict[str, set[str]]:
    if not shutil.which("make"):
        pytest.fail("GNU make is required")
    out = tmp_path_factory.mktemp("db")
    db = subprocess.run(["make", "-pnq", f"PYTHON={sys.executable}", f"DATA_DIR={cfg.data_dir}", f"OUT={out}", "all"],
                        cwd=ROOT, capture_output=True, text=True, timeout=120).stdout
    rules: dict[str, set[str]] = {}
    for line in db.splitlines():
        m = re.match(rf"^{re.escape(str(out))}/(\S+):(?!=)\s*(.*)$", line)
        if m and m.group(1) not in rules:
            rules[m.group(1)] = set(m.group(2).split("|")[0].split())
    return rules


def test_the_module_import_walk_finds_what_a_stage_imports() -> None:
    got = {p.name for p in reached(ROOT / "pipeline" / "accessibility.py")}
    assert {"accessibility.py", "kernels.py", "crossings.py", "network.py", "rasters.py"} <= got
    assert "influence.py" not in got and "cli.py" not in got


@pytest.mark.parametrize("target", sorted(STAGES))
def test_every_module_a_stage_imports_is_a_prerequisite_of_its_output(prerequisites, target) -> None:
    assert target in prerequisites, f"no rule for {target}"
    need = {str(p.relative_to(ROOT)) for p in reached(ROOT / "pipeline" / f"{STAGES[target]}.py")}
    missing = sorted(need - prerequisites[target])
    assert not missing, f"{target}: Make would not rebuild it when these change: {missing}"


def test_a_checkout_whose_path_has_a_space_keeps_the_data_files_as_prerequisites(cfg, tmp_path) -> None:
    """Make splits names on spaces: the source lists are written relative to the checkout, so a checkout
    in "/…/my maps/" still rebuilds when a data file changes (it silently lost that dependency)."""
    tree = tmp_path / "my maps" / "checkout"
    tree.mkdir(parents=True)
    shutil.copy(ROOT / "Makefile", tree / "Makefile")
    shutil.copytree(ROOT / "layers", tree / "layers")
    shutil.copytree(ROOT / "pipeline", tree / "pipeline", ignore=shutil.ignore_patterns("*.pyc", "__pycache__"))
    (tree / "data").symlink_to(cfg.data_dir)   # the default data directory, inside the checkout
    env = {**__import__("os").environ, "PYTHONPATH": str(tree)}
    args = [f"PYTHON={sys.executable}", "DATA_DIR=data", "all"]
    subprocess.run(["make", "-n", *args], cwd=tree, capture_output=True, timeout=120, env=env)  # source lists
    db = subprocess.run(["make", "-pnq", *args], cwd=tree, capture_output=True, text=True, timeout=120, env=env).stdout
    rule = next(line for line in db.splitlines() if line.startswith("outputs/stages/ingest.gpkg:"))
    needed = rule.split("|")
    assert "ne_10m_admin_1_states_provinces.gpkg" in needed[0], rule   # a normal prerequisite
    assert all((tree / p).is_file() for p in needed[0].split() if p.endswith(".gpkg")), rule
    assert "data" not in needed[1].split()   # nothing to download: the files are there


def test_a_data_directory_whose_path_has_a_space_works_through_make(cfg, tmp_path) -> None:
    """DATA_DIR="…/my data" (it was refused): Make reaches the files through the link outputs/stages/data,
    the data files are prerequisites of the ingest stage, and nothing asks for a download."""
    import os

    data = tmp_path / "my data"
    data.symlink_to(cfg.data_dir)
    tree = tmp_path / "checkout"
    tree.mkdir()
    shutil.copy(ROOT / "Makefile", tree / "Makefile")
    shutil.copytree(ROOT / "layers", tree / "layers")
    shutil.copytree(ROOT / "pipeline", tree / "pipeline", ignore=shutil.ignore_patterns("*.pyc", "__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tree)}
    args = [f"PYTHON={sys.executable}", f"DATA_DIR={data}", "all"]
    dry = subprocess.run(["make", "-n", *args], cwd=tree, capture_output=True, text=True, timeout=120, env=env)
    assert dry.returncode == 0, dry.stderr
    assert os.readlink(tree / "outputs" / "stages" / "data") == str(data)
    db = subprocess.run(["make", "-pnq", *args], cwd=tree, capture_output=True, text=True, timeout=120, env=env).stdout
    rule = next(line for line in db.splitlines() if line.startswith("outputs/stages/ingest.gpkg:"))
    needed, order_only = rule.split("|")
    assert "outputs/stages/data/naturalearth/ne_10m_admin_1_states_provinces.gpkg" in needed.split(), rule
    assert "data" not in order_only.split()
    assert (tree / "outputs" / "stages" / "data_dir.txt").read_text().strip() == str(data)
