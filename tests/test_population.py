"""Population surface: official totals land exactly in their regions, settlements first and never more
than the total; a user's grid is resampled with its total preserved; people-weighted hours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import CRS

from pipeline.accessibility import make_grid
from pipeline.population import ancillary_weight, dasymetric, resample_sum, totals_in_grid, weighted_hours

ALBERS = CRS.from_proj4("+proj=aea +lat_0=47 +lon_0=67 +lat_1=42 +lat_2=52 +datum=WGS84 +units=m +no_defs")


def two_units() -> np.ndarray:
    """A 4 × 6 grid: unit 1 the left half, unit 2 the right half, a row of no unit at the bottom."""
    labels = np.zeros((4, 6), dtype=np.int32)
    labels[:3, :3], labels[:3, 3:] = 1, 2
    return labels


def test_each_unit_sums_exactly_to_its_total_with_settlements_first() -> None:
    labels = two_units()
    weight = np.where(labels > 0, 1.0, 0.0)
    weight[0, 0] = 3.0  # a cell three times as attractive
    # Unit 1: settlement of 300 in cell (1, 1); unit 2: settlements of 800 + 400 > its total of 1,000.
    pop, summary = dasymetric(labels, np.array([1000.0, 1000.0]), np.array([1, 0, 2]), np.array([1, 4, 5]),
                              np.array([300.0, 800.0, 400.0]), weight)
    assert pop[labels == 1].sum() == pytest.approx(1000.0) and pop[labels == 2].sum() == pytest.approx(1000.0)
    assert pop[labels == 0].sum() == 0
    # Unit 1: 700 left for 9 cells of total weight 11: 700·3/11 in (0, 0), 700/11 elsewhere, +300 at the settlement.
    assert pop[0, 0] == pytest.approx(700 * 3 / 11) and pop[0, 1] == pytest.approx(700 / 11)
    assert pop[1, 1] == pytest.approx(300 + 700 / 11)
    # Unit 2: settlements scaled to the total (never more): 800·1000/1200 and 400·1000/1200; nothing else.
    assert pop[0, 4] == pytest.approx(800 / 1.2) and pop[2, 5] == pytest.approx(400 / 1.2)
    assert pop[0, 3] == pytest.approx(0.0, abs=1e-9)
    assert summary["settlements"].tolist() == pytest.approx([300.0, 1000.0])


def test_a_unit_without_an_official_total_holds_its_settlements_only() -> None:
    labels = two_units()
    pop, summary = dasymetric(labels, np.array([np.nan, 500.0]), np.array([1]), np.array([1]), np.array([250.0]),
                              np.where(labels > 0, 1.0, 0.0))
    assert pop[labels == 1].sum() == 250 and pop[1, 1] == 250
    assert pop[labels == 2].sum() == pytest.approx(500)


def test_a_unit_the_grid_cuts_keeps_its_settlements_there_and_its_area_share_of_the_rest() -> None:
    totals = np.array([1000.0, 1000.0, 1000.0])
    out = totals_in_grid(totals, np.array([1.0, 0.4, 0.4]), np.array([200.0, 200.0, 1500.0]),
                         np.array([200.0, 150.0, 1500.0]))
    assert out.tolist() == pytest.approx([1000.0, 150 + 800 * 0.4, 1000.0])


def test_ancillary_weight_decays_exponentially_with_distance_from_roads_and_settlements() -> None:
    land = np.ones((1, 11), dtype=bool)
    roads = np.zeros_like(land)
    roads[0, 0] = True
    none = np.zeros_like(land)
    w = ancillary_weight(land, roads, none, 1000.0, road_decay_km=5.0, settlement_decay_km=10.0, floor=0.05)
    assert w[0, 0] == pytest.approx(1.05) and w[0, 10] == pytest.approx(0.05 + np.exp(-2.0))
    assert ancillary_weight(~land, roads, none, 1000.0, 5.0, 10.0, 0.05).sum() == 0  # water: nothing


def test_cell_distances_are_scipys_exact_euclidean_distance_transform_to_the_last_bit() -> None:
    from scipy.ndimage import distance_transform_edt

    from pipeline.population import cell_distances

    rng = np.random.default_rng(7)
    mask = np.zeros((600, 900), dtype=bool)
    mask[rng.integers(0, 600, 40), rng.integers(0, 900, 40)] = True
    mask[:, 0] = False
    d = cell_distances(mask)
    assert d.dtype == np.float64 and np.array_equal(d, distance_transform_edt(~mask))
    one = np.zeros((5, 7), dtype=bool)
    one[0, 0] = True
    assert cell_distances(one)[4, 6] == np.hypot(4, 6) and cell_distances(one)[3, 4] == 5.0


def test_population_weighted_hours_and_people_cut_off() -> None:
    pop = np.array([[100.0, 300.0, 50.0]])
    hours = np.array([[1.0, 3.0, np.inf]])
    mean, reached, cut = weighted_hours(pop, hours, np.ones_like(pop, dtype=bool))
    assert mean == pytest.approx((100 * 1 + 300 * 3) / 400) and reached == 400 and cut == 50


def test_a_user_grid_in_another_crs_is_resampled_with_its_total_preserved(tmp_path: Path) -> None:
    """A synthetic WorldPop-like GeoTIFF in lon/lat at 0.01° resampled to the 1 km Albers grid: the total
    is preserved within 0.1 %."""
    rng = np.random.default_rng(42)
    people = rng.gamma(0.5, 40.0, size=(150, 250)).astype("float32")
    people[100, 200] = 1e6  # a city at the centre of that cell: lon 67.005, lat 47.995
    path = tmp_path / "worldpop.tif"
    transform = Affine(0.01, 0, 65.0, 0, -0.01, 49.0)
    with rasterio.open(path, "w", driver="GTiff", width=250, height=150, count=1, dtype="float32",
                       crs="EPSG:4326", transform=transform, nodata=-99999) as dst:
        dst.write(people, 1)
    grid = make_grid((-300_000.0, -100_000.0, 300_000.0, 500_000.0), 1000.0, ALBERS)
    out = resample_sum(path, grid)
    assert out.shape == (grid.height, grid.width)
    assert out.sum() == pytest.approx(float(people.sum()), rel=1e-3)
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", ALBERS, always_xy=True).transform(67.005, 47.995)
    r, c = grid.cell(np.array([[x, y]]))
    # The city's people land in its 1 km cell and the next ones (a 0.01° cell is 0.75 × 1.1 km there).
    assert out[r[0] - 1:r[0] + 2, c[0] - 1:c[0] + 2].sum() == pytest.approx(1e6, rel=0.01)


def test_belt_grp_is_each_regions_grp_times_the_share_of_its_people_inside() -> None:
    """Region A (GRP 1,000 mn USD) has 30 % of its people in the belt, B (GRP 500) 10 %, C has no GRP:
    the belt holds 300 + 50 = 350 mn USD and the people of all three."""
    import pandas as pd

    from pipeline.population import belt_grp_by_people

    rb = pd.DataFrame({"vintage": "v", "region_id": ["A", "B", "C", "N"], "segment_id": "S", "side": "focus",
                       "country": ["AAA", "AAA", "AAA", "BBB"], "distance_km": 100.0,
                       "population": [300.0, 20.0, 7.0, 5.0], "share_of_region_pct": [30.0, 10.0, 70.0, 1.0]})
    grp = pd.Series([1000.0, 500.0, 9999.0], index=pd.MultiIndex.from_tuples([("v", "A"), ("v", "B"), ("v", "N")]))
    t = belt_grp_by_people(rb, grp, 2021, "AAA").iloc[0]
    # N (a neighbour's region reaching into the focus side by an outline mismatch) is not counted.
    assert t.grp_usd_mn == pytest.approx(350.0) and t.population == 327.0
    assert t.regions == 3 and t.regions_without_grp == 1 and t.grp_year == 2021
    none = belt_grp_by_people(rb.iloc[[2]], grp, 2021, "AAA").iloc[0]
    assert np.isnan(none.grp_usd_mn) and none.regions_without_grp == 1


@pytest.mark.parametrize("nodata", [-9999.0, float("nan"), None])
def test_read_filled_gives_what_a_masked_read_filled_gives(tmp_path: Path, nodata) -> None:
    import rasterio
    from rasterio.transform import from_origin

    from pipeline.rasters import read_filled

    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    values[0, 1] = values[2, 3] = -9999.0 if nodata is None or not np.isnan(nodata) else np.nan
    path = tmp_path / "r.tif"
    with rasterio.open(path, "w", driver="GTiff", height=3, width=4, count=1, dtype="float32", crs="EPSG:3857",
                       transform=from_origin(0, 3, 1, 1), nodata=nodata) as dst:
        dst.write(values, 1)
    with rasterio.open(path) as src:
        ours, theirs = read_filled(src, np.inf), src.read(1, masked=True).astype("float64").filled(np.inf)
    np.testing.assert_array_equal(ours, theirs)
    assert ours.dtype == np.float64 and (np.isinf(ours).sum() == (0 if nodata is None else 2))
