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
