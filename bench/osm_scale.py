"""OpenStreetMap at country scale without the internet (`make bench-osm`): a synthetic extract of about
1 M ways and 5.5 M nodes over the study window (bench/synthetic_osm.py) replaces the road network of a
temporary copy of the code and configuration, and Make runs network → crossings → link → accessibility →
influence on it, as a user's `make` would (accessibility and influence at once on 2 cores). Each stage's
seconds and peak resident memory (from $PIPELINE_STAGE_LOG), the whole run's seconds and the memory of
everything running at once (sampled) go to docs/benchmarks.json (key ``osm_synthetic``) and are printed as
a Markdown table.

A stage that fails (e.g. out of memory) is reported with its exit status; the run stops there.

Usage: python bench/osm_scale.py --data-dir DIR [--ways 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic_osm  # noqa: E402
from bench import RESULTS, copy_tree, refresh_osm_section, table, top_level_env, write_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ROAD_OSM = """    road:
      osm_pbf: osm/synthetic.osm.pbf
      network_type: driving
      class_column: highway
      use_maxspeed: true
      speeds_kmh: {motorway: 110, trunk: 90, primary: 70, secondary: 60, tertiary: 50,
                   unclassified: 40, residential: 30, default: 30}
"""


def osm_tree(dest: Path, data_dir: Path, pbf: Path) -> Path:
    """A copy of the code whose road mode reads ``pbf``, and a data directory: the real one plus the extract."""
    (dest / "tree").mkdir()
    tree = copy_tree(dest / "tree")
    net = tree / "layers" / "network.yaml"
    text = net.read_text(encoding="utf-8")
    start, end = text.index("    road:\n"), text.index("    rail:\n")
    net.write_text(text[:start] + ROAD_OSM + text[end:], encoding="utf-8")
    data = dest / "data"
    (data / "osm").mkdir(parents=True)
    for item in data_dir.iterdir():
        (data / item.name).symlink_to(item)
    (data / "osm" / "synthetic.osm.pbf").symlink_to(pbf)
    return tree


def run_sampled(cmd: list[str], cwd: Path, env: dict
                ) -> tuple[float, tuple[float, float], subprocess.CompletedProcess]:
    """Run ``cmd``; (wall seconds, (peak resident memory of it and all it runs at once in MB, the same in
    proportional set sizes: shared pages once), the warm process of the checkout in ``cwd`` and its commands
    included, sampled every 0.2 s (:func:`bench.sampled_peaks`), the completed process with its captured
    output)."""
    from bench import sampled_peaks, stop_warm

    stop_warm(cwd)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        peaks = sampled_peaks(proc, cwd, 0.2)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        return wall, peaks, subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("PIPELINE_DATA_DIR", "data")))
    ap.add_argument("--ways", type=int, default=1_000_000)
    ap.add_argument("--json", type=Path, default=ROOT / "docs" / "benchmarks.json")
    ap.add_argument("--keep", type=Path, help="work here and keep the tree (default: a temporary folder)")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-osm-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        pbf = work / "synthetic.osm.pbf"
        info = synthetic_osm.write(pbf, args.ways)
        print(f"bench-osm: {info['ways']:,} ways, {info['nodes']:,} nodes, {info['megabytes']:.0f} MB", file=sys.stderr)
        tree = osm_tree(work, args.data_dir.resolve(), pbf)
        log = tree / "stages.jsonl"
        # As a user's `make` runs it: at the top level, with the Makefile's parallel jobs (accessibility and
        # influence at once), everything running at once sampled for memory
        wall, (together, together_pss), res = run_sampled(
            ["make", f"PYTHON={sys.executable}", f"DATA_DIR={work / 'data'}", "outputs/accessibility.gpkg",
             "outputs/influence.gpkg"], tree, {**top_level_env(), "PIPELINE_STAGE_LOG": str(log), "CI": "1"})
        stages = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
        stages = [s for s in stages if s["stage"] in ("network", "crossings", "link", "accessibility", "influence")]
        RESULTS["osm_synthetic"] = {
            "ways": info["ways"], "nodes": info["nodes"], "pbf_mb": round(info["megabytes"], 1),
            "make_exit": res.returncode, "seconds_all": round(wall, 1), "peak_concurrent_mb": round(together),
            "peak_concurrent_pss_mb": round(together_pss),
            "stages": {s["stage"]: {"seconds": round(s["seconds"], 1), "peak_mb": round(s["peak_rss_mb"]),
                                    "exit": s["exit"]} for s in stages}}
        rows = [(s["stage"], f"{s['seconds']:.0f}", f"{s['peak_rss_mb']:,.0f}", str(s["exit"])) for s in stages]
        print("\n".join(table(["stage", "seconds", "peak memory (MB)", "exit"], rows, "lrrr")))
        if res.returncode != 0:
            print(f"bench-osm: make stopped (exit {res.returncode}):\n{res.stderr[-1500:]}", file=sys.stderr)
        write_json(args.json)
        refresh_osm_section(args.json.parent / "benchmarks.md", args.json)
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
