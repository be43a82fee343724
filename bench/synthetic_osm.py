"""A synthetic OpenStreetMap extract at country scale, for benchmarks without the internet.

Writes an OSM PBF (pyosmium's writer) covering a lon/lat window with a jittered lattice of roads: about
``ways`` ways (one per lattice edge) and ``nodes_per_way`` shape nodes inside each, so the default 1 M ways
carry about 5.5 M nodes. Tags follow a road hierarchy (every 120th lattice line a motorway, 40th trunk,
10th primary, 5th secondary, 2nd tertiary, the rest unclassified or residential), ``maxspeed`` on about a
fifth of the ways in the forms real data uses ("90", "50 mph", "RU:urban"). Ways cross country borders
wherever the lattice does, so the crossings stage finds crossings as on real data.

Usage: python bench/synthetic_osm.py OUT.osm.pbf [--ways 1000000] [--bbox W S E N] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HIERARCHY = [(120, "motorway"), (40, "trunk"), (10, "primary"), (5, "secondary"), (2, "tertiary")]
MAXSPEED = np.array(["90", "110", "60", "40", "50 mph", "RU:urban", "70"])


def line_class(i: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Highway class of lattice line ``i`` (rows or columns)."""
    out = np.where(rng.random(len(i)) < 0.5, "unclassified", "residential").astype(object)
    for every, name in reversed(HIERARCHY):
        out[i % every == 0] = name
    return out


def write(path: Path, ways: int = 1_000_000, bbox: tuple[float, float, float, float] = (44.0, 37.0, 90.0, 57.0),
          nodes_per_way: int = 5, seed: int = 0) -> dict:
    """Write the extract; return its counts (ways, nodes) and seconds.

    Parameters
    ----------
    path
        Output file (``.osm.pbf``).
    ways
        About how many ways.
    bbox
        West, south, east, north (degrees).
    nodes_per_way
        Shape nodes inside each way (besides its two lattice nodes).
    seed
        Random seed (the file is the same for the same arguments).

    Returns
    -------
    dict
        ``ways``, ``nodes``, ``seconds``, ``megabytes``.
    """
    import osmium
    from osmium.osm.mutable import Node, Way

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    w, s, e, n = bbox
    aspect = (e - w) * np.cos(np.radians((s + n) / 2)) / (n - s)
    rows = max(2, int(round(np.sqrt(ways / 2 / aspect))))
    cols = max(2, int(round(ways / 2 / rows)))
    dy, dx = (n - s) / (rows - 1), (e - w) / (cols - 1)
    lat = s + np.arange(rows)[:, None] * dy + rng.uniform(-0.3, 0.3, (rows, cols)) * dy
    lon = w + np.arange(cols)[None, :] * dx + rng.uniform(-0.3, 0.3, (rows, cols)) * dx
    lattice_id = np.arange(rows * cols).reshape(rows, cols) + 1
    # Ways: horizontal (r, c) → (r, c+1) and vertical (r, c) → (r+1, c).
    hr, hc = np.meshgrid(np.arange(rows), np.arange(cols - 1), indexing="ij")
    vr, vc = np.meshgrid(np.arange(rows - 1), np.arange(cols), indexing="ij")
    a = np.concatenate([lattice_id[hr, hc].ravel(), lattice_id[vr, vc].ravel()])
    b = np.concatenate([lattice_id[hr, hc + 1].ravel(), lattice_id[vr + 1, vc].ravel()])
    klass = np.concatenate([line_class(hr.ravel(), rng), line_class(vc.ravel(), rng)])
    m = len(a)
    ax, ay = lon.ravel()[a - 1], lat.ravel()[a - 1]
    bx, by = lon.ravel()[b - 1], lat.ravel()[b - 1]
    t = np.linspace(0, 1, nodes_per_way + 2)[1:-1]
    wiggle = rng.normal(0, 0.02, (m, nodes_per_way)) * np.hypot(bx - ax, by - ay)[:, None]
    sx = ax[:, None] + (bx - ax)[:, None] * t - (by - ay)[:, None] / np.hypot(bx - ax, by - ay)[:, None] * wiggle
    sy = ay[:, None] + (by - ay)[:, None] * t + (bx - ax)[:, None] / np.hypot(bx - ax, by - ay)[:, None] * wiggle
    first_shape = rows * cols + 1
    shape_id = first_shape + np.arange(m * nodes_per_way).reshape(m, nodes_per_way)
    speed = np.where(rng.random(m) < 0.2, MAXSPEED[rng.integers(0, len(MAXSPEED), m)], "")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name.replace(".osm.pbf", "") + ".part.osm.pbf")
    tmp.unlink(missing_ok=True)
    writer = osmium.SimpleWriter(str(tmp))
    try:
        for i, (x, y) in enumerate(zip(lon.ravel().tolist(), lat.ravel().tolist())):
            writer.add_node(Node(id=i + 1, location=(x, y)))
        for i, (x, y) in enumerate(zip(sx.ravel().tolist(), sy.ravel().tolist())):
            writer.add_node(Node(id=first_shape + i, location=(x, y)))
        a_l, b_l, k_l, v_l, sh = a.tolist(), b.tolist(), klass.tolist(), speed.tolist(), shape_id.tolist()
        for i in range(m):
            tags = {"highway": k_l[i]}
            if v_l[i]:
                tags["maxspeed"] = v_l[i]
            writer.add_way(Way(id=i + 1, nodes=[a_l[i], *sh[i], b_l[i]], tags=tags))
    finally:
        writer.close()
    tmp.replace(path)
    return {"ways": m, "nodes": rows * cols + m * nodes_per_way, "seconds": time.perf_counter() - t0,
            "megabytes": path.stat().st_size / 2**20}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--ways", type=int, default=1_000_000)
    ap.add_argument("--bbox", type=float, nargs=4, default=[44.0, 37.0, 90.0, 57.0])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    info = write(args.out, args.ways, tuple(args.bbox), seed=args.seed)
    print(f"{args.out}: {info['ways']:,} ways, {info['nodes']:,} nodes, {info['megabytes']:.0f} MB "
          f"in {info['seconds']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
