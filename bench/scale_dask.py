"""Scale-out, measured small case: per-border work on dask.distributed (docs/scaling.md).

The border segments of every focus country of layers/study.yaml are computed, then their belts
(every distance) one task per segment, serially and on a dask.distributed LocalCluster with one worker
process per core; the countries layer is scattered to the workers once. The results must be the same
polygons. Needs the optional extra `pip install -e '.[scale]'` (dask[distributed]); run by `make bench`
when dask is installed, or alone: `python bench/scale_dask.py <folder with outputs/stages/ingest.gpkg>`.
"""

from __future__ import annotations

import os
import sys
import time
from functools import partial
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from pipeline.borders import border_segments
from pipeline.config import load_config
from pipeline.zones import cross_border_zones


def available() -> bool:
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        return False
    return True


def run(tree: Path) -> dict:
    from dask.distributed import Client, LocalCluster

    cfg = load_config(tree / "layers")
    countries = gpd.read_file(tree / "outputs" / "stages" / "ingest.gpkg", layer="countries")
    segments = pd.concat([border_segments(countries, f, cfg.seas) for f in cfg.focus_countries],
                         ignore_index=True)
    tasks = [segments.iloc[[i]] for i in range(len(segments))]
    # One task: the belts of one border segment.
    belts_of = partial(cross_border_zones, distances_km=cfg.distances_km, piece_km=cfg.buffer_piece_km,
                       densify_km=cfg.densify_km)

    t0 = time.perf_counter()
    serial = [belts_of(t, countries) for t in tasks]
    t_serial = time.perf_counter() - t0

    workers = os.cpu_count() or 1
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, Client(cluster) as client:
        t0 = time.perf_counter()
        shared = client.scatter(countries, broadcast=True)
        futures = client.map(belts_of, tasks, [shared] * len(tasks))
        parallel = client.gather(futures)
        t_dask = time.perf_counter() - t0
    same = all(len(a) == len(b) and bool(shapely.equals(a.geometry.values, b.geometry.values).all())
               for a, b in zip(serial, parallel))
    belts = sum(len(a) for a in serial)
    return {"focus": cfg.focus_countries, "segments": len(tasks), "belts": belts, "serial": t_serial,
            "dask": t_dask, "workers": workers, "same": same}


def markdown(r: dict) -> list[str]:
    return ["## 6. Scale-out on dask.distributed: per-border belts", "",
            f"Belts of {r['segments']} border segments ({', '.join(r['focus'])} as focus countries; "
            f"{r['belts']} belt polygons), one task per segment.", "",
            "| engine | workers | seconds | speed-up | result |", "| --- | ---: | ---: | ---: | --- |",
            f"| serial (one process) | 1 | {r['serial']:.1f} | 1.00 | – |",
            f"| dask.distributed LocalCluster | {r['workers']} | {r['dask']:.1f} | "
            f"{r['serial'] / r['dask']:.2f} | {'identical polygons' if r['same'] else 'DIFFERENT'} |", ""]


if __name__ == "__main__":
    print("\n".join(markdown(run(Path(sys.argv[1] if len(sys.argv) > 1 else ".")))))
