"""Make's commands through the warm process (pipeline/warm_client.py, pipeline/warm.py): the same arguments,
output, exit code, working folder and environment as ``python -m pipeline``; signals reach the command."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLIENT = [sys.executable, "-I", "-S", str(ROOT / "pipeline" / "warm_client.py")]


@pytest.fixture
def warm_env(cfg):
    """An environment with its own short temporary folder (the socket's), the warm process started and ready."""
    tmp = tempfile.mkdtemp(prefix="bpw", dir="/tmp")
    env = {**os.environ, "TMPDIR": tmp, "PIPELINE_DATA_DIR": str(cfg.data_dir)}
    env.pop("PIPELINE_WARM", None)
    subprocess.run([*CLIENT, "--quiet", "studies"], env=env, cwd=ROOT, capture_output=True, check=True)
    for _ in range(300):   # the first command started it; it imports for a second or two
        if _served(env):
            break
        time.sleep(0.05)
    else:
        pytest.fail("the warm process did not start")
    yield env
    shutil.rmtree(tmp, ignore_errors=True)


def _served(env) -> bool:
    folder = Path(env["TMPDIR"]) / f"border-pipeline-{os.getuid()}"
    return any(folder.glob("*.sock"))


def test_a_command_through_the_warm_process_prints_and_exits_as_python_m_pipeline_does(warm_env) -> None:
    for args in (["--quiet", "studies"], ["nosuch"], ["sources", "--stage", "roads"]):
        ordinary = subprocess.run([sys.executable, "-m", "pipeline", *args], env=warm_env, cwd=ROOT,
                                  capture_output=True, text=True)
        warm = subprocess.run([*CLIENT, *args], env=warm_env, cwd=ROOT, capture_output=True, text=True)
        assert (warm.returncode, warm.stdout, warm.stderr) == (ordinary.returncode, ordinary.stdout,
                                                              ordinary.stderr), args
    assert _served(warm_env)
    assert subprocess.run([*CLIENT, "nosuch"], env=warm_env, cwd=ROOT, capture_output=True).returncode == 2


def test_the_command_runs_in_the_clients_folder_with_the_clients_environment(warm_env, tmp_path: Path) -> None:
    """``sources`` prints the data files relative to the working folder; the data directory comes from the
    environment: both the client's, not the warm process's."""
    elsewhere = tmp_path / "a" / "b"
    elsewhere.mkdir(parents=True)
    args = ["--layers", str(ROOT / "layers"), "sources", "--stage", "ingest"]
    ordinary = subprocess.run([sys.executable, "-m", "pipeline", *args], env=warm_env, cwd=elsewhere,
                              capture_output=True, text=True, check=True)
    warm = subprocess.run([*CLIENT, *args], env=warm_env, cwd=elsewhere, capture_output=True, text=True, check=True)
    assert warm.stdout == ordinary.stdout and warm.stdout.startswith("../../")
    assert "ne_10m_admin_1_states_provinces" in warm.stdout


def test_sigterm_to_the_client_ends_the_command_which_leaves_no_output(warm_env, tmp_path: Path) -> None:
    out = tmp_path / "ingest.gpkg"
    proc = subprocess.Popen([*CLIENT, "--layers", str(ROOT / "layers"), "ingest", "--out", str(out)],
                            env=warm_env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.4)   # started (a warm ingest takes about a second)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err   # the pipeline's own SIGTERM handling, as in a fresh process
    assert "interrupted (signal 15)" in err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_client_killed_outright_takes_its_command_with_it(warm_env, tmp_path: Path) -> None:
    """SIGKILL to the client (as to a killed make's whole process group): the warm process kills the command
    at once, as the signal would have in the client's place; no output appears later."""
    out = tmp_path / "ingest.gpkg"
    proc = subprocess.Popen([*CLIENT, "--layers", str(ROOT / "layers"), "ingest", "--out", str(out)],
                            env=warm_env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.4)
    proc.kill()
    proc.wait()
    time.sleep(2.5)   # a warm ingest takes about a second: it would have written its output by now
    assert not out.exists()


def test_with_pipeline_warm_0_the_command_runs_the_ordinary_way(cfg, tmp_path: Path) -> None:
    tmp = tempfile.mkdtemp(prefix="bpw", dir="/tmp")
    try:
        env = {**os.environ, "TMPDIR": tmp, "PIPELINE_WARM": "0", "PIPELINE_DATA_DIR": str(cfg.data_dir)}
        run = subprocess.run([*CLIENT, "--quiet", "studies"], env=env, cwd=ROOT, capture_output=True, text=True)
        assert run.returncode == 0 and run.stdout.split()[0] == "KAZ"
        time.sleep(0.5)
        assert not (Path(tmp) / f"border-pipeline-{os.getuid()}").exists()   # no warm process started
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
