"""The QGIS project's print layout, without QGIS: well-formed XML, the map frame at the view's aspect,
a scale bar of a round number of km, a legend of the layers shown (the QGIS test opens and exports it)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from pipeline.qgis_project import print_layout


def test_the_a4_layout_has_map_legend_and_a_scale_bar_of_round_kilometres() -> None:
    extent = (-2_050_000.0, -700_000.0, 2_050_000.0, 2_000_000.0)   # 4,100 × 2,700 km
    xml = print_layout("A4", "Title", "Credits", extent, [("a_poles", "poles", "./a.gpkg|layername=poles")])
    root = ET.fromstring(xml)
    items = {i.get("id"): i for i in root.iter("LayoutItem") if i.get("id")}
    assert set(items) == {"map", "title", "legend", "scale bar", "credits"}
    w, h = (float(v) for v in items["map"].get("size").split(",")[:2])
    assert h / w == pytest.approx(2_700 / 4_100, rel=1e-5)   # the frame takes the view's aspect (sizes to 6 digits)
    # 4,100 km over 200 mm: a fifth of the width is 820 km, so segments of 500 km.
    assert items["scale bar"].get("numUnitsPerSegment") == "500" and items["scale bar"].get("unitType") == "km"
    assert items["legend"].get("map_uuid") == items["map"].get("uuid")
    assert [n.get("name") for n in items["legend"].iter("layer-tree-layer")] == ["poles"]


def _tiny_outputs(tmp_path):
    """A GeoPackage of two layers (one with two tier sets) and a GeoTIFF, written as the stages write them."""
    import geopandas as gpd
    import numpy as np
    import shapely
    from affine import Affine
    from pyproj import CRS

    from pipeline.io import write_layers
    from pipeline.rasters import write_geotiff

    crs = CRS.from_proj4("+proj=aea +lat_1=42 +lat_2=52 +lat_0=47 +lon_0=67 +datum=WGS84 +units=m")
    poles = gpd.GeoDataFrame({"name": ["A", "B"], "tier": ["national", "regional"]},
                             geometry=[shapely.Point(67, 47), shapely.Point(68, 48)], crs="EPSG:4326")
    catch = gpd.GeoDataFrame({"tier_set": ["all", "kazakh"], "scenario": ["current", "current"], "map_colour": [0, 1]},
                             geometry=[shapely.box(66, 46, 68, 48), shapely.box(66, 46, 67, 47)], crs="EPSG:4326")
    md = {n: {"TITLE": n.capitalize(), "ABSTRACT": f"the {n}", "SOURCE": "test source", "LICENCE": "CC BY 4.0"}
          for n in ("poles", "catchments")}
    write_layers(tmp_path / "influence.gpkg", {"poles": poles, "catchments": catch}, {"poles": "the poles"},
                 layer_metadata=md)
    (tmp_path / "rasters").mkdir()
    write_geotiff(tmp_path / "rasters" / "access_current.tif", np.ones((4, 4), dtype="float32"),
                  Affine(1000, 0, 0, 0, -1000, 4000), crs, {"units": "hours", "description": "hours to a pole"})
    return crs


def test_each_map_theme_gets_a_layout_whose_map_follows_it_and_a_legend_of_its_layers(tmp_path) -> None:
    from pipeline.qgis_project import build_project, layer_id

    crs = _tiny_outputs(tmp_path)
    groups = {"Poles": [("influence.gpkg", "poles", True)],
              "Catchments": [("influence.gpkg", "catchments", False, "\"tier_set\" = 'all'", "catchments: all"),
                             ("influence.gpkg", "catchments", False, "\"tier_set\" = 'kazakh'", "catchments: kazakh")],
              "Rasters": [("rasters/access_current.tif", "", False)]}
    views = {"influence": ("Catchments", [layer_id("influence.gpkg", "poles"),
                                          layer_id("influence.gpkg", "catchments", "catchments: all")]),
             "travel_time": ("Hours", [layer_id("rasters/access_current.tif"), layer_id("influence.gpkg", "poles")]),
             "economy": ("Not written by this run", ["economy_region_stats", layer_id("influence.gpkg", "poles")])}
    root = ET.fromstring(build_project(tmp_path, groups, {}, crs, "T", extent=(0, 0, 4000, 4000), themes=views)
                         .split("\n", 1)[1])
    presets = {p.get("name"): [lyr.get("id") for lyr in p.iter("layer")] for p in root.iter("visibility-preset")}
    # The economy view lost its layer (not written): a theme of the poles alone is not kept.
    assert presets == {"influence": ["influence_poles", "influence_catchments_catchments_all"],
                       "travel_time": ["influence_poles", "raster_access_current"]}
    layouts = {lay.get("name"): lay for lay in root.iter("Layout")}
    assert set(layouts) == {"influence: Catchments", "travel_time: Hours"}
    for name, lay in layouts.items():
        theme = name.split(":")[0]
        items = {i.get("id"): i for i in lay.iter("LayoutItem") if i.get("id")}
        assert items["map"].get("followPreset") == "true" and items["map"].get("followPresetName") == theme
        assert [n.get("id") for n in items["legend"].iter("layer-tree-layer")] == presets[theme]
        assert items["legend"].get("legendFilterByMap") == "1"   # keys only what the map shows
    # The filtered view: one layer of the GeoPackage with its where clause, under its own name.
    sources = {m.findtext("id"): m.findtext("datasource") for m in root.iter("maplayer")}
    assert sources["influence_catchments_catchments_all"] == "./influence.gpkg|layername=catchments|subset=\"tier_set\" = 'all'"


def test_every_project_layer_carries_title_abstract_licence_and_source_for_the_metadata_panel(tmp_path) -> None:
    from pipeline.qgis_project import build_project

    crs = _tiny_outputs(tmp_path)
    groups = {"G": [("influence.gpkg", "poles", True), ("rasters/access_current.tif", "", True)]}
    root = ET.fromstring(build_project(tmp_path, groups, {}, crs, "T").split("\n", 1)[1])
    md = {m.findtext("id"): m.find("resourceMetadata") for m in root.iter("maplayer")}
    assert md["influence_poles"].findtext("title") == "Poles"
    assert md["influence_poles"].findtext("license") == "CC BY 4.0"
    assert md["influence_poles"].findtext("rights") == "test source"
    assert md["raster_access_current"].findtext("title") == "Access current"
    assert "hours to a pole" in md["raster_access_current"].findtext("abstract")
    assert "CC BY 4.0" in md["raster_access_current"].findtext("license")   # the outputs' licence, from its tags
    # The GeoTIFF itself carries licence and credit (TIFF copyright tag), and the GeoPackage layer its title
    # (GeoPackage identifier) and an abstract naming source and licence: QGIS shows both opened alone.
    import pyogrio
    import rasterio

    with rasterio.open(tmp_path / "rasters" / "access_current.tif") as src:
        assert "CC BY 4.0" in src.tags()["TIFFTAG_COPYRIGHT"]
    info = pyogrio.read_info(tmp_path / "influence.gpkg", layer="poles")["layer_metadata"]
    assert info["IDENTIFIER"] == "Poles"
    assert info["DESCRIPTION"] == "the poles Source: test source. Licence: CC BY 4.0."


def test_repeated_vertices_are_removed_before_writing_and_the_polygon_keeps_its_area(tmp_path) -> None:
    import geopandas as gpd
    import shapely

    from pipeline.io import write_layers

    # A unit square with its second vertex doubled 1e-9 away (QGIS: "duplicate node"), a line with a
    # repeated vertex, and a point (left alone).
    square = shapely.Polygon([(0, 0), (1, 0), (1 + 1e-9, 0), (1, 1), (0, 1), (0, 0)])
    line = shapely.LineString([(0, 0), (0, 0), (2, 0)])
    gdf = gpd.GeoDataFrame({"k": [1, 2, 3]}, geometry=[square, line, shapely.Point(5, 5)], crs="EPSG:3857")
    write_layers(tmp_path / "t.gpkg", {"t": gdf})
    back = gpd.read_file(tmp_path / "t.gpkg", layer="t")
    assert shapely.get_num_coordinates(back.geometry.values).tolist() == [5, 2, 1]
    assert back.geometry[0].area == pytest.approx(1.0, abs=1e-8) and back.geometry[0].is_valid
    assert back.geometry[1].length == 2.0
