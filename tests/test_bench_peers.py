"""The benchmark's peers (bench/peers.py): GRASS is installed when missing, or the table says why not."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import peers  # noqa: E402


@pytest.fixture
def no_grass(monkeypatch):
    """A machine without the grass command (and no earlier attempt remembered)."""
    monkeypatch.setattr(peers, "WHY_NO_GRASS", None)
    real = peers.shutil.which
    monkeypatch.setattr(peers.shutil, "which", lambda cmd: None if cmd == "grass" else real(cmd))
    return monkeypatch


def test_without_apt_get_grass_is_not_installed_and_the_note_says_why(no_grass) -> None:
    real = peers.shutil.which
    no_grass.setattr(peers.shutil, "which", lambda cmd: None if cmd in ("grass", "apt-get") else real(cmd))
    no_grass.setattr(peers.subprocess, "run", lambda *a, **k: pytest.fail("nothing may run"))
    assert peers.ensure_grass() is None
    assert "no apt-get" in peers.WHY_NO_GRASS
    cost, seconds, whole, note = peers.grass_rcost(None, [], None, Path("."))
    assert (cost, seconds, whole) == (None, None, None) and note == peers.WHY_NO_GRASS


def test_a_user_who_may_not_install_packages_is_told_the_command_instead(no_grass) -> None:
    real = peers.shutil.which
    no_grass.setattr(peers.shutil, "which",
                     lambda cmd: {"grass": None, "sudo": None, "apt-get": "/usr/bin/apt-get"}.get(cmd, real(cmd)))
    no_grass.setattr(peers.os, "geteuid", lambda: 1000)
    no_grass.setattr(peers.subprocess, "run", lambda *a, **k: pytest.fail("nothing may run"))
    assert peers.ensure_grass() is None
    assert "may not install packages" in peers.WHY_NO_GRASS and "apt-get install grass-core" in peers.WHY_NO_GRASS


def test_a_failed_install_is_reported_with_apt_gets_last_line(no_grass) -> None:
    import subprocess

    real = peers.shutil.which
    no_grass.setattr(peers.shutil, "which",
                     lambda cmd: {"grass": None, "apt-get": "/usr/bin/apt-get"}.get(cmd, real(cmd)))
    no_grass.setattr(peers.os, "geteuid", lambda: 0)
    ran = []

    def fake(cmd, **kwargs):
        ran.append(cmd)
        failed = "install" in cmd
        return subprocess.CompletedProcess(cmd, 100 if failed else 0, "",
                                           "E: Unable to locate package grass-core" if failed else "")

    no_grass.setattr(peers.subprocess, "run", fake)
    lines = []
    assert peers.ensure_grass(lines.append) is None
    assert [c[:2] for c in ran] == [["apt-get", "update"], ["apt-get", "install"]] and len(lines) == 1
    assert peers.WHY_NO_GRASS.endswith("failed (E: Unable to locate package grass-core)")
