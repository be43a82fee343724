"""Peers for the benchmark (bench/bench.py): GRASS r.cost through a temporary GRASS location, and
the agreement between two travel-time surfaces. Where the `grass` command is missing, :func:`ensure_grass`
installs Debian's grass-core with apt-get (as root, or through password-less sudo); where it cannot, r.cost
is skipped with a note that says why."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import rasterio

from pipeline.rasters import write_geotiff


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


#: Why GRASS is missing, once :func:`ensure_grass` has tried to install it (None: not tried, or installed).
WHY_NO_GRASS: str | None = None


def ensure_grass(log=print) -> str | None:
    """The ``grass`` command, installed from Debian (``apt-get install grass-core``) when it is missing and
    this process may install packages (root, or sudo without a password).

    Parameters
    ----------
    log
        Called with a line of progress (the install takes a minute or two).

    Returns
    -------
    str or None
        The command's path; None when it is still missing (:data:`WHY_NO_GRASS` says why, and the benchmark
        writes it into its table).
    """
    global WHY_NO_GRASS
    found = shutil.which("grass")
    if found or WHY_NO_GRASS:
        return found
    if shutil.which("apt-get") is None:
        WHY_NO_GRASS = "GRASS not installed, and no apt-get here to install Debian's grass-core: install GRASS ≥ 8"
        return None
    if os.geteuid() == 0:
        prefix = []
    elif shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        prefix = ["sudo", "-n"]
    else:
        WHY_NO_GRASS = ("GRASS not installed, and this user may not install packages (not root, no password-less "
                        "sudo): sudo apt-get install grass-core")
        return None
    log("bench: GRASS is missing: installing Debian's grass-core with apt-get (a minute or two) …")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-qq"],
                 ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "grass-core"]):
        res = subprocess.run(prefix + step, capture_output=True, text=True, env=env)
        if res.returncode != 0:
            last = (res.stderr.strip().splitlines() or ["no message"])[-1]
            WHY_NO_GRASS = f"GRASS not installed: `{' '.join(step)}` failed ({last})"
            return None
    found = shutil.which("grass")
    if found is None:
        WHY_NO_GRASS = "GRASS not installed: grass-core installed, but no `grass` command on PATH"
    return found


def grass_rcost(friction: np.ndarray, starts: list[tuple[int, int]], grid, workdir: Path
                ) -> tuple[np.ndarray | None, float | None, float | None, str]:
    """r.cost (8 neighbours, nulls are barriers) in a temporary GRASS location; returns the cost
    surface, r.cost's own seconds, the whole command's seconds (with import/export) and a note."""
    grass = ensure_grass()
    if grass is None:
        return None, None, None, WHY_NO_GRASS
    fr = workdir / "friction.tif"
    write_geotiff(fr, friction, grid.transform, grid.crs)
    start = np.zeros(friction.shape, dtype=np.float32)
    for r, c in starts:
        start[r, c] = 1
    st = workdir / "start.tif"
    write_geotiff(st, np.where(start > 0, 1.0, np.nan), grid.transform, grid.crs)
    out = workdir / "cost.tif"
    timing = workdir / "rcost_seconds.txt"
    script = workdir / "run.sh"
    script.write_text(f"""set -e
r.in.gdal -o input={fr} output=friction --quiet
r.in.gdal -o input={st} output=start --quiet
g.region raster=friction
t0=$(date +%s.%N)
r.cost input=friction start_raster=start output=cost --quiet
t1=$(date +%s.%N)
echo "$t0 $t1" > {timing}
r.out.gdal input=cost output={out} format=GTiff type=Float64 --quiet -c
""")
    t0 = time.perf_counter()
    res = subprocess.run([grass, "--tmp-location", str(fr), "--exec", "bash", str(script)],
                         capture_output=True, text=True, env={**os.environ, "GRASS_VERBOSE": "0"})
    whole = time.perf_counter() - t0
    if res.returncode != 0:
        errors = [ln for ln in res.stderr.splitlines() if "ERROR" in ln] or res.stderr.splitlines()[-3:]
        return None, None, None, f"r.cost failed: {' '.join(errors)}"
    a, b = map(float, timing.read_text().split())
    with rasterio.open(out) as src:
        cost = src.read(1, masked=True).filled(np.nan).astype(np.float64)
    version = subprocess.run([grass, "--config", "version"], capture_output=True, text=True).stdout
    return cost, b - a, whole, f"GRASS {version.strip()}"


def agreement(a: np.ndarray, b: np.ndarray) -> str:
    ok = np.isfinite(a) & np.isfinite(b)
    if not ok.any():
        return "–"
    d = np.abs(a[ok] - b[ok])
    return f"median |Δ| {np.median(d):.3f} h, 99th pct {np.percentile(d, 99):.2f} h"
