"""Known geometry: adjacent squares, a ring of countries round a sea, geodesic buffers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Geod

from pipeline.border_regions import border_regions
from pipeline.borders import border_segments
from pipeline.config import Sea
from pipeline.geodesy import area_km2, distance_to_line_km, geodesic_buffer, length_km
from pipeline.zones import cross_border_zones

GEOD = Geod(ellps="WGS84")
# Meridian arc from the equator to 4°N on WGS84 (Geod.inv of the end points): 442.304 km.
MERIDIAN_0_4_KM = GEOD.inv(0, 0, 0, 4)[2] / 1000
EQUAL_AREA = CRS.from_proj4("+proj=cea +datum=WGS84 +units=m")


def countries(**shapes: shapely.Geometry) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"country": list(shapes), "name": [f"Country {c}" for c in shapes]},
                            geometry=list(shapes.values()), crs="EPSG:4326")


@pytest.fixture
def two_squares() -> gpd.GeoDataFrame:
    # AAA and BBB: 4° × 4° squares at the equator sharing the meridian 0° from 0° to 4°N.
    return countries(AAA=shapely.box(-4, 0, 0, 4), BBB=shapely.box(0, 0, 4, 4))


def test_meridian_reference_is_right() -> None:
    assert MERIDIAN_0_4_KM == pytest.approx(442.30, abs=0.01)


def test_two_squares_one_segment_of_known_length(two_squares: gpd.GeoDataFrame) -> None:
    segs = border_segments(two_squares, "AAA", ())
    assert list(segs.segment_id) == ["AAA-BBB"]
    assert segs.iloc[0].segment_type == "land"
    assert segs.iloc[0].neighbour == "BBB"
    assert segs.iloc[0].length_km == pytest.approx(MERIDIAN_0_4_KM, abs=0.001)


def test_squares_touching_at_a_corner_are_not_neighbours() -> None:
    c = countries(AAA=shapely.box(-4, 0, 0, 4), BBB=shapely.box(0, 0, 4, 4),
                  CCC=shapely.box(-8, 4, -4, 8))
    segs = border_segments(c, "AAA", ())
    assert list(segs.neighbour) == ["BBB"]


@pytest.mark.parametrize("d", [50.0, 100.0, 150.0])
def test_zones_of_known_area_on_both_sides(two_squares: gpd.GeoDataFrame, d: float) -> None:
    segs = border_segments(two_squares, "AAA", ())
    z = cross_border_zones(segs, two_squares, (d,)).set_index("side")
    # Each side is the strip of width d along the 442.3 km border: the end caps fall outside the
    # squares (their edges turn away at right angles), so the area is L·d.
    for side, owner in (("focus", "AAA"), ("neighbour", "BBB")):
        assert z.loc[side, "country"] == owner
        assert z.loc[side, "area_km2"] == pytest.approx(MERIDIAN_0_4_KM * d, rel=0.002)
        assert z.loc[side, "geometry"].within(two_squares.set_index("country").loc[owner, "geometry"]
                                              .buffer(1e-9))
    assert z.loc["focus", "across"] == "BBB" and z.loc["neighbour", "across"] == "AAA"


def test_wider_belt_contains_narrower(two_squares: gpd.GeoDataFrame) -> None:
    segs = border_segments(two_squares, "AAA", ())
    z = cross_border_zones(segs, two_squares, (100.0, 150.0))
    for side in ("focus", "neighbour"):
        narrow = z[(z.side == side) & (z.distance_km == 100)].geometry.iloc[0]
        wide = z[(z.side == side) & (z.distance_km == 150)].geometry.iloc[0]
        assert wide.buffer(1e-9).contains(narrow)
        assert wide.area > narrow.area


def test_belt_outline_is_at_the_distance(two_squares: gpd.GeoDataFrame) -> None:
    segs = border_segments(two_squares, "AAA", ())
    z = cross_border_zones(segs, two_squares, (100.0,))
    border = segs.geometry.iloc[0]
    focus = z[z.side == "focus"].geometry.iloc[0]
    # The belt's western edge (lon < -0.5) is its outer boundary: 100 km from the border.
    pts = shapely.get_coordinates(shapely.segmentize(focus.boundary, 0.01))
    outer = pts[(pts[:, 0] < -0.5) & (pts[:, 1] > 0.01) & (pts[:, 1] < 3.99)]
    assert len(outer) > 50
    d = distance_to_line_km(outer, border)
    assert np.all(np.abs(d / 100.0 - 1) < 0.005)


@pytest.fixture
def ring_round_a_sea() -> gpd.GeoDataFrame:
    # 3×3 grid of 2° squares at 40–46°N; the centre square is the sea.
    # AAA: west column; BBB: east column and north-centre; CCC: south-centre.
    sq = {(i, j): shapely.box(60 + 2 * i, 40 + 2 * j, 62 + 2 * i, 42 + 2 * j)
          for i in range(3) for j in range(3)}
    return countries(AAA=shapely.union_all([sq[0, 0], sq[0, 1], sq[0, 2]]),
                     BBB=shapely.union_all([sq[2, 0], sq[2, 1], sq[2, 2], sq[1, 2]]),
                     CCC=sq[1, 0])


def test_sea_shore_is_a_maritime_segment_with_derived_riparians(ring_round_a_sea) -> None:
    segs = border_segments(ring_round_a_sea, "AAA", (Sea("Inner Sea", (63.0, 43.0)),)).set_index(
        "segment_id")
    assert set(segs.index) == {"AAA-BBB", "AAA-CCC", "AAA-Inner Sea"}
    sea = segs.loc["AAA-Inner Sea"]
    assert sea.segment_type == "maritime"
    assert sea.neighbour == "BBB,CCC"
    # The shore is AAA's edge on the sea: the meridian 62°E from 42°N to 44°N.
    assert sea.length_km == pytest.approx(GEOD.inv(62, 42, 62, 44)[2] / 1000, abs=0.001)
    z = cross_border_zones(segs.reset_index(), ring_round_a_sea, (50.0,))
    sea_z = z[z.segment_id == "AAA-Inner Sea"]
    assert set(sea_z.country) == {"AAA", "BBB", "CCC"}  # belts reach across the sea
    assert shapely.area(shapely.intersection(sea_z.geometry.values, shapely.box(62, 42, 64, 44))).max() < 1e-9


def test_sea_point_on_land_is_a_clear_error(ring_round_a_sea) -> None:
    from pipeline.errors import DataError

    with pytest.raises(DataError, match="lies on land"):
        border_segments(ring_round_a_sea, "AAA", (Sea("Nowhere", (61.0, 41.0)),))


def test_border_regions_of_two_squares(two_squares: gpd.GeoDataFrame) -> None:
    # AAA has two regions: a western half (not on the border) and an eastern half (on it).
    regions = gpd.GeoDataFrame({
        "region_id": ["A-W|1", "A-E|2", "B-1|3"], "iso_3166_2": ["A-W", "A-E", "B-1"],
        "unit_code": ["1", "2", "3"], "name_en": ["West", "East", "Bee"], "name_ru": ["", "", ""],
        "country": ["AAA", "AAA", "BBB"]},
        geometry=[shapely.box(-4, 0, -2, 4), shapely.box(-2, 0, 0, 4), shapely.box(0, 0, 4, 4)],
        crs="EPSG:4326")
    regions["area_km2"] = area_km2(regions.geometry.values)
    regions["vintage"] = "test"
    segs = border_segments(two_squares, "AAA", ())
    z = cross_border_zones(segs, two_squares, (100.0, 250.0))
    br = border_regions(regions, segs, z, (100.0, 250.0), tolerance_km=1.0, min_shared_km=10.0,
                        min_zone_share=0.0, equal_area_crs=EQUAL_AREA).set_index("iso_3166_2")
    assert bool(br.loc["A-E", "borders"]) and bool(br.loc["B-1", "borders"])
    assert not bool(br.loc["A-W", "borders"])
    assert br.loc["A-E", "shared_border_km"] == pytest.approx(MERIDIAN_0_4_KM, rel=1e-3)
    # East half is 2° ≈ 222.6 km wide: all of its 100 km belt lies inside it.
    assert br.loc["A-E", "zone100_km2"] == pytest.approx(MERIDIAN_0_4_KM * 100, rel=0.002)
    assert br.loc["A-E", "zone100_share"] == pytest.approx(
        MERIDIAN_0_4_KM * 100 / br.loc["A-E", "area_km2"], rel=0.002)
    # The 250 km belt reaches ~27.4 km into the western half.
    assert br.loc["A-W", "zone250_km2"] == pytest.approx(
        MERIDIAN_0_4_KM * (250 - GEOD.inv(0, 2, -2, 2)[2] / 1000), rel=0.01)
    assert br.loc["A-W", "zone100_km2"] == 0.0


def test_geodesic_buffer_of_a_point_is_a_geodesic_circle() -> None:
    circle = geodesic_buffer(shapely.Point(70, 60), 500.0)
    # Spherical-cap area 2πR²(1 − cos(d/R)) with R = 6371 km; the ellipsoid differs by < 0.1 %.
    cap = 2 * np.pi * 6371.0**2 * (1 - np.cos(500 / 6371.0))
    assert area_km2([circle])[0] == pytest.approx(cap, rel=0.002)
    pts = shapely.get_coordinates(circle.exterior)
    _, _, dist = GEOD.inv(np.full(len(pts), 70.0), np.full(len(pts), 60.0), pts[:, 0], pts[:, 1])
    assert np.all(np.abs(dist / 500e3 - 1) < 0.001)


def test_length_km_is_geodesic_not_planar() -> None:
    # One degree of longitude at 60°N is about half a degree at the equator.
    eq, north = length_km([shapely.LineString([(0, 0), (1, 0)]), shapely.LineString([(0, 60), (1, 60)])])
    assert eq == pytest.approx(111.32, abs=0.01)
    assert north == pytest.approx(55.8, abs=0.1)


@settings(max_examples=25, deadline=None)
@given(lon=st.floats(45, 90), lat=st.floats(36, 56), d=st.floats(10, 400),
       bearing=st.floats(0, 360), length=st.floats(50, 1500))
def test_geodesic_buffer_outline_within_half_a_percent(lon, lat, d, bearing, length) -> None:
    # A wiggly geodesic line of `length` km; every outline point is d ± 0.5 % from it.
    n = 12
    pts = [(lon, lat)]
    for i in range(n):
        x, y, _ = GEOD.fwd(*pts[-1], bearing + 40 * np.sin(i), length * 1000 / n)
        pts.append((x, y))
    line = shapely.LineString(pts)
    buf = geodesic_buffer(line, d)
    rings = [r for p in shapely.get_parts(buf) for r in (p.exterior, *p.interiors)]
    outline = np.vstack([shapely.get_coordinates(r) for r in rings])
    dist = distance_to_line_km(outline, line)
    assert np.all(np.abs(dist / d - 1) < 0.005), (dist.min(), dist.max())


def test_ingest_repairs_invalid_and_drops_empty_geometries() -> None:
    from pipeline.ingest import clean

    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])  # self-intersecting: invalid
    gdf = gpd.GeoDataFrame({"k": [1, 2, 3]}, geometry=[bowtie, shapely.box(5, 5, 6, 6),
                                                       shapely.Polygon()], crs="EPSG:4326")
    out = clean(gdf, "test")
    assert out.repaired == 1 and out.dropped_empty == 1
    assert list(out.gdf.k) == [1, 2]
    assert out.gdf.is_valid.all()
    assert out.gdf.geometry.iloc[0].area == pytest.approx(2.0)  # the two triangles of the bow-tie


def test_a_region_3_km_short_of_the_border_borders_it_only_from_a_5_km_tolerance(two_squares) -> None:
    """AAA's region ends at 0.03°W (3.34 km short of the border on the meridian 0°); BBB's touches it."""
    from pipeline.border_regions import bordering_by_tolerance

    regions = gpd.GeoDataFrame({"region_id": ["A-N|1", "B-1|2"], "name_en": ["Near", "Bee"],
                                "country": ["AAA", "BBB"], "vintage": "test"},
                               geometry=[shapely.box(-2, 0, -0.03, 4), shapely.box(0, 0, 4, 4)], crs="EPSG:4326")
    segs = border_segments(two_squares, "AAA", ())
    t = bordering_by_tolerance(regions, segs, [1.0, 2.0, 5.0, 10.0], min_shared_km=10.0, equal_area_crs=EQUAL_AREA)
    by_tol = t.groupby("tolerance_km")["name_en"].apply(set).to_dict()
    assert by_tol == {1.0: {"Bee"}, 2.0: {"Bee"}, 5.0: {"Bee", "Near"}, 10.0: {"Bee", "Near"}}
    near = t[(t.name_en == "Near") & (t.tolerance_km == 5.0)].iloc[0]
    assert near.shared_border_km == pytest.approx(MERIDIAN_0_4_KM, rel=0.01)


def test_geodesic_area_subtracts_holes_and_adds_parts_as_pyproj_does():
    from pyproj import Geod

    outer = [(60.0, 40.0), (70.0, 40.0), (70.0, 50.0), (60.0, 50.0)]
    hole = [(62.0, 42.0), (64.0, 42.0), (64.0, 44.0), (62.0, 44.0)]
    holed = shapely.Polygon(outer, [hole])
    multi = shapely.MultiPolygon([holed, shapely.box(75.0, 45.0, 76.0, 46.0)])
    got = area_km2([holed, multi, shapely.Polygon(hole), None])
    g = Geod(ellps="WGS84")
    expect = [abs(g.geometry_area_perimeter(shapely.orient_polygons(x))[0]) / 1e6 for x in (holed, multi)]
    assert got[:2].tolist() == expect   # the same sums in the same order: equal to the last bit
    assert got[0] == pytest.approx(area_km2([shapely.Polygon(outer)])[0] - got[2], rel=1e-12)
    assert got[3] == 0.0


def test_local_azimuthal_projection_is_the_one_pyproj_finds_for_the_crs():
    from pyproj import CRS, Transformer

    from pipeline.geodesy import _aeqd

    fwd, inv = _aeqd(68.654321, 47.123456, "WGS84")
    crs = CRS.from_proj4("+proj=aeqd +lat_0=47.123456 +lon_0=68.654321 +ellps=WGS84 +units=m +no_defs")
    ref_fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    ref_inv = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(50, 90, 1000), rng.uniform(35, 60, 1000)
    xy = fwd.transform(lon, lat)
    assert np.array_equal(xy, ref_fwd.transform(lon, lat))          # bit for bit
    assert np.array_equal(inv.transform(*xy), ref_inv.transform(*xy))
    _, _, d = GEOD.inv(np.full(1000, 68.654321), np.full(1000, 47.123456), lon, lat)
    assert np.allclose(np.hypot(*xy), d, rtol=1e-9)                   # equidistant from the centre


def test_shared_border_km_clips_a_large_region_to_the_segment_and_measures_what_lies_within_the_tolerance() -> None:
    """A 2,000 km square region and a 200 km segment 2 km outside its east side reaching 104.6 km past its
    corner: the stretch within 5 km is the segment up to √(5² − 2²) km beyond the corner, as buffering the
    whole region gives (the region is clipped to the segment's surroundings before it is buffered)."""
    from pyproj import CRS

    from pipeline.border_regions import shared_border_km
    from pipeline.geodesy import length_km

    albers = CRS.from_proj4("+proj=aea +lat_1=42 +lat_2=52 +lat_0=47 +lon_0=67 +datum=WGS84 +units=m")
    km = 1000.0
    region = shapely.box(-1000 * km, -1000 * km, 1000 * km, 1000 * km)
    segment = shapely.LineString([(1002 * km, 900 * km), (1002 * km, 1100 * km)])
    got = shared_border_km(segment, np.array([region]), 5.0, albers, CRS.from_epsg(4326), "WGS84")[0]
    inside = shapely.LineString([(1002 * km, 900 * km), (1002 * km, 1000 * km + np.sqrt(21.0) * km)])
    expected = length_km(gpd.GeoSeries([inside], crs=albers).to_crs(4326).values, "WGS84")[0]
    assert got == pytest.approx(expected, abs=0.01)       # the buffer's arcs are polygons: metres, not km
    whole = shapely.intersection(segment, shapely.buffer(region, 5 * km))
    unclipped = length_km(gpd.GeoSeries([whole], crs=albers).to_crs(4326).values, "WGS84")[0]
    assert got == pytest.approx(unclipped, rel=1e-6)


def test_polygonised_cells_keep_their_cells_and_area_in_lon_lat() -> None:
    """A class touching the top of a 3,000 km wide Albers grid has a straight edge of 3,000 km. With only its
    two ends as vertices, that edge in lon/lat (where the outputs are, and their geodesic areas) runs kilometres
    south of the grid's: the polygon crosses its own outline there, and repaired (as the influence stage repairs
    reprojected outlines) and burnt back it loses cells. With a vertex every 10 cells it keeps every cell, and
    its geodesic area is its cells' (equal-area) area."""
    from affine import Affine

    from pipeline.rasters import burn, class_polygons

    albers = CRS.from_proj4("+proj=aea +lat_1=42 +lat_2=52 +lat_0=47 +lon_0=67 +datum=WGS84 +units=m")
    transform = Affine(1000.0, 0.0, -1_500_000.0, 0.0, -1000.0, 1_200_000.0)   # top edge near 58° N
    classes = np.full((200, 3000), -1, dtype=np.int32)
    classes[:5, :] = 7            # five rows along the whole top edge
    classes[5:40, 1000:1010] = 7  # and a spur below it: the sagging edge crosses it
    classes[50:120, 100:2900] = 3
    lonlat = class_polygons(classes, transform, albers, name="c").to_crs("EPSG:4326")
    assert lonlat.geometry.is_valid.all()
    back = gpd.GeoSeries(shapely.make_valid(lonlat.geometry.values), crs="EPSG:4326").to_crs(albers)
    burnt = burn(zip(back.values, lonlat["c"]), out_shape=classes.shape, transform=transform, fill=-1, dtype="int32")
    np.testing.assert_array_equal(burnt, classes)
    np.testing.assert_allclose(area_km2(lonlat.geometry.values, "WGS84"), [70 * 2800, 5 * 3000 + 350], rtol=1e-6)
