"""Accessibility rasters: known travel times on a toy network, crossing scenarios, georeferencing."""

from __future__ import annotations

import re

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from pyproj import CRS, Transformer
from rasterio import features

from pipeline.accessibility import make_grid, travel_hours
from pipeline.borders import border_segments
from pipeline.crossings import insert_crossings
from pipeline.network import Mode, build_mode, number_nodes
from pipeline.rasters import bands_to_polygons, write_geotiff, zonal_means

CEA = CRS.from_proj4("+proj=cea +datum=WGS84 +units=m")  # true scale along the equator
TO_LL = Transformer.from_crs(CEA, "EPSG:4326", always_xy=True)
RES = 1000.0
OFF_KMH = 20.0
ROAD_KMH = 60.0


def world(split: bool):
    """Land 0–2°E × 1°S–1°N (one country, or two split at 1°E), a road along the equator."""
    boxes = {"AAA": shapely.box(0, -1, 1, 1), "BBB": shapely.box(1, -1, 2, 1)} if split else \
        {"AAA": shapely.box(0, -1, 2, 1)}
    countries = gpd.GeoDataFrame({"country": list(boxes), "name": list(boxes)},
                                 geometry=list(boxes.values()), crs="EPSG:4326")
    lines = gpd.GeoDataFrame({"type": ["r"]}, geometry=[shapely.LineString([(0.0, 0), (2.0, 0)])],
                             crs="EPSG:4326")
    edges, _ = build_mode(lines, Mode("road", "roads", "type", 1.0, {"r": ROAD_KMH}), CEA)
    edges, nodes = number_nodes([edges])
    segs = border_segments(countries, "AAA", ()) if split else None
    delays = {"default": {"road": 2.0}}
    if split:
        edges, _ = insert_crossings(edges, len(nodes), segs, delays)
    else:
        edges = edges.assign(min_open=edges.minutes, min_current=edges.minutes, min_closed=edges.minutes)
    ea = countries.to_crs(CEA)
    grid = make_grid(tuple(ea.total_bounds), RES, CEA)
    labels = features.rasterize(((g, i + 1) for i, g in enumerate(ea.geometry)), fill=0, dtype="uint8",
                                out_shape=(grid.height, grid.width), transform=grid.transform)
    # The pole sits exactly on the centre of the cell just north of the road (the equator is a row
    # boundary), near the western edge: 0.5 km off the road.
    row = int(np.floor((0.0 - grid.transform.f) / grid.transform.e)) - 1
    pole_xy = grid.centres(np.array([row]), np.array([5]))
    assert pole_xy[0, 1] == pytest.approx(RES / 2)
    return edges, grid, labels, pole_xy, ea.geometry


def cell_of(grid, x: float, y: float) -> tuple[int, int]:
    row, col = grid.cell(np.array([[x, y]]))
    return int(row[0]), int(col[0])


def run(edges, grid, areas, pole_xy, scenarios=("open",)):
    return travel_hours(edges, pole_xy, grid, areas, mode="road", scenarios=scenarios,
                        off_kmh=OFF_KMH, spacing=250.0, k=4)


def road_bounds(along_km: float, *offsets_km: float) -> tuple[float, float]:
    """Hours by road with off-road legs of ``offsets_km`` at each end: at least the continuous optimum
    (each leg enters the road at the best angle: y·√(r²−1)/v_road, r = v_road/v_off), at most
    perpendicular legs (y/v_off)."""
    r = ROAD_KMH / OFF_KMH
    lo = along_km / ROAD_KMH + sum(y * np.sqrt(r * r - 1) / ROAD_KMH for y in offsets_km)
    hi = along_km / ROAD_KMH + sum(y / OFF_KMH for y in offsets_km)
    return lo, hi


def test_cell_at_the_pole_is_zero_and_times_grow_along_the_road() -> None:
    edges, grid, labels, pole, areas = world(split=False)
    hours, which = run(edges, grid, areas, pole)["open"]
    r0, c0 = cell_of(grid, *pole[0])
    assert hours[r0, c0] == 0.0 and which[r0, c0] == 0
    # Cells along the road: distance along it at 60 km/h, plus an off-road leg of at most the
    # half-spacing of access points and the cell's offset from the road line (≤ 0.5 km) at 20 km/h.
    # Cells of the pole's row: 0.5 km off the road at each end, along it at 60 km/h.
    x0, y0 = pole[0]
    for km in (50, 100, 150):
        r, c = cell_of(grid, x0 + km * 1000, y0)
        lo, hi = road_bounds(km, 0.5, 0.5)
        assert lo - 1e-6 <= hours[r, c] <= hi + 1e-6
        assert hours[r, c] == pytest.approx(lo, abs=0.002)  # access points every 250 m: near the optimum
    # 30 km north of the road: the road, then 30.5 km off it.
    r, c = cell_of(grid, x0 + 100_000, y0 + 30_000)
    lo, hi = road_bounds(100, 0.5, 30.5)
    assert lo - 1e-6 <= hours[r, c] <= hi + 1e-6
    # Near the pole walking straight is faster than the road: 3 km at 20 km/h.
    r, c = cell_of(grid, x0, y0 + 3000)
    assert hours[r, c] == pytest.approx(3 / OFF_KMH, abs=1e-6)


def test_water_is_nodata() -> None:
    edges, grid, labels, pole, areas = world(split=False)
    east = grid.transform.c + (grid.width - 20) * RES  # the eastern 20 columns become sea
    sea = shapely.box(east, -1e7, 1e7, 1e7)
    hours, _ = run(edges, grid, areas.difference(sea), pole)["open"]
    assert np.isnan(hours[:, -20:]).all() and np.isfinite(hours[:, :-20]).all()


def test_crossing_delay_changes_far_side_times_by_exactly_the_delay() -> None:
    edges, grid, labels, pole, areas = world(split=True)
    out = run(edges, grid, areas, pole, ("open", "current", "closed"))
    far = labels == 2  # BBB: east of 1°E
    near = labels == 1
    diff = out["current"][0][far] - out["open"][0][far]
    np.testing.assert_allclose(diff, 2.0, atol=1e-4)  # hours; float32 rasters
    np.testing.assert_array_equal(out["current"][0][near], out["open"][0][near])
    # Closed: no crossing and no walking across the border: the far side is unreachable.
    assert np.isnan(out["closed"][0][far]).all()
    assert np.isfinite(out["closed"][0][near]).all()


def test_geotiff_round_trip(tmp_path: Path) -> None:
    edges, grid, labels, pole, areas = world(split=False)
    hours, _ = run(edges, grid, areas, pole)["open"]
    path = write_geotiff(tmp_path / "t.tif", hours, grid.transform, grid.crs, {"units": "hours"})
    with rasterio.open(path) as src:
        assert CRS.from_wkt(src.crs.to_wkt()) == CEA
        assert src.transform == grid.transform and src.nodata == -9999.0
        assert src.profile["compress"] == "deflate" and src.profile["tiled"]
        assert src.overviews(1) == [2]
        assert src.tags()["units"] == "hours"
        value = next(src.sample([tuple(pole[0])]))[0]
        assert value == 0.0
        back = src.read(1, masked=True)
        np.testing.assert_allclose(back.filled(np.nan), hours, equal_nan=True)
    lon, lat = TO_LL.transform(*pole[0])
    assert lon == pytest.approx(5.5 * RES / 1000 / 111.3195, abs=1e-6)  # cell 5's centre, 5.5 km east
    assert lat == pytest.approx(0.5 / 111.3195, abs=1e-4)


def test_isochrone_bands_tile_the_reachable_land() -> None:
    edges, grid, labels, pole, areas = world(split=False)
    hours, _ = run(edges, grid, areas, pole)["open"]
    bands = bands_to_polygons(hours, [1, 2], grid.transform, grid.crs)
    assert list(bands["band"]) == [0, 1, 2]
    assert bands.area.sum() == pytest.approx(np.isfinite(hours).sum() * RES**2, rel=1e-9)
    assert bands.loc[0, "min_h"] == 0 and bands.loc[1, "max_h"] == 2 and np.isnan(bands.loc[2, "max_h"])


def test_zonal_means_are_area_weighted() -> None:
    grid = make_grid((0, 0, 10_000, 10_000), 1000, CEA)
    values = np.tile(np.arange(10, dtype=float), (10, 1))  # value = column index
    square = gpd.GeoSeries([shapely.box(0, 0, 4000, 10_000), shapely.box(20_000, 0, 30_000, 1)])
    means = zonal_means(values, square, grid.transform)
    assert means[0] == pytest.approx(1.5)  # columns 0..3
    assert np.isnan(means[1])  # outside the grid


def test_equal_area_grid_counts_kazakhstan_cells_as_its_area(cfg) -> None:
    from pipeline.geodesy import area_km2
    from pipeline.ingest import clean, countries_from_regions, regions_from_admin1, sovereignties
    from pipeline.io import read_layer

    admin1 = clean(read_layer(cfg.source_path("admin1")), "admin1").gdf
    regions = regions_from_admin1(admin1, cfg.region_fixes)
    kz = countries_from_regions(regions, sovereignties(admin1).set_index("country")["name"])
    kz = kz[kz.country == "KAZ"]
    ea = kz.to_crs(cfg.equal_area_crs)
    grid = make_grid(tuple(ea.total_bounds), 1000.0, cfg.equal_area_crs)
    cells = features.rasterize([(ea.geometry.iloc[0], 1)], out_shape=(grid.height, grid.width),
                               transform=grid.transform, fill=0, dtype="uint8").sum()
    assert cells == pytest.approx(area_km2(kz.geometry.values)[0], rel=0.001)


def test_no_path_between_a_pole_and_a_region_is_one_clear_error(cfg) -> None:
    """Country BBB has no road: its cells are unreachable from AAA's pole, a pole inside it cannot join
    the network; both are reported naming the pole / region and the network file."""
    from pipeline.accessibility import (hours_per_scenario, link, unlinked_pole_error, unlinked_poles,
                                        unreachable_areas, unreached_region_error)

    _, grid, _, pole_xy, areas = world(split=True)
    lines = gpd.GeoDataFrame({"type": ["r"]}, geometry=[shapely.LineString([(0.0, 0), (0.9, 0)])],
                             crs="EPSG:4326")
    edges, _ = build_mode(lines, Mode("road", "roads", "type", 1.0, {"r": ROAD_KMH}), CEA)
    edges, _ = number_nodes([edges])
    edges = edges.assign(min_open=edges.minutes, min_current=edges.minutes, min_closed=edges.minutes)
    in_b = np.array([[areas.iloc[1].centroid.x, areas.iloc[1].centroid.y]])
    lk = link(edges, np.vstack([pole_xy, in_b]), grid, areas, mode="road", off_kmh=OFF_KMH, spacing=250.0,
              k=4)
    assert unlinked_poles(lk).tolist() == [1]  # the pole in BBB
    hours = hours_per_scenario(lk.for_poles(np.array([0])), ("open",))["open"][0]
    assert unreachable_areas(hours, areas, grid).tolist() == [False, True]

    poles = gpd.GeoDataFrame({"name": ["Apole", "Bpole"]}, geometry=gpd.points_from_xy(
        *TO_LL.transform(*np.vstack([pole_xy, in_b]).T)), crs="EPSG:4326")
    countries = gpd.GeoDataFrame({"country": ["AAA", "BBB"], "name": ["Aland", "Bland"]}, geometry=areas)
    err = unlinked_pole_error(lk, poles, countries, "layers/poles.yaml", "net.gpkg")
    assert re.search(r"net\.gpkg: no path from 1 pole\(s\) .*Bpole \(1\.50, 0\.00\) is in Bland, which the "
                     r"network does not enter", str(err))
    regions = gpd.GeoDataFrame({"country": [cfg.focus_country] * 2, "name_en": ["West", "East"],
                                "iso_3166_2": ["XX-W", "XX-E"]}, geometry=areas, crs=CEA)
    err = unreached_region_error(hours, regions, grid, cfg.focus_country, "open", "net.gpkg")
    assert re.search(r"no path from any pole to 1 region\(s\) of KAZ in scenario open: East \(XX-E\)\. The "
                     r"network does not reach them", str(err))
    assert unreached_region_error(hours, regions.iloc[:1], grid, "KAZ", "open", "net.gpkg") is None


def test_hours_to_a_border_crossing_follow_the_road_from_both_sides() -> None:
    """Two countries split at 1°E, a road along the equator crossing there: a cell 0.5 km off the road and
    d km from the crossing is d / 60 km/h (plus its off-road leg) from it, on either side."""
    from pipeline.accessibility import hours_to_nodes, link
    from pipeline.crossings import CROSSING_CLASS

    edges, grid, _, pole_xy, areas = world(split=True)
    lk = link(edges, pole_xy, grid, areas, mode="road", off_kmh=OFF_KMH, spacing=250.0, k=4)
    ends = edges.loc[edges["class"] == CROSSING_CLASS, ["u", "v"]].to_numpy().ravel()
    hours = hours_to_nodes(lk, ends)
    border_x = float(gpd.GeoSeries([shapely.Point(1.0, 0.0)], crs="EPSG:4326").to_crs(CEA).x.iloc[0])
    row = int(np.floor((0.0 - grid.transform.f) / grid.transform.e)) - 1  # centres 0.5 km north of the road
    for side in (-1, 1):
        for d_km in (20.5, 50.5):
            col = cell_of(grid, border_x + side * d_km * 1000, 500.0)[1]
            along = abs(grid.centres(np.array([row]), np.array([col]))[0, 0] - border_x) / 1000
            lo, hi = road_bounds(along, 0.5)
            assert lo - 1e-6 <= hours[row, col] <= hi + 1e-6, (side, d_km, hours[row, col])
    # The farthest cells (corners, 1° from the crossing and 1° off the road) within the perpendicular bound.
    assert np.nanmax(hours) <= road_bounds(111.32, 111.32)[1] + 1e-3


def test_burn_gives_the_cells_rasterio_gives_for_shapely_geometries() -> None:
    """Polygons with holes, multipolygons, lines (all touched) and an empty polygon: the GeoJSON built
    through numpy burns the same cells as shapely's own __geo_interface__."""
    from affine import Affine
    from rasterio import features

    from pipeline.rasters import burn, geojson

    rng = np.random.default_rng(3)
    square = shapely.box(1.3, 1.7, 38.2, 27.9)
    holed = square.difference(shapely.Point(20.0, 15.0).buffer(6.0))
    multi = shapely.MultiPolygon([shapely.box(40.5, 2.2, 47.0, 9.9), shapely.Point(45.0, 22.0).buffer(4.4)])
    wiggle = shapely.LineString(np.column_stack([np.linspace(2, 48, 60), 15 + 8 * rng.random(60)]))
    lines = shapely.MultiLineString([[(0.5, 29.5), (49.5, 0.5)], [(3.0, 3.0), (3.0, 28.0)]])
    shapes = [(holed, 1), (multi, 2), (wiggle, 3), (lines, 4)]
    t = Affine(0.5, 0.0, 0.0, 0.0, -0.5, 30.0)
    for touched in (False, True):
        want = features.rasterize(shapes, out_shape=(60, 100), transform=t, fill=0, dtype="int32", all_touched=touched)
        got = burn(shapes, (60, 100), t, dtype="int32", all_touched=touched)
        assert np.array_equal(got, want) and len(np.unique(got)) == 5
    assert geojson(holed)["coordinates"][1] == [list(c) for c in holed.interiors[0].coords]
    assert geojson(shapely.Polygon()).is_empty          # passed through unchanged


def test_links_for_every_pole_are_the_links_themselves_and_a_subset_finds_its_own_nearest_pole() -> None:
    from pipeline.accessibility import link, minutes_per_metre, nearest_poles

    edges, grid, labels, pole, areas = world(split=False)
    poles = np.array([pole[0], [pole[0][0] + 60_000, pole[0][1]], [pole[0][0] + 120_000, pole[0][1]]])
    lk = link(edges, poles, grid, areas, mode="road", off_kmh=OFF_KMH, spacing=250.0, k=4)
    assert lk.for_poles(np.array([2, 0, 1])) is lk
    every = nearest_poles(lk.cells.raster, grid, lk.poles_ea, lk.pole_label, np.arange(3), minutes_per_metre(OFF_KMH))
    np.testing.assert_array_equal(lk.cells.pole, every[0])
    np.testing.assert_array_equal(lk.cells.pole_min, every[1])
    sub = lk.for_poles(np.array([0, 2]))
    assert set(np.unique(sub.cells.pole)) == {0, 2} and set(np.unique(sub.links[0])) == {0, 2}


def test_narrowest_keeps_every_value_in_the_smallest_signed_integer_type() -> None:
    from pipeline.link import narrowest

    assert narrowest(np.array([0, 5, 127], dtype=np.int32)).dtype == np.int8
    assert narrowest(np.array([-1, 68], dtype=np.int32)).dtype == np.int8          # pole ids, −1: none
    assert narrowest(np.array([-129, 0], dtype=np.int64)).dtype == np.int16
    assert narrowest(np.array([40_000], dtype=np.int64)).dtype == np.int32
    big = np.array([-(2**40), 2**40], dtype=np.int64)
    np.testing.assert_array_equal(narrowest(big), big)
    assert narrowest(np.array([], dtype=np.int32)).dtype == np.int8
    values = np.array([-32768, 32767], dtype=np.int32)
    assert narrowest(values).dtype == np.int16 and (narrowest(values).astype(np.int32) == values).all()
