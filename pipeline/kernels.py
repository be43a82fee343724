"""Compiled inner loops (numba) of the accessibility and influence stages.

Reads and writes nothing: pure functions on numpy arrays, each the loop of one step that numpy would
run as several passes over memory (tens of millions of cells). Compiled on first use and cached next to
this file (numba's ``cache=True``; a read-only install caches in the user's cache directory), run on every
core (``prange``).

- :func:`nearest_k_cells`: the ``k`` nearest of a set of points for the centres of raster cells (exact,
  Euclidean, the same as ``scipy.spatial.cKDTree.query``); blocks of cells share one candidate list.
- :func:`best_of_k_on_grid`: the fastest of each cell's candidate access points (travel time there + the
  cell's off-network leg) or the straight leg to a pole, written into the hours and pole rasters.
- :func:`min_of_k`: the same minimum for one pole at a time (Huff: every cell's minutes to every pole).
- :func:`huff_accumulate`: one pole's Huff weights A^α·exp(−β·t) added to the running totals and the
  dominant pole of several attraction variants, in one pass.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from scipy.spatial import cKDTree

@njit(cache=True)
def _buckets(px, py, x0, y0, size, nx, ny):
    """Points sorted into a bucket grid: (start offsets of each bucket, point order)."""
    m = px.shape[0]
    key = np.empty(m, dtype=np.int64)
    for i in range(m):
        bx = min(max(int((px[i] - x0) / size), 0), nx - 1)
        by = min(max(int((py[i] - y0) / size), 0), ny - 1)
        key[i] = by * nx + bx
    start = np.zeros(nx * ny + 1, dtype=np.int64)
    for i in range(m):
        start[key[i] + 1] += 1
    for b in range(nx * ny):
        start[b + 1] += start[b]
    fill = start[:-1].copy()
    order = np.empty(m, dtype=np.int64)   # counting sort: stable, points of a bucket keep their order
    for i in range(m):
        order[fill[key[i]]] = i
        fill[key[i]] += 1
    return start, order


@njit(cache=True, inline="always")
def _insert(d2, p, k, best_d, best_i):
    """Put (d2, p) into the ascending top-k lists if it belongs there (ties: lower index first)."""
    if d2 > best_d[k - 1] or (d2 == best_d[k - 1] and p >= best_i[k - 1]):
        return
    j = k - 1
    while j > 0 and (best_d[j - 1] > d2 or (best_d[j - 1] == d2 and best_i[j - 1] > p)):
        best_d[j] = best_d[j - 1]
        best_i[j] = best_i[j - 1]
        j -= 1
    best_d[j] = d2
    best_i[j] = p


@njit(parallel=True, cache=True)
def _nearest_k_cells(px, py, ids, rows, cols, band_start, block_dk, nbx, B, ox, oy, res, k, x0, y0, size, nx, ny,
                     start, order, scale, at, out_i, out_d):
    """Bands of B grid rows in parallel. In a band, each block of B × B cells gets the points within
    (k-th distance of its centre + its diameter) of the centre, sorted by distance to the centre; the
    band's cells, in their order, then scan their block's list and stop once no later point can be
    nearer (triangle inequality)."""
    n_bands = band_start.shape[0] - 1
    h = (B - 1) * res / np.sqrt(2.0) + 1e-6   # a cell centre's largest distance to its block's centre
    for band in prange(n_bands):
        a, b = band_start[band], band_start[band + 1]
        if a == b:
            continue
        # 1. candidate lists of the band's blocks: count, then fill
        counts = np.zeros(nbx + 1, dtype=np.int64)
        cand = np.empty(0, dtype=np.int64)
        dist = np.empty(0)
        for pas in range(2):
            if pas == 1:
                for j in range(nbx):
                    counts[j + 1] += counts[j]
                cand = np.empty(counts[nbx], dtype=np.int64)
                dist = np.empty(counts[nbx])
            for j in range(nbx):
                dk = block_dk[band, j]
                if np.isnan(dk):
                    continue   # no cell of the band in this block
                cx = ox + (j * B + 0.5 * B) * res
                cy = oy - (band * B + 0.5 * B) * res
                radius = dk + 2.0 * h if np.isfinite(dk) else np.inf
                bx0, bx1, by0, by1 = 0, nx - 1, 0, ny - 1
                if np.isfinite(radius):
                    bx0 = max(int(np.floor((cx - radius - x0) / size)), 0)
                    bx1 = min(int(np.floor((cx + radius - x0) / size)), nx - 1)
                    by0 = max(int(np.floor((cy - radius - y0) / size)), 0)
                    by1 = min(int(np.floor((cy + radius - y0) / size)), ny - 1)
                m = 0
                for by in range(by0, by1 + 1):
                    if bx1 < bx0:
                        break
                    for s in range(start[by * nx + bx0], start[by * nx + bx1 + 1]):
                        p = order[s]
                        d = np.sqrt((px[p] - cx) ** 2 + (py[p] - cy) ** 2)
                        if d <= radius:
                            if pas == 1:
                                cand[counts[j] + m] = p
                                dist[counts[j] + m] = d
                            m += 1
                if pas == 0:
                    counts[j + 1] = m
                elif m > 64:
                    lo = counts[j]
                    srt = np.argsort(dist[lo:lo + m])
                    cand[lo:lo + m] = cand[lo:lo + m][srt]
                    dist[lo:lo + m] = dist[lo:lo + m][srt]
                else:   # insertion sort in place: lists are short
                    lo = counts[j]
                    for u in range(lo + 1, lo + m):
                        du, cu = dist[u], cand[u]
                        w = u
                        while w > lo and dist[w - 1] > du:
                            dist[w] = dist[w - 1]
                            cand[w] = cand[w - 1]
                            w -= 1
                        dist[w] = du
                        cand[w] = cu
        # 2. the band's cells, in order
        best_d = np.empty(k)
        best_i = np.empty(k, dtype=np.int64)
        for q in range(a, b):
            j = cols[q] // B
            x = ox + (cols[q] + 0.5) * res
            y = oy - (rows[q] + 0.5) * res
            cx = ox + (j * B + 0.5 * B) * res
            cy = oy - (band * B + 0.5 * B) * res
            hq = np.sqrt((x - cx) ** 2 + (y - cy) ** 2) + 1e-6
            for t in range(k):
                best_d[t] = np.inf
                best_i[t] = -1
            for c in range(counts[j], counts[j + 1]):
                if best_i[k - 1] >= 0:
                    lim = dist[c] - hq
                    if lim > 0.0 and lim * lim > best_d[k - 1] * (1.0 + 1e-12):
                        break
                p = cand[c]
                dx = px[p] - x
                dy = py[p] - y
                _insert(dx * dx + dy * dy, p, k, best_d, best_i)
            col = at[q]
            for t in range(k):
                if best_i[t] >= 0:
                    out_i[t, col] = ids[best_i[t]]
                    out_d[t, col] = np.float32(np.sqrt(best_d[t]) * scale)


def nearest_k_cells(points: np.ndarray, rows: np.ndarray, cols: np.ndarray, transform, k: int,
                    out_index: np.ndarray, out_value: np.ndarray, *, ids: np.ndarray | None = None,
                    at: np.ndarray | None = None, scale: float = 1.0, block: int = 8) -> None:
    """The ``k`` nearest points of the centre of each of some raster cells (Euclidean), nearest first,
    written into columns of ``out_index`` and ``out_value``.

    Exact: the neighbours and distances of ``scipy.spatial.cKDTree(points).query(centres, k)``, ties
    broken by the lower point position. Points are indexed by a bucket grid; cells are taken in blocks
    of ``block`` × ``block`` that share one candidate list (raster queries make a k-d tree's descent
    from the root redundant). Where fewer than ``k`` points exist the rest of the outputs is untouched.

    Parameters
    ----------
    points
        (M, 2) coordinates in the grid's CRS.
    rows, cols
        (N,) the cells, sorted by row (as ``numpy.nonzero`` gives them).
    transform
        The grid's north-up affine transform (square cells).
    k
        Neighbours per cell.
    out_index
        (≥ k, …) integer array: receives ``ids`` of the neighbours (column ``at[i]`` for cell i).
    out_value
        (≥ k, …) float32 array: receives distance × ``scale`` (e.g. minutes per metre).
    ids
        (M,) what to write for each point (default: its position).
    at
        (N,) the output column of each cell (default: 0 … N − 1).
    scale
        Factor applied to the distances (computed in float64, stored as float32).
    block
        Side of the blocks of cells, in cells.
    """
    points = np.ascontiguousarray(points, dtype=np.float64)
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    if len(rows) == 0 or len(points) == 0:
        return
    if np.any(np.diff(rows) < 0):
        raise ValueError("nearest_k_cells: cells must be sorted by row (numpy.nonzero order)")
    res, ox, oy = float(transform.a), float(transform.c), float(transform.f)
    if abs(transform.e + res) > 1e-9 * res or transform.b or transform.d:
        raise ValueError("nearest_k_cells: the grid must be north-up with square cells")
    ids = np.arange(len(points), dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
    at = np.arange(len(rows), dtype=np.int64) if at is None else np.asarray(at, dtype=np.int64)
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    span = max(x1 - x0, y1 - y0, res)
    bucket = max(np.sqrt(max((x1 - x0) * (y1 - y0), 1e-3 * span * span) / len(points) * 4.0), span / 4096)
    nx, ny = int((x1 - x0) / bucket) + 1, int((y1 - y0) / bucket) + 1
    start, order = _buckets(points[:, 0], points[:, 1], float(x0), float(y0), float(bucket), nx, ny)
    # blocks holding cells, and the k-th distance from their centres (NaN: no cell; inf: < k points)
    n_bands, nbx = int(rows.max()) // block + 1, int(cols.max()) // block + 1
    band_start = np.searchsorted(rows, np.arange(n_bands + 1) * block)
    occupied = np.zeros(n_bands * nbx, dtype=bool)
    occupied[(rows // block) * nbx + cols // block] = True
    used = np.flatnonzero(occupied)
    block_dk = np.full(n_bands * nbx, np.nan)
    centres = np.column_stack([ox + ((used % nbx) * block + 0.5 * block) * res,
                               oy - ((used // nbx) * block + 0.5 * block) * res])
    if k <= len(points):
        block_dk[used] = cKDTree(points).query(centres, k=[k], workers=-1)[0][:, 0]
    else:
        block_dk[used] = np.inf
    _nearest_k_cells(points[:, 0].copy(), points[:, 1].copy(), ids, rows, cols, band_start,
                     block_dk.reshape(n_bands, nbx), nbx, int(block), ox, oy, res, int(k), float(x0), float(y0),
                     float(bucket), nx, ny, start, order, float(scale), at, out_index, out_value)


@njit(cache=True, inline="always")
def _via_access(t_point, point, leg_min, i):
    """Cell i's fastest candidate access point: (minutes through it, the point; inf and −1 for none).
    The first candidate wins a tie."""
    best = np.inf
    via = -1
    for j in range(point.shape[0]):
        p = point[j, i]
        if p >= 0:
            c = t_point[p] + np.float64(leg_min[j, i])
            if c < best:
                best = c
                via = p
    return best, via


@njit(parallel=True, cache=True)
def best_of_k_on_grid(t_point, pole_point, point, leg_min, pole, pole_min, rows, cols, hours, which):
    """The fastest way from each cell to a pole — through one of its candidate access points or straight —
    written into rasters: ``hours`` (float32, minutes / 60) and ``which`` (the pole); cells no pole reaches are
    left as they are.

    Parameters
    ----------
    t_point
        (M,) minutes from the nearest pole to each access point (inf: unreachable).
    pole_point
        (M,) that pole.
    point, leg_min
        (k, N) each cell's candidate access points (−1: none) and its off-network minutes to them.
    pole, pole_min
        (N,) the nearest pole in a straight line (−1: none) and the off-network minutes to it.
    rows, cols
        (N,) each cell's position in the rasters.
    hours, which
        (height, width) rasters, filled in place. The first candidate wins a tie; the straight leg only
        when strictly faster.
    """
    for i in prange(point.shape[1]):
        best, via = _via_access(t_point, point, leg_min, i)
        w = pole_point[via] if via >= 0 else -1
        d = np.float64(pole_min[i])
        if d < best:
            best = d
            w = pole[i]
        if np.isfinite(best):
            hours[rows[i], cols[i]] = np.float32(best / 60.0)
            which[rows[i], cols[i]] = w


@njit(parallel=True, cache=True)
def min_of_k(t_point, point, leg_min, label, rows, cols, ox, ax, oy, ey, pole_label, pole_x, pole_y, per_min):
    """(N,) minutes from each cell to one pole: through the fastest of its candidate access points, or
    straight to the pole for the cells of the pole's country (inf: neither).

    Parameters
    ----------
    t_point
        (M,) minutes from the pole to each access point.
    point, leg_min
        (k, N) candidate access points of each cell (−1: none) and the off-network minutes to them.
    label, rows, cols
        (N,) each cell's country label and raster position.
    ox, ax, oy, ey
        The grid's origin and cell size in x and y (``transform.c, .a, .f, .e``).
    pole_label, pole_x, pole_y
        The pole's country label and coordinates (grid CRS).
    per_min
        Off-network minutes per metre.

    Returns
    -------
    ndarray (N,) float64
    """
    n = point.shape[1]
    out = np.empty(n)
    for i in prange(n):
        best = _via_access(t_point, point, leg_min, i)[0]
        if label[i] == pole_label:
            x = ox + ax * (cols[i] + 0.5)
            y = oy + ey * (rows[i] + 0.5)
            d = np.hypot(x - pole_x, y - pole_y) * per_min
            if d < best:
                best = d
        out[i] = best
    return out


@njit(parallel=True, cache=True)
def huff_accumulate(minutes, weight, beta_per_min, pole, total, best_w, best):
    """Add one pole to streaming Huff totals of V attraction variants, in place.

    Parameters
    ----------
    minutes
        (N,) minutes from each place to the pole (inf: unreachable, weight 0).
    weight
        (V,) the pole's A^α per variant (≤ 0: not in that variant).
    beta_per_min
        Distance decay per minute (β per hour / 60); 0: every reachable place weighs A^α.
    pole
        The pole's index.
    total, best_w
        (V, N) running sum of weights and the largest weight so far.
    best
        (V, N) the pole of the largest weight (−1: none); a later pole wins only when strictly larger.
    """
    n = minutes.shape[0]
    v = weight.shape[0]
    for i in prange(n):
        t = minutes[i]
        if not np.isfinite(t):
            continue
        decay = np.exp(-beta_per_min * t)
        for j in range(v):
            if weight[j] <= 0:
                continue
            w = decay * weight[j]
            total[j, i] += w
            if w > best_w[j, i]:
                best_w[j, i] = w
                best[j, i] = pole
