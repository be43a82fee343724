"""The validation step flags invalid outputs and belts that overlap beyond their shared corner."""

from __future__ import annotations

import geopandas as gpd
import shapely

from pipeline.borders import border_segments
from pipeline.validate import check_layers, check_zone_overlaps
from pipeline.zones import cross_border_zones


def three_countries() -> gpd.GeoDataFrame:
    # AAA in the middle; BBB east of it and CCC north of it: the two borders meet at (0, 4).
    return gpd.GeoDataFrame({"country": ["AAA", "BBB", "CCC"], "name": ["A", "B", "C"]},
                            geometry=[shapely.box(-4, 0, 0, 4), shapely.box(0, 0, 4, 8),
                                      shapely.box(-4, 4, 0, 8)],
                            crs="EPSG:4326")


def test_belts_meeting_at_a_corner_pass_and_a_fake_overlap_fails() -> None:
    c = three_countries()
    segs = border_segments(c, "AAA", ())
    zones = cross_border_zones(segs, c, (100.0,))
    problems, lines = check_zone_overlaps(zones, segs)
    assert problems == []
    assert any("AAA-BBB/100km/AAA" in ln and "AAA-CCC/100km/AAA" in ln and "| ok |" in ln for ln in lines)
    # Make one belt cover the whole country: the overlap is now far beyond a corner.
    whole = zones.copy()
    i = whole.index[(whole.segment_id == "AAA-BBB") & (whole.side == "focus")][0]
    whole.loc[i, "geometry"] = c.geometry[0]
    problems, _ = check_zone_overlaps(whole, segs)
    assert len(problems) == 1 and "overlap by" in problems[0]


def test_invalid_and_empty_layers_are_reported(tmp_path) -> None:
    path = tmp_path / "bad.gpkg"
    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    gpd.GeoDataFrame({"a": [1]}, geometry=[bowtie], crs="EPSG:4326").to_file(path, layer="bowtie")
    gpd.GeoDataFrame({"a": []}, geometry=[], crs="EPSG:4326").to_file(path, layer="nothing")
    problems, _ = check_layers([path])
    assert "bad.gpkg/bowtie: 1 invalid geometries" in problems
    assert "bad.gpkg/nothing: empty layer" in problems
