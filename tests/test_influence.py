"""Influence: catchments, Huff, beyond influence, axes — on the toy world of test_accessibility."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.accessibility import hours_per_scenario, link, minutes_to_each_pole
from pipeline.influence import (beyond_mask, huff_changes, huff_dominant, huff_dominant_cells, huff_dominant_many,
                                huff_shares, route_legs)
from pipeline.rasters import class_polygons

from .test_accessibility import CEA, OFF_KMH, world


@pytest.fixture(scope="module")
def three_poles():
    """Road along the equator 0–2°E; poles on cells just north of it at 20, 100 and 180 km."""
    edges, grid, labels, pole, areas = world(split=False)
    x0, y0 = pole[0]
    poles = np.array([[x0 + d * 1000, y0] for d in (15, 95, 175)])
    lk = link(edges, poles, grid, areas, mode="road", off_kmh=OFF_KMH, spacing=250.0, k=4)
    return lk, poles, grid


def cell_at(grid, x, y):
    r, c = grid.cell(np.array([[x, y]]))
    return int(r[0]), int(c[0])


def test_three_poles_give_known_catchments(three_poles) -> None:
    lk, poles, grid = three_poles
    hours, which = hours_per_scenario(lk, ("open",))["open"]
    y = poles[0, 1]
    # On the road the catchment boundary is midway between poles (same roads, same speed).
    for x_km, expected in ((40, 0), (50, 0), (60, 1), (130, 1), (140, 2), (200, 2)):
        r, c = cell_at(grid, poles[0, 0] - 15_000 + x_km * 1000, y)
        assert which[r, c] == expected, (x_km, which[r, c])
    # Each catchment is one connected polygon.
    polys = class_polygons(which, grid.transform, CEA, name="pole")
    assert list(polys["pole"]) == [0, 1, 2]
    assert all(g.geom_type == "Polygon" for g in polys.geometry)


def test_per_pole_minutes_agree_with_the_nearest_pole(three_poles) -> None:
    lk, poles, grid = three_poles
    hours, _ = hours_per_scenario(lk, ("open",))["open"]
    per_pole = np.vstack([m for _, m in minutes_to_each_pole(lk, "open", OFF_KMH)])
    nearest = per_pole.min(axis=0) / 60
    np.testing.assert_allclose(nearest, hours[lk.cells.rows, lk.cells.cols], rtol=1e-5, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 6), st.integers(1, 40), st.floats(0.0, 2.0), st.floats(0.01, 3.0),
       st.integers(0, 99))
def test_huff_probabilities_sum_to_one(p, n, alpha, beta, seed) -> None:
    rng = np.random.default_rng(seed)
    minutes = rng.uniform(0, 600, (p, n))
    attraction = rng.uniform(1e3, 1e6, p)
    shares = huff_shares(minutes, attraction, alpha, beta)
    np.testing.assert_allclose(shares.sum(axis=0), 1.0)
    best, prob = huff_dominant(((j, minutes[j]) for j in range(p)), attraction, alpha, beta, n)
    np.testing.assert_array_equal(best, shares.argmax(axis=0))
    np.testing.assert_allclose(prob, shares.max(axis=0))


def test_pole_without_attraction_wins_nothing(three_poles) -> None:
    lk, _, _ = three_poles
    n = len(lk.cells.rows)
    attraction = np.array([1e5, 0.0, 1e5])
    best, prob = huff_dominant(minutes_to_each_pole(lk, "open", OFF_KMH), attraction, 1.0, 0.5, n)
    assert not (best == 1).any()
    assert set(np.unique(best)) == {0, 2}
    # Unreachable everywhere would be NaN; here every cell reaches a pole.
    assert np.isfinite(prob).all() and (prob >= 0.5 - 1e-9).all()


def test_beyond_influence_shrinks_as_the_threshold_grows(three_poles) -> None:
    lk, _, grid = three_poles
    hours, _ = hours_per_scenario(lk, ("open",))["open"]
    territory = np.isfinite(hours)
    counts = [int(beyond_mask(hours, territory, h).sum()) for h in (0.5, 1, 2, 3, 4)]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]
    assert beyond_mask(hours, territory, float(np.nanmax(hours))).sum() == 0


def test_axes_route_through_every_stop_in_order() -> None:
    edges = world(split=False)[0]
    n = int(max(edges.u.max(), edges.v.max())) + 1
    stops = [("West", 0.0, 0.01), ("East", 2.0, 0.01), ("Back", 0.0, 0.0)]
    legs = route_legs(edges.assign(minutes=edges.min_open), stops, n, off_kmh=OFF_KMH, crs_ea=CEA)
    assert list(zip(legs.from_stop, legs.to_stop)) == [("West", "East"), ("East", "Back")]
    for leg, (a, b) in zip(legs.itertuples(), zip(stops[:-1], stops[1:])):
        start, end = shapely.get_coordinates(leg.geometry)[[0, -1]]
        assert np.allclose(start, a[1:], atol=1e-9) and np.allclose(end, b[1:], atol=1e-9)
    # 2° of the equator (222.64 km) plus the 0.01° (1.11 km) access legs from stops north of the road.
    assert legs.length_km.tolist() == pytest.approx([222.64 + 2 * 1.106, 222.64 + 1.106], abs=0.05)


def test_a_stop_joins_the_middle_of_an_edge_and_its_access_leg_is_counted() -> None:
    """One 2° road edge; stops 0.1° north of its 0.5°E and 1.5°E points: the route is access 11.06 km +
    111.32 km along the edge + access 11.06 km, in (11.06·2 / off + 111.32 / road) hours, never via the
    edge's ends."""
    from .test_accessibility import ROAD_KMH

    edges = world(split=False)[0]
    long = shapely.length(edges.geometry.values)
    one = edges[long == long.max()].assign(minutes=lambda d: d.min_open)
    assert len(one) == 1 and long.max() == pytest.approx(2.0)
    n = int(max(one.u.max(), one.v.max())) + 1
    leg = route_legs(one, [("A", 0.5, 0.1), ("B", 1.5, 0.1)], n, off_kmh=OFF_KMH, crs_ea=CEA).iloc[0]
    assert leg.from_access_km == pytest.approx(11.06, abs=0.01) and leg.to_access_km == pytest.approx(11.06, abs=0.01)
    assert leg.length_km == pytest.approx(111.32 + 2 * 11.06, abs=0.05)
    assert leg.minutes == pytest.approx((2 * 11.06 / OFF_KMH + 111.32 / ROAD_KMH) * 60, rel=2e-3)


def test_a_leg_between_two_home_stops_stays_at_home_when_a_domestic_link_exists() -> None:
    """Home country: lon < 1°. Two roads from (0, 0) to (0.8, 0): a slow one at home (100 min) and a fast one
    through 1.2°E abroad (60 min). The leg takes the home road; unconstrained it takes the fast one; with the
    home road gone it goes abroad and says why."""
    import geopandas as gpd

    line = shapely.LineString
    roads = gpd.GeoDataFrame({"u": [0, 0], "v": [1, 1], "minutes": [100.0, 60.0]},
                             geometry=[line([(0, 0), (0.4, 0.2), (0.8, 0)]), line([(0, 0), (1.2, 0.05), (0.8, 0)])],
                             crs="EPSG:4326")
    home = shapely.box(-1, -1, 1, 1)
    stops = [("A", 0.0, 0.0), ("B", 0.8, 0.0)]
    inside = np.array([0])   # only the first road lies at home
    leg = route_legs(roads, stops, 2, off_kmh=OFF_KMH, crs_ea=CEA, home_edges=inside, stop_home=[True, True],
                     home=home).iloc[0]
    assert leg.route == "domestic" and leg.minutes == pytest.approx(100.0, abs=0.01)
    assert shapely.difference(leg.geometry, home).is_empty and leg.outside_km == 0.0
    free = route_legs(roads, stops, 2, off_kmh=OFF_KMH, crs_ea=CEA, home=home).iloc[0]
    assert free.route == "any" and free.minutes == pytest.approx(60.0, abs=0.01)
    assert free.outside_km == pytest.approx(2 * 22.3, abs=0.5)   # 1°→1.2°E and back, near the equator
    cut = route_legs(roads.iloc[[1]], stops, 2, off_kmh=OFF_KMH, crs_ea=CEA, home_edges=np.array([], dtype=int),
                     stop_home=[True, True]).iloc[0]
    assert cut.route == "abroad: no domestic link"


def test_huff_with_several_attractions_equals_one_run_per_attraction() -> None:
    rng = np.random.default_rng(7)
    minutes = rng.uniform(0, 600, (4, 50))
    minutes[2, :10] = np.inf   # pole 2 unreachable from the first ten places
    a = np.array([[1e5, 2e5, 3e5, 4e5], [1e5, 0.0, 3e5, np.nan]])
    best, prob = huff_dominant_many(((j, minutes[j]) for j in range(4)), a, 1.0, 0.5, 50)
    for k in range(2):
        b1, p1 = huff_dominant(((j, minutes[j]) for j in range(4)), np.nan_to_num(a[k]), 1.0, 0.5, 50)
        np.testing.assert_array_equal(best[k], b1)
        np.testing.assert_allclose(prob[k], p1)
    # Poles with attraction 0 or NaN are out of the second model.
    assert not np.isin(best[1], [1, 3]).any()


@pytest.mark.parametrize("batch", [1, 2, 64])
def test_huff_in_batches_of_poles_equals_streaming_one_pole_at_a_time(three_poles, batch) -> None:
    lk, _, _ = three_poles
    order = np.array([2, 0, 1])
    a = np.array([[1e5, 2e5, 3e5], [1e5, 0.0, np.nan], [2e5, 2e5, 2e5]])   # variant 3: equal attractions
    expect = huff_dominant_many(minutes_to_each_pole(lk, "open", OFF_KMH, order), a, 1.0, 0.5, len(lk.cells.rows))
    got = huff_dominant_cells(lk, "open", OFF_KMH, order, a, 1.0, 0.5, batch=batch)
    np.testing.assert_array_equal(got[0], expect[0])
    # exp(−β·(t + leg)) as exp(−β·t)·exp(−β·leg): equal to rounding
    np.testing.assert_allclose(got[1], expect[1], rtol=1e-14, atol=0)
    assert set(np.unique(got[0][1])) == {0} and set(np.unique(got[0][0])) == {0, 1, 2}
    # Batches add the same products in the same order as one pass: bit for bit.
    one_pass = huff_dominant_cells(lk, "open", OFF_KMH, order, a, 1.0, 0.5)
    np.testing.assert_array_equal(got[0], one_pass[0])
    np.testing.assert_array_equal(got[1], one_pass[1])


def test_huff_takes_the_straight_leg_to_a_pole_of_the_cells_own_country(three_poles) -> None:
    lk, poles, grid = three_poles
    from pipeline.accessibility import minutes_per_metre, pole_point_minutes
    from pipeline.crossings import scenario_edges
    from pipeline.kernels import min_of_k

    c, t = lk.cells, grid.transform
    through = pole_point_minutes(lk, scenario_edges(lk.road, "open"), 0)
    args = (through, c.point, c.leg_min, c.label, c.rows, c.cols, t.c, t.a, t.f, t.e)
    own = min_of_k(*args, int(lk.pole_label[0]), *poles[0], minutes_per_metre(OFF_KMH))
    network_only = min_of_k(*args, -7, *poles[0], minutes_per_metre(OFF_KMH))
    straight = own < network_only
    assert straight.sum() > 10   # the cells around the pole, north of the road
    # One pole alone: probability 1 where it is reachable; its decay is that of the straight leg, so a second
    # pole of equal attraction far away sees the same shares as streaming exact minutes.
    far = np.array([0, 2])
    a = np.array([[1e5, 1e5, 1e5]])
    got = huff_dominant_cells(lk, "open", OFF_KMH, far, a, 1.0, 0.5)
    expect = huff_dominant_many(minutes_to_each_pole(lk, "open", OFF_KMH, far), a, 1.0, 0.5, len(c.rows))
    np.testing.assert_array_equal(got[0][0][straight], expect[0][0][straight])
    np.testing.assert_allclose(got[1][0][straight], expect[1][0][straight], rtol=1e-14, atol=0)
    # and the straight leg's decay, not the network's: the share of pole 0 as computed by hand
    w0, w2 = np.exp(-0.5 * own[straight] / 60), np.exp(-0.5 * np.asarray(dict(
        minutes_to_each_pole(lk, "open", OFF_KMH, np.array([2])))[2])[straight] / 60)
    np.testing.assert_allclose(got[1][0][straight], np.maximum(w0, w2) / (w0 + w2), rtol=1e-12)


def test_huff_changes_count_the_cells_whose_dominant_pole_differs() -> None:
    a = np.array([[0, 0, 1], [1, -1, 2]])
    b = np.array([[0, 1, 1], [2, 0, 2]])
    mask = np.array([[True, True, True], [True, True, False]])
    t = huff_changes({"a": a, "b": b}, mask, 4.0, [("a", "b")]).iloc[0]
    # Masked cells with a pole in both: (0,0) (0,1) (0,2) (1,0); two differ.
    assert t["changed_km2"] == 8.0
    assert t["changed_share_pct"] == 50.0


def test_grp_attraction_is_the_regions_official_grp_per_capita_in_usd() -> None:
    """Almaty city 2020: 13,459,802.6 mn KZT at 413.3148 KZT/USD over 1,951,746 people = 16,685 USD; Tyumen
    (without its okrugs) 1,166,202.1 mn RUB at 5.734 KZT/RUB over 1,537,684 people = 10,522 USD; Tashkent: none."""
    from pathlib import Path

    import geopandas as gpd

    from pipeline.config import load_economy
    from pipeline.influence import pole_grp_per_capita
    from pipeline.statistics import load_tables

    layers = Path(__file__).resolve().parents[1] / "layers"
    eco = load_economy(layers)
    poles = gpd.GeoDataFrame({"name": ["Almaty", "Tyumen", "Tashkent"]},
                             geometry=gpd.points_from_xy([76.9, 65.5, 69.2], [43.25, 57.15, 41.3]), crs="EPSG:4326")
    box = shapely.geometry.box
    units = gpd.GeoDataFrame({"region_id": [1, 2, 3], "iso_3166_2": ["KZ-ALA", "RU-TYU", "UZ-TO"],
                              "country": ["KAZ", "RUS", "UZB"], "name_en": ["Almaty", "Tyumen", "Tashkent"]},
                             geometry=[box(76, 43, 78, 44), box(65, 57, 66, 58), box(69, 41, 70, 42)],
                             crs="EPSG:4326")
    got = pole_grp_per_capita(poles, {"test": units}, load_tables(layers, eco), eco, 2020)
    assert got.loc[0, "grp_per_capita_usd"] == pytest.approx(13_459_802.6e6 / 413.3148 / 1_951_746)
    assert got.loc[1, "grp_per_capita_usd"] == pytest.approx(1_166_202.1e6 * 5.734 / 413.3148 / 1_537_684)
    assert list(got["grp_region"]) == ["KZ-ALA", "RU-TYU", ""]
    assert np.isnan(got.loc[2, "grp_per_capita_usd"])


def test_scaled_edges_divide_travel_by_the_speed_factor_and_multiply_only_the_delay() -> None:
    import pandas as pd

    from pipeline.sensitivity import scaled_edges

    e = pd.DataFrame({"minutes": [60.0, 30.0], "min_open": [60.0, 30.0], "min_current": [60.0, 30.0 + 120.0],
                      "min_closed": [60.0, np.nan]})
    s = scaled_edges(e, speed=0.5, delay=2.0)
    assert s["min_open"].tolist() == [120.0, 60.0]
    assert s["min_current"].tolist() == [120.0, 60.0 + 240.0]
    assert s["min_closed"].iloc[0] == 120.0 and np.isnan(s["min_closed"].iloc[1])
    assert s["minutes"].tolist() == [120.0, 60.0]


@pytest.mark.parametrize("kw", [{"off_kmh": OFF_KMH * 2}, {"off_kmh": OFF_KMH / 3}, {"speed": 0.8}])
def test_a_variant_from_the_base_links_equals_a_fresh_run_with_that_parameter(three_poles, kw) -> None:
    """The sensitivity variants reuse the linked cells: the same hours as linking again with the new speeds."""
    from pipeline.sensitivity import scaled_edges, scaled_links

    lk, poles, grid = three_poles
    edges, _, _, _, areas = world(split=False)
    speed = kw.get("speed", 1.0)
    fresh = link(scaled_edges(edges, speed=speed), poles, grid, areas, mode="road",
                 off_kmh=kw.get("off_kmh", OFF_KMH), spacing=250.0, k=4)
    want, which_want = hours_per_scenario(fresh, ("open",))["open"]
    got, which_got = hours_per_scenario(scaled_links(lk, **kw), ("open",))["open"]
    np.testing.assert_allclose(got, want, rtol=1e-5, equal_nan=True)
    np.testing.assert_array_equal(which_got, which_want)


def test_poles_abroad_are_completed_largest_first_leaving_out_districts_of_a_city() -> None:
    """GeoNames cities of 300,000+ in 68–73°E × 40–42°N beside a listed Tashkent: Yunusobod (a district of
    Tashkent, within 50 km) and Osh (46 km from the larger Andijon) are left out; Andijon and Namangan join."""
    import geopandas as gpd

    from pipeline.config.accessibility import CompleteSpec
    from pipeline.poles import complete_abroad

    listed = gpd.GeoDataFrame({"name": ["Tashkent"], "geonameid": [1512569], "tier": ["cross_border"],
                               "listed": [True]}, geometry=[shapely.Point(69.2163, 41.2646)], crs="EPSG:4326")
    out = complete_abroad(listed, CompleteSpec(), shapely.box(68, 40, 73, 42), shapely.box(0, 0, 1, 1))
    assert out["name"].tolist() == ["Tashkent", "Andijon", "Namangan"]
    assert out["listed"].tolist() == [True, False, False] and set(out["tier"]) == {"cross_border"}


def test_a_cell_is_flagged_when_a_city_outside_could_be_faster_than_its_pole() -> None:
    """A row of cells along the equator, 2 h from their pole each; a city outside at 0°, 0°: cells within
    180 km of it (2 h at 90 km/h) are flagged, the others not."""
    from pipeline.accessibility import make_grid
    from pipeline.influence import edge_flags

    grid = make_grid((0.0, -10_000.0, 400_000.0, 10_000.0), 20_000.0, "+proj=cea +lon_0=0 +lat_ts=0 +datum=WGS84")
    hours = np.full((grid.height, grid.width), 2.0)
    land = np.ones_like(hours, dtype=bool)
    flag = edge_flags(hours, land, grid, 90.0, np.array([[0.0, 0.0]]))
    centres_km = grid.centres(np.zeros(grid.width, int), np.arange(grid.width))[:, 0] / 1000
    np.testing.assert_array_equal(flag[0], centres_km < 180.0)
    assert not edge_flags(hours, land, grid, 90.0, np.empty((0, 2))).any()


def test_edge_flags_by_blocks_equal_the_cell_by_cell_measure() -> None:
    """The block bound decides most cells without measuring them; the flags must equal measuring every
    cell: random hours on a 5 km grid over Kazakhstan in the study's Albers, five cities outside it."""
    from pyproj import Transformer

    from pipeline.accessibility import make_grid
    from pipeline.influence import EARTH_KM, edge_flags

    albers = "+proj=aea +lat_1=42 +lat_2=52 +lat_0=47 +lon_0=67 +datum=WGS84 +units=m"
    grid = make_grid((-1_500_000.0, -900_000.0, 1_500_000.0, 900_000.0), 5_000.0, albers)
    rng = np.random.default_rng(7)
    hours = rng.uniform(0.0, 12.0, (grid.height, grid.width))
    hours[rng.random(hours.shape) < 0.01] = np.nan
    land = rng.random(hours.shape) < 0.9
    cities = np.array([[40.0, 45.0], [95.0, 50.0], [70.0, 60.0], [60.0, 35.0], [88.0, 38.0]])
    flag = edge_flags(hours, land, grid, 110.0, cities)
    rows, cols = np.nonzero(land)
    xy = grid.centres(rows, cols)
    lon, lat = Transformer.from_crs(albers, "EPSG:4326", always_xy=True).transform(xy[:, 0], xy[:, 1])
    lo, la, clo, cla = np.radians(lon)[:, None], np.radians(lat)[:, None], np.radians(cities[:, 0]), np.radians(cities[:, 1])
    cos_d = np.sin(la) * np.sin(cla) + np.cos(la) * np.cos(cla) * np.cos(lo - clo)
    km = (np.arccos(np.clip(cos_d, -1, 1)) * EARTH_KM).min(axis=1)
    h = hours[rows, cols]
    with np.errstate(invalid="ignore"):
        expected = ~np.isfinite(h) | (km / 110.0 < h)
    assert 0.05 < expected.mean() < 0.95          # both kinds of cells, many near the threshold
    np.testing.assert_array_equal(flag[rows, cols], expected)
    assert not flag[~land].any()


def test_a_polygon_met_again_is_finished_once_with_the_same_values() -> None:
    """Two 100 km squares (equal-area CRS, edges every km) at 45°N, one of them twice and again in a later
    call; belts over the western half of the first: about 10,000 km² each, 5,000 km² in the belts, the
    settlements inside counted; the repeated rows equal a fresh computation of that square alone."""
    import geopandas as gpd

    from pipeline.influence import PolygonSettings

    corner = gpd.GeoSeries([shapely.Point(60.0, 45.0)], crs="EPSG:4326").to_crs(CEA).iloc[0]
    x0, y0 = corner.x, corner.y
    a = shapely.segmentize(shapely.box(x0, y0, x0 + 100e3, y0 + 100e3), 1000.0)
    b = shapely.segmentize(shapely.box(x0 + 300e3, y0, x0 + 400e3, y0 + 100e3), 1000.0)
    belt = gpd.GeoSeries([shapely.box(x0 - 50e3, y0 - 50e3, x0 + 50e3, y0 + 150e3)], crs=CEA).to_crs("EPSG:4326")
    towns = gpd.GeoDataFrame({"population": [1000, 20, 300]}, crs=CEA, geometry=shapely.points(
        [[x0 + 10e3, y0 + 10e3], [x0 + 90e3, y0 + 50e3], [x0 + 350e3, y0 + 50e3]])).to_crs("EPSG:4326")

    def fresh() -> PolygonSettings:
        return PolygonSettings("EPSG:4326", "WGS84", towns, belt.iloc[0])

    settings = fresh()
    got = settings.in_belts(settings.finish(gpd.GeoDataFrame({"pole_id": [1, 2, 1]}, geometry=[a, b, a], crs=CEA)))
    again = settings.in_belts(settings.finish(gpd.GeoDataFrame({"pole_id": [1]}, geometry=[a], crs=CEA)))
    alone = fresh().in_belts(fresh().finish(gpd.GeoDataFrame({"pole_id": [1]}, geometry=[a], crs=CEA)))
    assert len(settings._finished) == 2 and len(settings._in_belts) == 2
    assert got.crs == "EPSG:4326" and got["population"].tolist() == [1020, 300, 1020]
    assert got["belt_population"].tolist() == [1000, 0, 1000]
    np.testing.assert_allclose(got["area_km2"], 10_000.0, rtol=1e-5)
    np.testing.assert_allclose(got["belt_km2"], [5_000.0, 0.0, 5_000.0], rtol=1e-5)
    for frame in (got.iloc[[2]], again):
        row = frame.iloc[0]
        assert row.geometry.equals_exact(alone.geometry.iloc[0], 0.0)
        assert (row["area_km2"], row["belt_km2"]) == (alone["area_km2"].iloc[0], alone["belt_km2"].iloc[0])
