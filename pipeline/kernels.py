"""Compiled inner loops (numba) of the accessibility and influence stages.

Reads and writes nothing: pure functions on numpy arrays, each the loop of one step that numpy would
run as several passes over memory (tens of millions of cells). Compiled on first use and cached next to
this file (numba's ``cache=True``; a read-only install caches in the user's cache directory), run on every
core (``prange``).

- :func:`nearest_k_labelled`: for every labelled cell of a raster, the ``k`` nearest points with the same
  label (exact, Euclidean, the same as ``scipy.spatial.cKDTree.query`` per label), in one pass over the
  raster; blocks of cells share one candidate list. :func:`land_cells` lists the same cells.
- :func:`best_of_k_on_grid`: the fastest of each cell's candidate access points (travel time there + the
  cell's off-network leg) or the straight leg to a pole, written into the hours and pole rasters, for
  several scenarios in one pass; :func:`best_of_k_at` the same for some of the cells.
- :func:`min_of_k`: the same minimum for one pole at a time (every cell's minutes to one pole).
- :func:`huff_accumulate`: one pole's Huff weights A^α·exp(−β·t) added to the running totals and the
  dominant pole of several attraction variants, in one pass.
- :func:`huff_batch`: both of the last two for a batch of poles, in one pass over the cells (what the
  influence stage runs: the cells' minutes to each pole are never stored), the decay exp(−β·t) as the
  product of the access point's and the cell's leg's (one exp per candidate, not per pole; equal to
  rounding); :func:`huff_all` the same for all poles at once, with each cell's sums in registers.
- :func:`label_sums`: two weighted sums per label in one pass (two ``np.bincount`` calls, without their
  casts of the labels); :func:`label_means` a mean per label, negative labels left out.
- :func:`label_rings`: the boundary rings of the 4-connected regions of equal value of a raster (what GDAL's
  polygonising traces), in one pass over the cells and one along the boundaries: a tenth of GDAL's time on
  the study's 8-million-cell rasters; :func:`pipeline.rasters.class_polygons` makes the polygons.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from scipy.spatial import cKDTree

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


@njit(cache=True, inline="always")
def _best_of_k_cell(t_point, pole_point, point, leg_min, pole, pole_min, rows, cols, hours, which, i):
    """Cell i's fastest way to a pole in each scenario s (rows of ``t_point``), written into ``hours[s]`` and
    ``which[s]``: its candidates are read once for every scenario."""
    d = np.float64(pole_min[i])
    r = rows[i]
    c = cols[i]
    for s in range(t_point.shape[0]):
        best, via = _via_access(t_point[s], point, leg_min, i)
        w = pole_point[s, via] if via >= 0 else -1
        if d < best:
            best = d
            w = pole[i]
        if np.isfinite(best):
            hours[s, r, c] = np.float32(best / 60.0)
            which[s, r, c] = w


@njit(parallel=True, cache=True)
def best_of_k_on_grid(t_point, pole_point, point, leg_min, pole, pole_min, rows, cols, hours, which):
    """The fastest way from each cell to a pole — through one of its candidate access points or straight —
    in each of S scenarios, written into rasters: ``hours`` (float32, minutes / 60) and ``which`` (the pole);
    cells no pole reaches are left as they are. One pass over the cells for every scenario (the cells'
    candidates, most of the memory read, are read once).

    Parameters
    ----------
    t_point
        (S, M) minutes from the nearest pole to each access point per scenario (inf: unreachable).
    pole_point
        (S, M) that pole.
    point, leg_min
        (k, N) each cell's candidate access points (−1: none) and its off-network minutes to them.
    pole, pole_min
        (N,) the nearest pole in a straight line (−1: none) and the off-network minutes to it.
    rows, cols
        (N,) each cell's position in the rasters.
    hours, which
        (S, height, width) rasters, filled in place. The first candidate wins a tie; the straight leg only
        when strictly faster.
    """
    for i in prange(point.shape[1]):
        _best_of_k_cell(t_point, pole_point, point, leg_min, pole, pole_min, rows, cols, hours, which, i)


@njit(parallel=True, cache=True)
def best_of_k_at(cells, t_point, pole_point, point, leg_min, pole, pole_min, rows, cols, hours, which):
    """:func:`best_of_k_on_grid` for some of the cells only: positions ``cells`` (ascending int64) among the
    N; the others are left as they are (the same values for the cells computed)."""
    for q in prange(cells.shape[0]):
        _best_of_k_cell(t_point, pole_point, point, leg_min, pole, pole_min, rows, cols, hours, which, cells[q])


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


@njit(parallel=True, cache=True)
def _block_labels(labels, lut, B, n_labels):
    """(blocks, labels) presence of each label (by rank) in each B × B block of the raster."""
    h, w = labels.shape
    n_bands, nbx = (h + B - 1) // B, (w + B - 1) // B
    out = np.zeros((n_bands * nbx, n_labels), dtype=np.uint8)
    for band in prange(n_bands):
        for r in range(band * B, min(h, band * B + B)):
            for c in range(w):
                v = labels[r, c]
                if v > 0 and v < lut.shape[0] and lut[v] >= 0:
                    out[band * nbx + c // B, lut[v]] = 1
    return out


@njit(parallel=True, cache=True)
def _land_cells(labels, row_start, rows, cols, lab):
    """Positions and labels of the cells with a label > 0, in row-major (numpy.nonzero) order."""
    h, w = labels.shape
    for r in prange(h):
        q = row_start[r]
        for c in range(w):
            v = labels[r, c]
            if v > 0:
                rows[q] = r
                cols[q] = c
                lab[q] = v
                q += 1


@njit(parallel=True, cache=True)
def _block_kth(cx, cy, rank, k_of, px, py, start, x0, y0, size, nx, ny, max_ring):
    """Distance from each centre to the k-th nearest point of its label, by rings of buckets around the
    centre's bucket (exact); NaN where ``max_ring`` rings do not settle it (the caller asks a k-d tree)."""
    n = cx.shape[0]
    out = np.full(n, np.nan)
    nb = nx * ny
    kmax = 0
    for r in range(k_of.shape[0]):
        kmax = max(kmax, k_of[r])
    for u in prange(n):
        lr = rank[u]
        k = k_of[lr]
        x, y = cx[u], cy[u]
        cbx = int(np.floor((x - x0) / size))
        cby = int(np.floor((y - y0) / size))
        best = np.full(kmax, np.inf)
        found = 0
        for g in range(max_ring + 1):
            for by in range(max(cby - g, 0), min(cby + g, ny - 1) + 1):
                edge_row = by == cby - g or by == cby + g
                step = 1 if edge_row else 2 * g
                bx = cbx - g
                while bx <= cbx + g:
                    if 0 <= bx < nx:
                        b = lr * nb + by * nx + bx
                        for s in range(start[b], start[b + 1]):
                            d2 = (px[s] - x) ** 2 + (py[s] - y) ** 2
                            if d2 < best[k - 1]:
                                j = k - 1
                                while j > 0 and best[j - 1] > d2:
                                    best[j] = best[j - 1]
                                    j -= 1
                                best[j] = d2
                                found += 1
                    bx += step
            covered = min(x - (x0 + (cbx - g) * size), x0 + (cbx + g + 1) * size - x,
                          y - (y0 + (cby - g) * size), y0 + (cby + g + 1) * size - y)
            whole = cbx - g <= 0 and cbx + g >= nx - 1 and cby - g <= 0 and cby + g >= ny - 1
            if found >= k and (whole or best[k - 1] <= covered * covered):
                out[u] = np.sqrt(best[k - 1])
                break
            if whole:
                break
    return out


@njit(cache=True)
def _ring_sort(cx_, cy_, ci_, cd_, lo, hi, ring):
    """Order list[lo:hi] by rings of width ``ring`` around the block centre (a stable counting sort) and
    replace each distance by its ring's inner radius: a lower bound that never decreases along the list,
    which is all the scan's stopping test needs (exact order within a ring does not matter: ties are
    broken by point id)."""
    m = hi - lo
    dmin, dmax = np.inf, -np.inf
    for a in range(lo, hi):
        dmin = min(dmin, cd_[a])
        dmax = max(dmax, cd_[a])
    width = max(ring, (dmax - dmin) / (2 * m))
    nbin = int((dmax - dmin) / width) + 1
    cnt = np.zeros(nbin + 1, dtype=np.int64)
    bins = np.empty(m, dtype=np.int64)
    for a in range(m):
        g = min(int((cd_[lo + a] - dmin) / width), nbin - 1)
        bins[a] = g
        cnt[g + 1] += 1
    for g in range(nbin):
        cnt[g + 1] += cnt[g]
    tx, ty, ti = cx_[lo:hi].copy(), cy_[lo:hi].copy(), ci_[lo:hi].copy()
    for a in range(m):
        g = bins[a]
        b = lo + cnt[g]
        cnt[g] += 1
        cx_[b] = tx[a]
        cy_[b] = ty[a]
        ci_[b] = ti[a]
        cd_[b] = dmin + g * width


@njit(parallel=True, cache=True)
def _nearest_k_labelled(labels, lut, row_start, B, pair_start, pair_rank, pair_dk, k_of, px, py, pid,
                        start, x0, y0, size, nx, ny, ox, oy, res, scale, ring, out_i, out_d):
    """Bands of B raster rows in parallel; in a band, blocks left to right. Each (block, label) pair gets
    the label's points within (k-th distance of the block centre + the block's diameter) of the centre,
    sorted by distance to the centre (coordinates copied, so the scan reads memory in order); each cell
    then scans its label's list and stops once no later point can be nearer (triangle inequality)."""
    h, w = labels.shape
    n_bands, nbx = (h + B - 1) // B, (w + B - 1) // B
    n_labels = k_of.shape[0]
    nb = nx * ny
    half = (B - 1) * res / np.sqrt(2.0) + 1e-6   # a cell centre's largest distance to its block's centre
    kmax = out_i.shape[0]
    for band in prange(n_bands):
        r0, r1 = band * B, min(h, band * B + B)
        pos = np.empty(r1 - r0, dtype=np.int64)
        for r in range(r0, r1):
            pos[r - r0] = row_start[r]
        cap = px.shape[0]   # a block's lists hold each point at most once (pages touched only as used)
        cx_ = np.empty(cap)
        cy_ = np.empty(cap)
        ci_ = np.empty(cap, dtype=np.int64)
        cd_ = np.empty(cap)
        lo_of = np.full(n_labels, -1, dtype=np.int64)
        hi_of = np.zeros(n_labels, dtype=np.int64)
        best_d = np.empty(kmax)
        best_i = np.empty(kmax, dtype=np.int64)
        for j in range(nbx):
            blk = band * nbx + j   # a block without pairs still advances its cells' positions
            bcx = ox + (j * B + 0.5 * B) * res
            bcy = oy - (band * B + 0.5 * B) * res
            m = 0
            for u in range(pair_start[blk], pair_start[blk + 1]):
                lr = pair_rank[u]
                lo_of[lr] = m
                radius = pair_dk[u] + 2.0 * half   # finite: every label here has at least one point
                bx0 = max(int(np.floor((bcx - radius - x0) / size)), 0)
                bx1 = min(int(np.floor((bcx + radius - x0) / size)), nx - 1)
                by0 = max(int(np.floor((bcy - radius - y0) / size)), 0)
                by1 = min(int(np.floor((bcy + radius - y0) / size)), ny - 1)
                if bx1 >= bx0:
                    for by in range(by0, by1 + 1):
                        base = lr * nb + by * nx
                        for s in range(start[base + bx0], start[base + bx1 + 1]):
                            d = np.sqrt((px[s] - bcx) ** 2 + (py[s] - bcy) ** 2)
                            if d <= radius:
                                cx_[m] = px[s]
                                cy_[m] = py[s]
                                ci_[m] = pid[s]
                                cd_[m] = d
                                m += 1
                lo = lo_of[lr]
                hi_of[lr] = m
                if m - lo > 1:
                    _ring_sort(cx_, cy_, ci_, cd_, lo, m, ring)
            c0, c1 = j * B, min(w, j * B + B)
            for r in range(r0, r1):
                y = oy - (r + 0.5) * res
                for c in range(c0, c1):
                    v = labels[r, c]
                    if v <= 0:
                        continue
                    q = pos[r - r0]
                    pos[r - r0] = q + 1
                    if v >= lut.shape[0] or lut[v] < 0:
                        continue
                    lr = lut[v]
                    lo, hi = lo_of[lr], hi_of[lr]
                    if lo < 0 or hi == lo:
                        continue
                    k = k_of[lr]
                    x = ox + (c + 0.5) * res
                    hq = np.sqrt((x - bcx) ** 2 + (y - bcy) ** 2) + 1e-6
                    for t in range(k):
                        best_d[t] = np.inf
                        best_i[t] = -1
                    for a in range(lo, hi):
                        if best_i[k - 1] >= 0:
                            lim = cd_[a] - hq
                            if lim > 0.0 and lim * lim > best_d[k - 1] * (1.0 + 1e-12):
                                break
                        dx = cx_[a] - x
                        dy = cy_[a] - y
                        _insert(dx * dx + dy * dy, ci_[a], k, best_d, best_i)
                    for t in range(k):
                        if best_i[t] >= 0:
                            out_i[t, q] = best_i[t]
                            out_d[t, q] = np.float32(np.sqrt(best_d[t]) * scale)
            for u in range(pair_start[blk], pair_start[blk + 1]):
                lo_of[pair_rank[u]] = -1


def _row_start(labels: np.ndarray) -> np.ndarray:
    """(height + 1,) position of each row's first labelled cell (label > 0) in ``numpy.nonzero`` order."""
    return np.concatenate([[0], np.cumsum(np.count_nonzero(labels > 0, axis=1))]).astype(np.int64)


def land_cells(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cells of a label raster with a label > 0: rows, columns and labels, in ``numpy.nonzero`` order.

    Parameters
    ----------
    labels
        (height, width) integer raster (0: no label).

    Returns
    -------
    rows, cols : ndarray (N,) int32 (half the memory of int64: 61 MB less for 7.6 M cells; rasters of up to
        2³¹ rows and columns)
    label : ndarray (N,) of the raster's dtype
    """
    labels = np.ascontiguousarray(labels)
    row_start = _row_start(labels)
    n = int(row_start[-1])
    rows, cols = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32)
    lab = np.empty(n, dtype=labels.dtype)
    _land_cells(labels, row_start, rows, cols, lab)
    return rows, cols, lab


def nearest_k_labelled(labels: np.ndarray, transform, points: np.ndarray, point_label: np.ndarray, k: int,
                       out_index: np.ndarray, out_value: np.ndarray, *, ids: np.ndarray | None = None,
                       scale: float = 1.0, block: int = 8, ring: float = 0.5) -> None:
    """For every cell of a label raster with a label > 0, the ``k`` nearest points with the same label
    (Euclidean, from the cell's centre), nearest first, written into the cell's column of ``out_index``
    and ``out_value``: column i is the i-th labelled cell in ``numpy.nonzero`` order.

    Exact: per label, the neighbours and distances of ``scipy.spatial.cKDTree(points).query(centres, k)``,
    ties broken by the lower point position. A label with fewer than ``k`` points gets all of them, nearest
    first, and the rest of its columns is untouched; so is every column of a label with no point. One pass
    over the raster, all labels at once, on every core. Points go into a bucket grid per label; each
    block of ``block`` × ``block`` cells gets one candidate list per label present in it (the points
    within the k-th distance of the block's centre plus the block's diameter: a cell's own neighbours
    cannot be farther), ordered by rings around the centre, and each cell scans its list until no later
    point can be nearer.

    Parameters
    ----------
    labels
        (height, width) integer raster (0: no label), e.g. country labels of a grid.
    transform
        The raster's north-up affine transform (square cells).
    points
        (M, 2) coordinates in the raster's CRS.
    point_label
        (M,) label of each point (points labelled 0 or with a label absent from the raster are ignored).
    k
        Neighbours per cell (at most ``out_index.shape[0]``).
    out_index
        (≥ k, N) integer array, N the number of labelled cells: receives ``ids`` of the neighbours.
    out_value
        (≥ k, N) float32 array: receives distance × ``scale`` (e.g. minutes per metre).
    ids
        (M,) what to write for each point, increasing with its position (default: its position).
    scale
        Factor applied to the distances (computed in float64, stored as float32).
    block
        Side of the blocks of cells sharing one candidate list, in cells.
    """
    labels = np.ascontiguousarray(labels)
    res, ox, oy = float(transform.a), float(transform.c), float(transform.f)
    if abs(transform.e + res) > 1e-9 * res or transform.b or transform.d:
        raise ValueError("nearest_k_labelled: the grid must be north-up with square cells")
    if k > out_index.shape[0]:
        raise ValueError("nearest_k_labelled: k is larger than the output's first dimension")
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    point_label = np.asarray(point_label, dtype=np.int64)
    ids = np.arange(len(points), dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
    row_start = _row_start(labels)
    keep = point_label > 0
    ranks = np.unique(point_label[keep])
    if row_start[-1] == 0 or ranks.size == 0:
        return
    if out_index.shape[1] != row_start[-1] or out_value.shape[1] != row_start[-1]:
        raise ValueError("nearest_k_labelled: the outputs need one column per labelled cell")
    lut = np.full(int(max(labels.max(), ranks.max())) + 1, -1, dtype=np.int64)
    lut[ranks] = np.arange(len(ranks))
    points, point_label, ids = points[keep], point_label[keep], ids[keep]
    n_labels = len(ranks)
    point_rank = lut[point_label]
    n_pts = np.bincount(point_rank, minlength=n_labels)
    k_of = np.minimum(k, n_pts).astype(np.int64)
    # points: a bucket grid per label (label-major counting sort, stable)
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    span = max(x1 - x0, y1 - y0, res)
    bucket = max(np.sqrt(max((x1 - x0) * (y1 - y0), 1e-3 * span * span) / len(points) * 16.0), span / 4096)
    nx, ny = int((x1 - x0) / bucket) + 1, int((y1 - y0) / bucket) + 1
    bx = np.clip(((points[:, 0] - x0) / bucket).astype(np.int64), 0, nx - 1)
    by = np.clip(((points[:, 1] - y0) / bucket).astype(np.int64), 0, ny - 1)
    key = point_rank * (nx * ny) + by * nx + bx   # label-major: about 16 points a bucket over all labels
    order = np.argsort(key, kind="stable")
    start = np.zeros(n_labels * nx * ny + 1, dtype=np.int64)
    np.cumsum(np.bincount(key, minlength=n_labels * nx * ny), out=start[1:])
    px, py, pid = points[order, 0].copy(), points[order, 1].copy(), ids[order].copy()
    # (block, label) pairs and the k-th distance of each block's centre to the label's points
    h, w = labels.shape
    n_bands, nbx = (h + block - 1) // block, (w + block - 1) // block
    blk, rank = np.nonzero(_block_labels(labels, lut, int(block), n_labels))
    pair_start = np.searchsorted(blk, np.arange(n_bands * nbx + 1))
    centres = np.column_stack([ox + ((blk % nbx) * block + 0.5 * block) * res,
                               oy - ((blk // nbx) * block + 0.5 * block) * res])
    rank = rank.astype(np.int64)
    dk = _block_kth(centres[:, 0].copy(), centres[:, 1].copy(), rank, k_of, px, py, start, float(x0), float(y0),
                    float(bucket), nx, ny, 8)
    for r in range(n_labels):   # far from the label's points: a k-d tree
        at = np.flatnonzero((rank == r) & np.isnan(dk))
        if at.size:
            dk[at] = cKDTree(points[point_rank == r]).query(centres[at], k=[int(k_of[r])])[0][:, 0]
    _nearest_k_labelled(labels, lut, row_start, int(block), pair_start, rank, dk, k_of,
                        px, py, pid, start, float(x0), float(y0), float(bucket), nx, ny, ox, oy, res,
                        float(scale), float(ring) * res, out_index, out_value)


@njit(cache=True, inline="always")
def _huff_decay(i, e_point, t_own, own_start, own_pole, own_x, own_y, beta_per_min, point, leg_min, label,
                rows, cols, ox, ax, oy, ey, per_min, decay, near_buf):
    """Cell i's distance decay exp(−β·t) to each pole of the batch (0: unreachable), t its minutes as in
    :func:`min_of_k`, written into ``decay``.

    exp(−β·(t_p + leg)) = exp(−β·t_p)·exp(−β·leg) and exp is decreasing, so the fastest candidate's decay is
    the largest product: one exp per candidate access point (``e_point`` holds exp(−β·t_p) for every point
    and pole) instead of one per pole, and equal to rounding. Only the poles of the cell's own country
    (positions ``own_start[label]`` to ``own_start[label + 1]`` of ``t_own``, ``own_x``, ``own_y``: the
    poles grouped by country, ``own_pole`` their places in the batch) may be reached by the straight leg,
    and only those whose straight leg's lower bound (the larger of |dx| and |dy|) is shorter than the
    minutes through the first candidate are tried (``near_buf``: room for the batch's poles); the larger
    decay wins, as the shorter minutes do in :func:`min_of_k`."""
    nb = e_point.shape[1]
    for b in range(nb):
        decay[b] = 0.0
    for j in range(point.shape[0]):
        p = point[j, i]
        if p >= 0:
            e_leg = np.exp(-beta_per_min * np.float64(leg_min[j, i]))
            for b in range(nb):   # branch-free, so that it vectorises
                v = e_point[p, b] * e_leg
                decay[b] = v if v > decay[b] else decay[b]
    lab = label[i]
    if lab < 0 or lab + 1 >= own_start.shape[0]:
        return
    x = ox + ax * (cols[i] + 0.5)
    y = oy + ey * (rows[i] + 0.5)
    p0 = point[0, i]
    leg0 = np.float64(leg_min[0, i])
    s, e = own_start[lab], own_start[lab + 1]
    near = 0
    for o in range(s, e):   # most cells: no own pole nearer in a straight line than through the first candidate
        lower = max(abs(x - own_x[o]), abs(y - own_y[o])) * per_min   # a lower bound: hypot is slow
        close = p0 < 0 or lower < t_own[max(p0, 0), o] + leg0
        near_buf[near] = o   # kept only when close
        near += close
    for q in range(near):   # faster in a straight line: a larger decay than through the network
        o = near_buf[q]
        straight = np.exp(-beta_per_min * np.hypot(x - own_x[o], y - own_y[o]) * per_min)
        b = own_pole[o]
        decay[b] = straight if straight > decay[b] else decay[b]


@njit(cache=True, inline="always")
def _huff_add(decay, weight, j, pole_ids, tot, bw, bp):
    """Add one cell's weights decay × A^α of variant j, poles in order, to its sum ``tot``, largest weight
    ``bw`` and dominant pole ``bp`` (a later pole takes the place only with a larger weight)."""
    for b in range(decay.shape[0]):
        w = decay[b] * weight[b, j]
        tot += w
        if w > bw:
            bw = w
            bp = pole_ids[b]
    return tot, bw, bp


@njit(parallel=True, cache=True)
def huff_batch(e_point, t_own, own_start, own_pole, own_x, own_y, pole_ids, weight, beta_per_min, point, leg_min,
               label, rows, cols, ox, ax, oy, ey, per_min, total, best_w, best):
    """Add a batch of poles to streaming Huff totals, in place: per cell, each pole's minutes (as
    :func:`min_of_k`) and its weights (as :func:`huff_accumulate`, poles in batch order), in one pass
    over the cells for the whole batch.

    Parameters
    ----------
    e_point
        (M, B) exp(−β·t), t the minutes from each of the batch's B poles to each access point (0: unreachable).
    t_own, own_start, own_pole, own_x, own_y
        The same poles grouped by country label (:func:`poles_by_label`): (M, B) their minutes t, float32
        rounded up (:func:`rounded_up_float32`; inf: unreachable), where each label's poles start (label L:
        ``own_start[L]`` to ``own_start[L + 1]``), their places in the batch and their coordinates (grid CRS).
    pole_ids
        (B,) each pole's index (written into ``best``).
    weight
        (B, V) each pole's A^α per variant (0: not in that variant; must not be negative).
    beta_per_min
        Distance decay per minute.
    point, leg_min
        (k, N) candidate access points of each cell (−1: none) and the off-network minutes to them.
    label, rows, cols
        (N,) each cell's country label and raster position.
    ox, ax, oy, ey
        The grid's origin and cell size in x and y (``transform.c, .a, .f, .e``).
    per_min
        Off-network minutes per metre (the straight leg to a pole of the cell's own country).
    total, best_w, best
        (V, N) running sums, largest weights and their poles, as in :func:`huff_accumulate`.
    """
    n = point.shape[1]
    nb = e_point.shape[1]
    nv = weight.shape[1]
    chunk = 4096
    for c in prange((n + chunk - 1) // chunk):
        decay = np.empty(nb)
        near_buf = np.empty(nb, dtype=np.int64)
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            _huff_decay(i, e_point, t_own, own_start, own_pole, own_x, own_y, beta_per_min, point, leg_min,
                        label, rows, cols, ox, ax, oy, ey, per_min, decay, near_buf)
            for j in range(nv):   # poles in batch order: the same sums as one pole at a time
                total[j, i], best_w[j, i], best[j, i] = _huff_add(decay, weight, j, pole_ids, total[j, i],
                                                                  best_w[j, i], np.int64(best[j, i]))


@njit(parallel=True, cache=True)
def huff_all(e_point, t_own, own_start, own_pole, own_x, own_y, pole_ids, weight, beta_per_min, point, leg_min,
             label, rows, cols, ox, ax, oy, ey, per_min, best, prob):
    """Huff's dominant pole and its probability for every cell when all poles are in one batch: as
    :func:`huff_batch` from empty totals followed by the division, with each cell's totals held in
    registers (no (V, N) arrays of running sums and largest weights: 366 MB on the data pack).

    Parameters
    ----------
    e_point, t_own, own_start, own_pole, own_x, own_y, pole_ids, weight, beta_per_min, point, leg_min,
    label, rows, cols, ox, ax, oy, ey, per_min
        As for :func:`huff_batch`, with every pole.
    best, prob
        (V, N) outputs: the dominant pole (−1: none reachable) and largest weight / sum of weights (NaN:
        none reachable).
    """
    n = point.shape[1]
    nb = e_point.shape[1]
    nv = weight.shape[1]
    chunk = 4096
    for c in prange((n + chunk - 1) // chunk):
        decay = np.empty(nb)
        near_buf = np.empty(nb, dtype=np.int64)
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            _huff_decay(i, e_point, t_own, own_start, own_pole, own_x, own_y, beta_per_min, point, leg_min,
                        label, rows, cols, ox, ax, oy, ey, per_min, decay, near_buf)
            for j in range(nv):   # from empty sums: those of huff_batch
                tot, bw, bp = _huff_add(decay, weight, j, pole_ids, 0.0, 0.0, np.int64(-1))
                best[j, i] = bp
                prob[j, i] = bw / tot if tot > 0 else np.nan


def poles_by_label(pole_label: np.ndarray, pole_x: np.ndarray, pole_y: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A batch's poles grouped by country label, for :func:`huff_batch` and :func:`huff_all` (each cell
    then reads the minutes of its own country's poles side by side).

    Parameters
    ----------
    pole_label
        (B,) each pole's country label (≥ 0).
    pole_x, pole_y
        (B,) the poles' coordinates.

    Returns
    -------
    own_start : ndarray (L + 3,) int64
        Where each label's poles start in the grouped order (L: the largest label; L + 1 has none).
    own_pole : ndarray (B,) int64
        The grouped poles' places in the batch (in batch order within a label).
    own_x, own_y : ndarray (B,)
        Their coordinates.
    """
    pole_label = np.asarray(pole_label, dtype=np.int64)
    own_pole = np.argsort(pole_label, kind="stable").astype(np.int64)
    counts = np.bincount(pole_label, minlength=int(pole_label.max(initial=0)) + 2)
    own_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return own_start, own_pole, np.asarray(pole_x, dtype=np.float64)[own_pole], \
        np.asarray(pole_y, dtype=np.float64)[own_pole]


def rounded_up_float32(minutes: np.ndarray) -> np.ndarray:
    """float32 minutes never below the float64 ones: a bound that stays conservative when :func:`huff_batch`
    filters the straight legs with it, in half the memory.

    Parameters
    ----------
    minutes
        float64 minutes (inf: unreachable).

    Returns
    -------
    ndarray (float32)
        Each value's nearest float32 at or above it (inf stays inf).
    """
    low = minutes.astype(np.float32)
    return np.where(low < minutes, np.nextafter(low, np.float32(np.inf)), low)


@njit(cache=True)
def label_means(labels, values, n):
    """Mean of ``values`` over the cells of each label, in one pass and without temporaries.

    Parameters
    ----------
    labels
        (N,) labels 0 … n − 1, or negative (no label: left out).
    values
        (N,) float64.
    n
        Number of labels.

    Returns
    -------
    ndarray (n,)
        Sum over each label's cells (in order, as ``np.bincount`` adds them) divided by their number; NaN for
        a label without cells.
    """
    total = np.zeros(n)
    count = np.zeros(n, dtype=np.int64)
    for i in range(labels.shape[0]):
        lab = labels[i]
        if lab >= 0:
            total[lab] += values[i]
            count[lab] += 1
    out = np.full(n, np.nan)
    for j in range(n):
        if count[j] > 0:
            out[j] = total[j] / count[j]
    return out


@njit(cache=True)
def label_sums(labels, a, b, n):
    """Sums of ``a`` and of ``b`` over the cells of each label, in one pass.

    Parameters
    ----------
    labels
        (N,) labels 0 … n − 1 (any integer type).
    a, b
        (N,) weights (float64).
    n
        Number of labels.

    Returns
    -------
    ndarray (2, n)
        ``np.bincount(labels, a, n)`` and ``np.bincount(labels, b, n)``: the same sums, bit for bit (cells
        added in order).
    """
    out = np.zeros((2, n))
    for i in range(labels.shape[0]):
        lab = labels[i]
        out[0, lab] += a[i]
        out[1, lab] += b[i]
    return out


@njit(cache=True, inline="always")
def _is_edge(labels, r, c, d, value):
    """Whether the cell edge leaving grid corner (r, c) in direction ``d`` (0 east, 1 north, 2 west, 3 south,
    in map terms: rows grow southwards) has a cell of ``value`` on its left and another value (or the grid's
    end) on its right."""
    h, w = labels.shape
    if d == 0:
        return r >= 1 and c < w and labels[r - 1, c] == value and (r == h or labels[r, c] != value)
    if d == 1:
        return r >= 1 and c >= 1 and labels[r - 1, c - 1] == value and (c == w or labels[r - 1, c] != value)
    if d == 2:
        return r < h and c >= 1 and labels[r, c - 1] == value and (r == 0 or labels[r - 1, c - 1] != value)
    return r < h and c < w and labels[r, c] == value and (c == 0 or labels[r, c - 1] != value)


@njit(cache=True)
def label_rings(labels, nodata):
    """The boundary rings of the 4-connected regions of equal value of an integer raster, traced with each
    region on the left (shells counter-clockwise, holes clockwise on a map), vertices at the grid corners
    where the boundary turns.

    Parameters
    ----------
    labels
        (height, width) integer raster.
    nodata
        The value left out.

    Returns
    -------
    rows, cols : ndarray (V,) int32
        Grid corners of the rings' vertices, ring after ring, each ring closed (its first vertex repeated).
    start : ndarray (R + 1,) int64
        Ring i is vertices start[i]:start[i + 1].
    value : ndarray (R,)
        The value of each ring's region.

    Notes
    -----
    Where two cells of a value meet only at a corner, the trace turns left, round the cell it is on, so
    that diagonal cells are not joined (4-connectivity, as GDAL's polygonising with connectivity 4). A ring
    starts at the first of its eastward edges in raster order, whose start is a corner.
    """
    h, w = labels.shape
    n_edges = 0
    n_east = 0
    for r in range(h):
        for c in range(w):
            v = labels[r, c]
            if v == nodata:
                continue
            if r == h - 1 or labels[r + 1, c] != v:
                n_east += 1
            if r == 0 or labels[r - 1, c] != v:
                n_edges += 1
            if c == 0 or labels[r, c - 1] != v:
                n_edges += 1
            if c == w - 1 or labels[r, c + 1] != v:
                n_edges += 1
    n_edges += n_east
    rows = np.empty(n_edges + n_east, dtype=np.int32)
    cols = np.empty(n_edges + n_east, dtype=np.int32)
    start = np.empty(n_east + 1, dtype=np.int64)
    value = np.empty(n_east, dtype=labels.dtype)
    seen = np.zeros((h + 1, w), dtype=np.bool_)   # eastward edges already traced, by their start corner
    dr = (0, -1, 0, 1)
    dc = (1, 0, -1, 0)
    n_v = 0
    n_r = 0
    for r0 in range(1, h + 1):
        for c0 in range(w):
            v = labels[r0 - 1, c0]
            if seen[r0, c0] or v == nodata or not (r0 == h or labels[r0, c0] != v):
                continue
            start[n_r] = n_v
            value[n_r] = v
            rows[n_v] = r0
            cols[n_v] = c0
            n_v += 1
            seen[r0, c0] = True
            r, c, d = r0, c0 + 1, 0
            while True:
                nd = (d + 1) % 4   # left first, then straight, then right
                if not _is_edge(labels, r, c, nd, v):
                    nd = d
                    if not _is_edge(labels, r, c, nd, v):
                        nd = (d + 3) % 4
                if nd != d:
                    rows[n_v] = r
                    cols[n_v] = c
                    n_v += 1
                if r == r0 and c == c0 and nd == 0:
                    break
                if nd == 0:
                    seen[r, c] = True
                r += dr[nd]
                c += dc[nd]
                d = nd
            n_r += 1
    start[n_r] = n_v
    return rows[:n_v], cols[:n_v], start[:n_r + 1], value[:n_r]
