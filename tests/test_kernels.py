"""The compiled inner loops (pipeline/kernels.py) give what their plain numpy / scipy definitions give."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from scipy.spatial import cKDTree

from pipeline.kernels import best_of_k_on_grid, huff_accumulate, min_of_k, nearest_k_cells

RES = 1000.0
T = Affine(RES, 0.0, 200_000.0, 0.0, -RES, 900_000.0)


def roads_and_cells(seed: int, n_points: int, shape=(300, 400), land_share=0.7):
    """Points along random straight 'roads' (clustered like access points) and land cells of a grid."""
    rng = np.random.default_rng(seed)
    h, w = shape
    ends = rng.uniform([T.c, T.f - h * RES], [T.c + w * RES, T.f], size=(max(n_points // 40, 1), 2, 2))
    which = rng.integers(0, len(ends), n_points)
    t = rng.random(n_points)[:, None]
    pts = ends[which, 0] + (ends[which, 1] - ends[which, 0]) * t
    pts[: n_points // 10] = np.round(pts[: n_points // 10] / RES) * RES   # some on cell corners: exact ties
    land = rng.random(shape) < land_share
    land[:, : w // 3] &= rng.random((h, w // 3)) < 0.2                    # sparse part
    rows, cols = np.nonzero(land)
    return pts, rows, cols


def centres(rows, cols):
    return np.column_stack([T.c + (cols + 0.5) * RES, T.f - (rows + 0.5) * RES])


@pytest.mark.parametrize("seed,n_points,k", [(1, 3000, 4), (2, 200, 4), (3, 40, 1), (4, 5, 4), (5, 3, 4)])
def test_nearest_k_cells_gives_the_distances_of_a_kd_tree_exactly(seed, n_points, k):
    pts, rows, cols = roads_and_cells(seed, n_points)
    kk = min(k, len(pts))
    idx = np.full((k, len(rows)), -1, dtype=np.int32)
    val = np.full((k, len(rows)), np.inf, dtype=np.float32)
    nearest_k_cells(pts, rows, cols, T, kk, idx, val, scale=0.003)
    d, j = cKDTree(pts).query(centres(rows, cols), k=kk)
    d, j = d.reshape(len(rows), kk), j.reshape(len(rows), kk)
    assert np.array_equal(val[:kk].T, (d * 0.003).astype(np.float32))
    # the same points, or points at exactly the same distance (ties)
    same = idx[:kk].T == j
    tied = np.isclose(np.hypot(*(pts[idx[:kk].T] - centres(rows, cols)[:, None, :]).transpose(2, 0, 1)), d,
                      rtol=0, atol=1e-6)
    assert (same | tied).all()
    assert (idx[kk:] == -1).all() and np.isinf(val[kk:]).all()


def test_nearest_k_cells_writes_given_ids_into_given_columns():
    pts = np.array([[T.c + 500.0, T.f - 500.0], [T.c + 10_500.0, T.f - 500.0]])
    rows, cols = np.array([0, 0]), np.array([1, 9])
    idx = np.full((1, 5), -1, dtype=np.int64)
    val = np.full((1, 5), np.inf, dtype=np.float32)
    nearest_k_cells(pts, rows, cols, T, 1, idx, val, ids=np.array([70, 71]), at=np.array([4, 2]), scale=1.0)
    assert idx.tolist() == [[-1, -1, 71, -1, 70]]
    assert val[0, 4] == 1000.0 and val[0, 2] == 1000.0


def test_nearest_k_cells_refuses_unsorted_cells():
    with pytest.raises(ValueError, match="sorted by row"):
        nearest_k_cells(np.zeros((3, 2)), np.array([2, 1]), np.array([0, 0]), T, 1,
                        np.zeros((1, 2), dtype=np.int64), np.zeros((1, 2), dtype=np.float32))


def test_best_of_k_on_grid_is_the_minimum_over_candidates_and_the_straight_leg():
    rng = np.random.default_rng(7)
    m, k, shape = 50, 4, (80, 125)
    rows, cols = np.nonzero(rng.random(shape) < 0.8)
    n = len(rows)
    t = rng.uniform(0, 300, m)
    t[::7] = np.inf
    owner = rng.integers(0, 9, m)
    point = rng.integers(-1, m, (k, n)).astype(np.int32)
    leg = rng.uniform(0, 120, (k, n)).astype(np.float32)
    pole = rng.integers(-1, 9, n).astype(np.int32)
    pole_min = np.where(pole >= 0, rng.uniform(0, 400, n), np.inf).astype(np.float32)
    hours = np.full(shape, np.nan, dtype=np.float32)
    who = np.full(shape, -1, dtype=np.int16)
    best_of_k_on_grid(t, owner, point, leg, pole, pole_min, rows, cols, hours, who)
    cand = np.where(point >= 0, np.append(t, np.inf)[point] + leg, np.inf)
    via = np.take_along_axis(point, np.argmin(cand, axis=0)[None], axis=0)[0]
    expect = np.minimum(cand.min(axis=0), pole_min)
    fin = np.isfinite(expect)
    assert 0 < (~fin).sum() and np.array_equal(hours[rows[fin], cols[fin]], (expect[fin] / 60.0).astype(np.float32))
    assert np.isnan(hours[rows[~fin], cols[~fin]]).all() and (who[rows[~fin], cols[~fin]] == -1).all()
    straight = pole_min < cand.min(axis=0)
    expect_who = np.where(straight, pole, np.where(np.isfinite(cand.min(axis=0)), np.append(owner, -1)[via], -1))
    assert np.array_equal(who[rows, cols], expect_who)
    off = np.ones(shape, dtype=bool)
    off[rows, cols] = False
    assert np.isnan(hours[off]).all()
    label = rng.integers(1, 3, n).astype(np.int32)
    px, py = T.c + 30_000.0, T.f - 20_000.0
    xy = centres(rows, cols)
    direct = np.where(label == 2, np.hypot(xy[:, 0] - px, xy[:, 1] - py) * 0.003, np.inf)
    got = min_of_k(t, point, leg, label, rows, cols, T.c, T.a, T.f, T.e, 2, px, py, 0.003)
    assert np.array_equal(got, np.minimum(cand.min(axis=0), direct))
    assert (got < cand.min(axis=0)).any() and (got[label == 1] == cand.min(axis=0)[label == 1]).all()


def test_huff_accumulate_adds_a_pole_as_numpy_would():
    rng = np.random.default_rng(3)
    n = 5000
    total, best_w = np.zeros((2, n)), np.zeros((2, n))
    best = np.full((2, n), -1, dtype=np.int32)
    weights = {0: np.array([2.0, 0.0]), 1: np.array([3.0, 5.0])}
    minutes = {p: np.where(rng.random(n) < 0.1, np.inf, rng.uniform(0, 600, n)) for p in weights}
    for p in weights:
        huff_accumulate(minutes[p], weights[p], 0.5 / 60.0, p, total, best_w, best)
    w = {p: np.where(np.isfinite(minutes[p]), np.exp(-0.5 * minutes[p] / 60.0), 0.0)[None] * weights[p][:, None]
         for p in weights}
    assert np.allclose(total, w[0] + w[1], rtol=1e-14, atol=0)
    expect = np.where(w[1] > w[0], 1, np.where(w[0] > 0, 0, -1))
    assert np.array_equal(best, expect)

