"""The compiled inner loops (pipeline/kernels.py) give what their plain numpy / scipy definitions give."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from scipy.spatial import cKDTree

from pipeline.kernels import best_of_k_at, best_of_k_on_grid, huff_accumulate, land_cells, min_of_k, nearest_k_labelled

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


def kd_tree_per_label(pts, pt_label, labels, k):
    """What nearest_k_labelled should give: per label, cKDTree.query of that label's points."""
    rows, cols = np.nonzero(labels)
    lab = labels[rows, cols]
    d = np.full((k, len(rows)), np.inf)
    j = np.full((k, len(rows)), -1)
    for v in np.unique(lab):
        mine = np.flatnonzero(pt_label == v)
        at = np.flatnonzero(lab == v)
        if mine.size == 0:
            continue
        kk = min(k, mine.size)
        dd, jj = cKDTree(pts[mine]).query(centres(rows[at], cols[at]), k=kk)
        d[:kk, at], j[:kk, at] = dd.reshape(len(at), kk).T, mine[jj.reshape(len(at), kk).T]
    return rows, cols, d, j


@pytest.mark.parametrize("seed,n_points,k,block", [(1, 3000, 4, 8), (2, 200, 4, 8), (3, 40, 1, 8), (4, 5, 4, 8),
                                                   (5, 3, 4, 8), (6, 3000, 4, 3), (7, 600, 2, 16)])
def test_nearest_k_labelled_gives_each_labels_kd_tree_distances_exactly(seed, n_points, k, block):
    pts, rows, cols = roads_and_cells(seed, n_points)
    rng = np.random.default_rng(seed)
    labels = np.zeros((300, 400), dtype=np.int32)
    labels[rows, cols] = np.where(cols < 150, 1, np.where(rows < 120, 2, 5))   # 5: three labels, 0: sea
    labels[rows[cols >= 390], cols[cols >= 390]] = 7                          # a label with no point
    pt_label = rng.choice([1, 2, 5, 9], len(pts), p=[0.3, 0.3, 0.3, 0.1])      # 9: a label with no cell
    if n_points <= 5:
        pt_label[:] = 2                                                       # labels 1 and 5: no point
    r, c, d, j = kd_tree_per_label(pts, pt_label, labels, k)
    idx = np.full((k, len(r)), -1, dtype=np.int32)
    val = np.full((k, len(r)), np.inf, dtype=np.float32)
    nearest_k_labelled(labels, T, pts, pt_label, k, idx, val, scale=0.003, block=block)
    assert np.array_equal(val, (d * 0.003).astype(np.float32))
    got = np.where(idx >= 0, idx, 0)
    dist = np.hypot(*(pts[got] - centres(r, c)[None]).transpose(2, 0, 1))
    tied = np.isclose(dist, d, rtol=0, atol=1e-6)
    assert ((idx == j) | ((idx >= 0) & tied)).all()                            # the same points, or tied ones
    assert (idx[:, labels[r, c] == 7] == -1).all()
    land = land_cells(labels)
    assert all(np.array_equal(x, y) for x, y in zip(land, (r, c, labels[r, c])))


def test_nearest_k_labelled_breaks_ties_by_the_lower_point_position_and_writes_ids():
    # a cell centre exactly between two points of its label: the lower position wins, its id is written
    labels = np.zeros((3, 3), dtype=np.int32)
    labels[1, 1] = 4
    centre = np.array([T.c + 1500.0, T.f - 1500.0])
    pts = np.array([centre + [2000.0, 0.0], centre - [2000.0, 0.0], centre + [0.0, 700.0]])
    idx = np.full((2, 1), -1, dtype=np.int64)
    val = np.full((2, 1), np.inf, dtype=np.float32)
    nearest_k_labelled(labels, T, pts, np.array([4, 4, 3]), 2, idx, val, ids=np.array([70, 71, 72]))
    assert idx[:, 0].tolist() == [70, 71] and val[:, 0].tolist() == [2000.0, 2000.0]


def test_nearest_k_labelled_refuses_outputs_of_the_wrong_size():
    labels = np.ones((2, 2), dtype=np.int32)
    with pytest.raises(ValueError, match="one column per labelled cell"):
        nearest_k_labelled(labels, T, np.zeros((3, 2)), np.ones(3), 1,
                           np.zeros((1, 3), dtype=np.int64), np.zeros((1, 3), dtype=np.float32))


def test_best_of_k_on_grid_is_the_minimum_over_candidates_and_the_straight_leg_in_every_scenario():
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
    # a second scenario: slower access points, a third of them unreachable, other owners
    t2, owner2 = t * 1.5, rng.integers(0, 9, m)
    t2[::3] = np.inf
    hours = np.full((2, *shape), np.nan, dtype=np.float32)
    who = np.full((2, *shape), -1, dtype=np.int16)
    best_of_k_on_grid(np.vstack([t, t2]), np.vstack([owner, owner2]), point, leg, pole, pole_min, rows, cols,
                      hours, who)
    for s, (ts, os) in enumerate([(t, owner), (t2, owner2)]):
        cand = np.where(point >= 0, np.append(ts, np.inf)[point] + leg, np.inf)
        via = np.take_along_axis(point, np.argmin(cand, axis=0)[None], axis=0)[0]
        expect = np.minimum(cand.min(axis=0), pole_min)
        fin = np.isfinite(expect)
        assert 0 < (~fin).sum()
        assert np.array_equal(hours[s][rows[fin], cols[fin]], (expect[fin] / 60.0).astype(np.float32))
        assert np.isnan(hours[s][rows[~fin], cols[~fin]]).all() and (who[s][rows[~fin], cols[~fin]] == -1).all()
        straight = pole_min < cand.min(axis=0)
        expect_who = np.where(straight, pole, np.where(np.isfinite(cand.min(axis=0)), np.append(os, -1)[via], -1))
        assert np.array_equal(who[s][rows, cols], expect_who)
    assert not np.array_equal(hours[0], hours[1], equal_nan=True)
    off = np.ones(shape, dtype=bool)
    off[rows, cols] = False
    assert np.isnan(hours[:, off]).all()
    # some cells only: the same values there, the rest untouched
    at = np.flatnonzero(rng.random(n) < 0.3)
    some_h = np.full((2, *shape), np.nan, dtype=np.float32)
    some_w = np.full((2, *shape), -1, dtype=np.int16)
    best_of_k_at(at, np.vstack([t, t2]), np.vstack([owner, owner2]), point, leg, pole, pole_min, rows, cols,
                 some_h, some_w)
    done = np.zeros(shape, dtype=bool)
    done[rows[at], cols[at]] = True
    assert np.array_equal(some_h[:, done], hours[:, done], equal_nan=True)
    assert np.array_equal(some_w[:, done], who[:, done])
    assert np.isnan(some_h[:, ~done]).all() and (some_w[:, ~done] == -1).all()
    cand = np.where(point >= 0, np.append(t, np.inf)[point] + leg, np.inf)
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



def test_label_sums_are_the_two_bincounts_bit_for_bit() -> None:
    from pipeline.kernels import label_sums

    rng = np.random.default_rng(5)
    labels = rng.integers(0, 7, 100_000).astype(np.int32)
    a, b = rng.lognormal(5, 3, 100_000), np.where(rng.random(100_000) < 0.5, rng.lognormal(2, 4, 100_000), 0.0)
    got = label_sums(labels, a, b, 9)
    assert got.shape == (2, 9) and (got[:, 7:] == 0).all()
    assert np.array_equal(got[0], np.bincount(labels, weights=a, minlength=9))
    assert np.array_equal(got[1], np.bincount(labels, weights=b, minlength=9))


def test_minutes_rounded_up_to_float32_are_never_below_the_float64_ones() -> None:
    from pipeline.kernels import rounded_up_float32

    minutes = np.concatenate([np.random.default_rng(3).uniform(0, 5000, 100_000), [0.0, 1 / 3, np.inf]])
    up = rounded_up_float32(minutes)
    assert up.dtype == np.float32
    assert (up.astype(np.float64) >= minutes).all()
    assert np.isinf(up[-1]) and up[-3] == 0.0
    # the nearest float32 at or above: at most one step of float32 above
    assert (np.nextafter(up, np.float32(-np.inf)).astype(np.float64) < minutes)[:-1].all()


def test_label_means_are_the_means_per_label_with_negative_labels_left_out() -> None:
    from pipeline.kernels import label_means

    labels = np.array([0, 2, -1, 2, 0, 0, -1], dtype=np.int32)
    values = np.array([1.0, 10.0, 1e9, 20.0, 2.0, 6.0, np.nan])
    means = label_means(labels, values, 4)
    np.testing.assert_array_equal(means[[0, 2]], [3.0, 15.0])
    assert np.isnan(means[1]) and np.isnan(means[3])   # labels without cells
    rng = np.random.default_rng(5)
    lab, val = rng.integers(-1, 50, 100_000).astype(np.int32), rng.random(100_000)
    ok = lab >= 0
    expect = np.bincount(lab[ok], val[ok], 50) / np.bincount(lab[ok], minlength=50)
    np.testing.assert_array_equal(label_means(lab, val, 50), expect)   # bincount's sums, in the same order


def _gdal_class_polygons(classes: np.ndarray, transform: Affine, nodata: int = -1) -> tuple[list, list]:
    """GDAL's polygonising (connectivity 4) and a union of each value's pieces: what class_polygons gave
    before it traced the rings itself."""
    import shapely
    from rasterio import features

    data = classes.astype(np.int32)
    pieces = [(shapely.geometry.shape(g), int(v))
              for g, v in features.shapes(data, mask=data != nodata, transform=transform, connectivity=4)]
    values = sorted({v for _, v in pieces})
    return values, [shapely.coverage_union_all([g for g, v in pieces if v == value]) for value in values]


@pytest.mark.parametrize("seed", range(6))
def test_traced_class_polygons_are_gdals_polygons_and_hold_exactly_their_cells(seed: int) -> None:
    """Random rasters of a few values and nodata (speckled and in blobs, holes, islands in lakes, regions that
    meet themselves at a corner): each value's (multi)polygon is valid, topologically equal to GDAL's, and
    its area is its number of cells times the cell area, exactly."""
    import shapely
    from pyproj import CRS

    from pipeline.rasters import class_polygons

    rng = np.random.default_rng(seed)
    for trial in range(60):
        h, w = (int(n) for n in rng.integers(1, 40, 2))
        grid = rng.integers(-1, int(rng.integers(1, 5)), (h, w))
        if trial % 2:   # blobs
            grid = np.repeat(np.repeat(grid, 3, 0), 3, 1)[:h, :w]
        t = T if trial % 3 else Affine(0.5, 0.0, 10.0, 0.0, -0.25, 3.0)
        got = class_polygons(grid, t, CRS.from_epsg(3857), name="v")
        values, want = _gdal_class_polygons(grid, t)
        assert list(got["v"]) == values
        for value, g, ref in zip(values, got.geometry.values, want):
            assert shapely.is_valid(g), shapely.is_valid_reason(g)
            assert shapely.equals(g, ref)
            assert g.area == pytest.approx(np.count_nonzero(grid == value) * abs(t.a * t.e), rel=1e-12)


def test_a_region_meeting_itself_at_a_corner_has_a_hole_touching_its_shell_there() -> None:
    """A ring of seven cells round one empty cell, open only at a corner (4-connectivity keeps the empty cell
    a hole): one valid polygon of 7 cells, one hole of one cell, touching the shell at that corner."""
    import shapely
    from pyproj import CRS

    from pipeline.rasters import class_polygons

    grid = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 0]])
    got = class_polygons(grid, Affine(1.0, 0.0, 0.0, 0.0, -1.0, 3.0), CRS.from_epsg(3857), name="v")
    one = got.geometry.values[list(got["v"]).index(1)]
    assert one.geom_type == "Polygon" and shapely.is_valid(one) and one.area == 7.0
    assert len(one.interiors) == 1 and shapely.Polygon(one.interiors[0]).area == 1.0
    assert shapely.Point(2.0, 1.0).intersects(one.exterior) and shapely.Point(2.0, 1.0).intersects(one.interiors[0])
