"""Benchmark: the accessibility raster stage against GRASS r.cost and scikit-image MCP_Geometric on
the same friction surface, and the network one-to-all from all poles against networkx, in one run.

Run with `make bench` (after `make all`). Prints a Markdown table and writes it to
outputs/bench.md. Timings are wall-clock seconds on this machine; ratios are peer / pipeline.
GRASS is skipped, with a note, where the `grass` command is not installed (Debian: grass-core).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import rasterio
import shapely
from skimage.graph import MCP_Geometric

from pipeline.accessibility import friction_surface, make_grid, travel_hours
from pipeline.config import load_accessibility, load_config, load_network
from pipeline.crossings import scenario_edges
from pipeline.network import travel_minutes
from pipeline.poles import load_poles
from pipeline.rasters import write_geotiff

ROOT = Path(__file__).resolve().parents[1]
STAGES = ROOT / "outputs" / "stages"


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def grass_rcost(friction: np.ndarray, starts: list[tuple[int, int]], grid, workdir: Path
                ) -> tuple[np.ndarray | None, float | None, float | None, str]:
    """r.cost (8 neighbours, nulls are barriers) in a temporary GRASS location; returns the cost
    surface, r.cost's own seconds, the whole command's seconds (with import/export) and a note."""
    grass = shutil.which("grass")
    if grass is None:
        return None, None, None, "GRASS not installed (apt-get install grass-core)"
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--res", type=float, nargs="+", default=[1000.0], help="cell sizes in metres")
    ap.add_argument("--no-grass", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench.md")
    args = ap.parse_args()

    cfg = load_config(ROOT / "layers")
    acc, net = load_accessibility(cfg.layers_dir), load_network(cfg.layers_dir, cfg.sources)
    edges = gpd.read_file(STAGES / "crossings.gpkg", layer="edges")
    countries = gpd.read_file(STAGES / "ingest.gpkg", layer="countries").to_crs(cfg.equal_area_crs)
    focus = countries[countries["country"] == cfg.focus_country]
    poles = load_poles(cfg.layers_dir, cfg.bbox)
    poles_ea = np.array([(p.x, p.y) for p in poles.to_crs(cfg.equal_area_crs).geometry])
    lines = ["# Benchmark: accessibility raster and network routing", "",
             f"Machine: {os.cpu_count()} cores. Scenario `open`, {len(poles)} poles, mode `{acc.mode}`. "
             "Times in seconds (wall clock); ratio = peer time / pipeline time (> 1: the pipeline is "
             "faster).", ""]
    rows = []
    for res in args.res:
        grid = make_grid(tuple(focus.buffer(acc.extent_buffer_km * 1000).total_bounds), res,
                         cfg.equal_area_crs)
        kw = dict(mode=acc.mode, scenarios=("open",), off_kmh=net.off_network_kmh,
                  spacing=min(acc.access_spacing_m, res), k=acc.k_nearest)
        ours, t_ours = timed(travel_hours, edges, poles_ea, grid, countries.geometry, **kw)
        ours_h = ours["open"][0]
        friction = friction_surface(edges, grid, countries.geometry, mode=acc.mode,
                                    off_kmh=net.off_network_kmh)
        rows_, cols_ = grid.cell(poles_ea)
        starts = [(int(r), int(c)) for r, c in zip(rows_, cols_) if np.isfinite(friction[r, c])]
        costs = np.where(np.isfinite(friction), friction, -1.0)  # negative: impassable for MCP
        mcp_min, t_mcp = timed(lambda c, s: MCP_Geometric(c).find_costs(s)[0], costs, starts)
        mcp_h = np.where(np.isfinite(friction), mcp_min / 60.0, np.nan)
        cells = f"{grid.width} × {grid.height} ({grid.width * grid.height / 1e6:.1f} M cells)"
        _, t_three = timed(travel_hours, edges, poles_ea, grid, countries.geometry,
                           **{**kw, "scenarios": ("open", "current", "closed")})
        rows.append((f"{res:g} m", cells, "pipeline (network + access points)", f"{t_ours:.1f}", "1.00", "–"))
        rows.append((f"{res:g} m", cells, "scikit-image MCP_Geometric", f"{t_mcp:.1f}",
                     f"{t_mcp / t_ours:.2f}", agreement(mcp_h, ours_h)))
        if not args.no_grass:
            with tempfile.TemporaryDirectory(prefix="bench-grass-") as tmp:
                cost, t_rc, t_whole, note = grass_rcost(friction, starts, grid, Path(tmp))
            if cost is None:
                rows.append((f"{res:g} m", cells, "GRASS r.cost", "–", "–", note))
            else:
                rc_h = cost / 60.0
                rows.append((f"{res:g} m", cells, f"{note} r.cost (8 neighbours)", f"{t_rc:.1f}",
                             f"{t_rc / t_ours:.2f}",
                             f"vs MCP: {agreement(rc_h, mcp_h)}; with import/export {t_whole:.1f} s"))
        rows.append((f"{res:g} m", cells, "pipeline, 3 scenarios (cells linked once)", f"{t_three:.1f}",
                     "–", f"a cost-distance tool reruns per scenario: MCP ×3 = {3 * t_mcp:.1f} s"))
        print(f"{res:g} m done", file=sys.stderr)
    lines += ["| cell | grid | method | seconds | ratio | agreement with the pipeline (hours) |",
              "| --- | --- | --- | ---: | ---: | --- |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]

    # Network one-to-all from every pole: scipy.sparse.csgraph (pipeline) vs networkx.
    road = scenario_edges(edges[edges["mode"] == acc.mode], "open")
    n = int(max(road["u"].max(), road["v"].max())) + 1
    nodes = gpd.read_file(STAGES / "network.gpkg", layer="nodes")
    nodes = nodes[nodes["mode"] == acc.mode].to_crs(cfg.equal_area_crs)
    idx = [int(nodes.node_id.iloc[int(np.argmin(shapely.distance(nodes.geometry.values,
                                                                   shapely.Point(p))))])
           for p in poles_ea]
    ours_t, t_cs = timed(travel_minutes, road, n, idx)
    g = nx.Graph()
    for u, v, w in zip(road["u"].astype(int), road["v"].astype(int), road["minutes"]):
        if not g.has_edge(u, v) or g[u][v]["weight"] > w:  # the fastest of parallel edges
            g.add_edge(u, v, weight=max(float(w), 1e-9))
    ref, t_nx = timed(nx.multi_source_dijkstra_path_length, g, set(idx))
    same = all(abs(ours_t[k] - v) < 1e-6 for k, v in ref.items())
    lines += ["", "| network | method | seconds | ratio | check |", "| --- | --- | ---: | ---: | --- |",
              f"| {len(road)} edges, {n} nodes | scipy.sparse.csgraph multi-source Dijkstra (pipeline) "
              f"| {t_cs:.4f} | 1.00 | – |",
              f"| | networkx multi_source_dijkstra_path_length | {t_nx:.4f} | {t_nx / t_cs:.1f} "
              f"| {'identical times' if same else 'DIFFERENT times'} |", ""]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
