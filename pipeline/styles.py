"""QGIS styles (QML) for the output layers, stored in each GeoPackage's ``layer_styles`` table.

QGIS reads ``layer_styles`` as the layer's default style when it opens a GeoPackage layer, so the
outputs open styled: belts categorised by side and distance, travel times graduated, poles sized by
tier, crossings by mode. The QML is generated here (no QGIS needed at build time); the QGIS test
checks that QGIS applies it. Colours are ColorBrewer-like and print-safe.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

QGIS_VERSION = "3.22.16-Białowieża"


@dataclass(frozen=True)
class Sym:
    """One symbol: fill / line / marker with a colour (r,g,b,a), outline and size."""
    kind: str            # "fill" | "line" | "marker"
    color: str           # "r,g,b,a"
    outline: str = "60,60,60,255"
    width: float = 0.26  # mm (line width or outline width)
    size: float = 2.0    # mm (marker)
    style: str = "solid"  # line/fill style: solid, dash, no
    shape: str = "circle"  # marker: circle, diamond, square …


def _symbol_xml(name: str, s: Sym) -> str:
    if s.kind == "fill":
        props = {"color": s.color, "outline_color": s.outline, "outline_width": f"{s.width}",
                 "outline_width_unit": "MM", "style": s.style, "outline_style": "solid",
                 "joinstyle": "bevel"}
        cls = "SimpleFill"
    elif s.kind == "line":
        props = {"line_color": s.color, "line_width": f"{s.width}", "line_width_unit": "MM",
                 "line_style": s.style, "capstyle": "round", "joinstyle": "round"}
        cls = "SimpleLine"
    else:
        props = {"color": s.color, "outline_color": s.outline, "outline_width": "0.2",
                 "outline_width_unit": "MM", "name": s.shape, "size": f"{s.size}", "size_unit": "MM"}
        cls = "SimpleMarker"
    opts = "".join(f'<Option type="QString" name={quoteattr(k)} value={quoteattr(v)}/>'
                   for k, v in props.items())
    return (f'<symbol type="{s.kind}" name={quoteattr(name)} alpha="1" clip_to_extent="1" force_rhr="0">'
            f'<layer class="{cls}" enabled="1" pass="0" locked="0"><Option type="Map">{opts}</Option>'
            f'</layer></symbol>')


def single(sym: Sym) -> str:
    return (f'<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">'
            f'<symbols>{_symbol_xml("0", sym)}</symbols></renderer-v2>')


def categorized(attr: str, cats: Sequence[tuple[object, str, Sym]]) -> str:
    """Categories (value, label, symbol) on an attribute or expression."""
    c = "".join(f'<category render="true" symbol="{i}" value={quoteattr(str(v))} label={quoteattr(lab)}/>'
                for i, (v, lab, _) in enumerate(cats))
    syms = "".join(_symbol_xml(str(i), s) for i, (_, _, s) in enumerate(cats))
    return (f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(attr)} symbollevels="0" '
            f'enableorderby="0" forceraster="0"><categories>{c}</categories><symbols>{syms}</symbols>'
            f'</renderer-v2>')


def graduated(attr: str, ranges: Sequence[tuple[float, float, str, Sym]]) -> str:
    """Classes (lower, upper, label, symbol)."""
    r = "".join(f'<range render="true" symbol="{i}" lower="{lo}" upper="{hi}" label={quoteattr(lab)}/>'
                for i, (lo, hi, lab, _) in enumerate(ranges))
    syms = "".join(_symbol_xml(str(i), s) for i, (_, _, _, s) in enumerate(ranges))
    return (f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(attr)} graduatedMethod="GraduatedColor" '
            f'symbollevels="0" enableorderby="0" forceraster="0"><ranges>{r}</ranges>'
            f'<symbols>{syms}</symbols><mode name="manual"/></renderer-v2>')


def labels(field: str, size: float = 8.0, placement: int = 0, bold: bool = False) -> str:
    """Simple labels on ``field``: dark text with a white buffer (QGIS fills in its other defaults).
    ``placement``: 0 around a point, 1 over the point (polygon centroids)."""
    weight = 75 if bold else 50
    return (f'<labeling type="simple"><settings calloutType="simple">'
            f'<text-style fieldName="{field}" isExpression="0" fontSize="{size:g}" fontSizeUnit="Point" '
            f'fontWeight="{weight}" textColor="30,30,30,255" textOpacity="1">'
            f'<text-buffer bufferDraw="1" bufferSize="0.8" bufferSizeUnits="MM" bufferColor="255,255,255,255" '
            f'bufferOpacity="0.9"/></text-style>'
            f'<placement placement="{placement}" dist="1.2" distUnits="MM"/>'
            f'<rendering obstacle="1" drawLabels="1" scaleVisibility="0"/></settings></labeling>')


def qml(renderer: str, opacity: float = 1.0, labeling: str = "") -> str:
    """A QGIS style document: the renderer, optional labels, the layer opacity."""
    enabled = ' labelsEnabled="1"' if labeling else ""
    return (f'<!DOCTYPE qgis PUBLIC \'http://mrcc.com/qgis.dtd\' \'SYSTEM\'>'
            f'<qgis version="{QGIS_VERSION}"{enabled} styleCategories="Symbology|Labeling">{renderer}{labeling}'
            f'<layerOpacity>{opacity}</layerOpacity></qgis>')


# --- the pipeline's layers ------------------------------------------------------------------------

GREY = "230,230,225,255"
RED, BLUE, ORANGE = "215,48,39,255", "69,117,180,255", "244,109,67,255"
GREEN, PURPLE = "26,152,80,255", "118,42,131,255"
#: Paul Tol's "light" scheme (its blues left out: the sea is blue) for catchments, indexed by their
#: ``map_colour``: the colours only tell neighbours apart, also under colour-blindness; labels name the poles.
CATCHMENT_COLOURS = ("#EE8866", "#44BB99", "#EEDD88", "#FFAABB", "#BBCC33", "#DDDDDD", "#AAAA00")
#: Influence maps (and their QGIS layouts): one tier set each (layers/influence.yaml), in the scenario of the
#: territories beyond influence.
INFLUENCE_MAPS = {"influence": "all", "influence_kazakh": "kazakh"}
AXIS_COLOURS = {"northern": "0,114,178,255", "southern": "230,159,0,255", "central": "204,121,167,255"}
HOURS = [(0, 1, "< 1 h", "255,255,204,255"), (1, 2, "1–2 h", "199,233,180,255"),
         (2, 4, "2–4 h", "127,205,187,255"), (4, 8, "4–8 h", "65,182,196,255"),
         (8, 12, "8–12 h", "44,127,184,255"), (12, 1000, "≥ 12 h", "37,52,148,255")]
#: People per 1 km cell (= per km²), log classes; magma (colour-blind safe), as the population map.
POPULATION = [(0, 1, "under 1", "251,235,171,255"), (1, 10, "1–10", "252,139,91,255"),
              (10, 100, "10–100", "199,55,107,255"), (100, 1000, "100–1,000", "108,26,124,255"),
              (1000, 1e9, "1,000 and more", "18,13,49,255")]
BARRIER = [(-1000, 0.05, "< 0.05 h", "255,255,255,255"), (0.05, 0.25, "0.05–0.25 h", "254,224,210,255"),
           (0.25, 0.5, "0.25–0.5 h", "252,146,114,255"), (0.5, 1, "0.5–1 h", "222,45,38,255"),
           (1, 1000, "≥ 1 h", "165,15,21,255")]


def zone_style(distances: Sequence[float]) -> str:
    focus = ["253,174,97,140", "254,224,139,140", "255,255,191,140"]
    neigh = ["116,173,209,140", "171,217,233,140", "224,243,248,140"]
    cats = []
    for i, d in enumerate(sorted(distances)):
        for side, pal in (("focus", focus), ("neighbour", neigh)):
            cats.append((f"{side} {d:g}", f"{side} side, within {d:g} km",
                         Sym("fill", pal[min(i, len(pal) - 1)], "120,120,120,255", 0.1)))
    return qml(categorized('concat("side", \' \', format_number("distance_km", 0))', cats))


def outlined(ranges: Sequence[tuple[float, float, str, str]], width: float = 0.2
             ) -> list[tuple[float, float, str, Sym]]:
    """Graduated classes (low, high, label, fill colour) as fills with a thin grey outline."""
    return [(lo, hi, lab, Sym("fill", c, "90,90,90,255", width)) for lo, hi, lab, c in ranges]


def styles_for(distances: Sequence[float]) -> dict[str, str]:
    """QML per layer name (layers absent from a GeoPackage are skipped when writing)."""
    barrier_fill = outlined(BARRIER, 0.1)
    return {
        "countries": qml(single(Sym("fill", GREY, "90,90,90,255", 0.4)), labeling=labels("name", 10, 1, True)),
        "regions": qml(single(Sym("fill", "0,0,0,0", "130,130,130,255", 0.15))),
        "regions_geokz_2024": qml(single(Sym("fill", "0,0,0,0", "110,110,110,255", 0.2, style="solid"))),
        "border_segments": qml(categorized("segment_type", [
            ("land", "land border", Sym("line", RED, width=0.8)),
            ("maritime", "sea shore", Sym("line", BLUE, width=0.8, style="dash"))])),
        "zones": zone_style(distances),
        "border_regions": qml(categorized("side", [
            ("focus", "focus-country region", Sym("fill", "253,174,97,90", "150,80,20,255", 0.3)),
            ("neighbour", "neighbour region", Sym("fill", "116,173,209,90", "30,80,140,255", 0.3))])),
        # As the maps: tiers told apart by shape and lightness (black disc, white disc, grey diamond).
        "poles": qml(categorized("tier", [
            ("national", "national pole", Sym("marker", "17,17,17,255", "255,255,255,255", size=3.6)),
            ("regional", "regional pole", Sym("marker", "255,255,255,255", "17,17,17,255", size=2.4)),
            ("cross_border", "cross-border pole", Sym("marker", "119,119,119,255", "255,255,255,255", size=2.6,
                                                      shape="diamond"))]), labeling=labels("name")),
        "crossings": qml(categorized("mode", [
            ("road", "road crossing", Sym("marker", "0,0,0,255", size=2.2)),
            ("rail", "rail crossing", Sym("marker", "255,255,255,255", "0,0,0,255", size=2.2))])),
        "edges": qml(categorized("class", [
            ("Major Highway", "major highway", Sym("line", RED, width=0.6)),
            ("Road", "road", Sym("line", ORANGE, width=0.35)),
            ("Secondary Highway", "secondary highway", Sym("line", ORANGE, width=0.45)),
            ("Unknown", "road (unknown class)", Sym("line", "150,150,150,255", width=0.25)),
            ("Track", "track", Sym("line", "150,150,150,255", width=0.2, style="dash")),
            ("Ferry Route", "ferry", Sym("line", BLUE, width=0.4, style="dash")),
            ("default", "railway", Sym("line", "40,40,40,255", width=0.35)),
            ("border crossing", "border crossing", Sym("line", "0,0,0,255", width=1.0))])),
        "nodes": qml(single(Sym("marker", "80,80,80,255", size=0.8))),
        "isochrones": qml(graduated("min_h", [(lo, hi, lab, Sym("fill", c, "0,0,0,0", 0.0))
                                               for lo, hi, lab, c in HOURS[:5]]), 0.85),
        "zone_access": qml(graduated("barrier_h_current", barrier_fill)),
        "region_access": qml(graduated("barrier_h_current", barrier_fill)),
        # Neighbour-distinct colours (map_colour, as the influence maps).
        "catchments": qml(categorized(f'to_int("map_colour" % {len(CATCHMENT_COLOURS)})', [
            (i, f"catchment (colour {i + 1}: only tells neighbours apart)" if i else "catchment of the labelled pole",
             Sym("fill", ",".join(str(int(c[k:k + 2], 16)) for k in (1, 3, 5)) + ",150", "255,255,255,255", 0.3))
            for i, c in enumerate(CATCHMENT_COLOURS)])),   # the poles layer names them
        "huff_dominant": qml(graduated("mean_probability", outlined([
            (0, 0.5, "< 0.5", "247,252,185,200"),
            (0.5, 0.7, "0.5–0.7", "173,221,142,200"),
            (0.7, 0.9, "0.7–0.9", "49,163,84,200"),
            (0.9, 1.01, "≥ 0.9", "0,104,55,200")]))),
        # Outlines only, Okabe–Ito colours (distinct under colour-vision deficiencies): one variant at a time
        # is meant to be shown (filter on variant), the others compared as outlines.
        "huff_variants": qml(categorized("variant", [
            ("population", "population, all poles", Sym("fill", "0,0,0,0", "0,114,178,255", 0.5)),
            ("population_grp_poles", "population, poles with GRP", Sym("fill", "0,0,0,0", "230,159,0,255", 0.5)),
            ("grp", "GRP × population, poles with GRP", Sym("fill", "0,0,0,0", "213,94,0,255", 0.5))]),
            labeling=labels("name", 7.0, placement=1)),
        # Grey hatching: "doubt the catchments here", legible over any fill and in greyscale.
        "edge_effect": qml(single(Sym("fill", "80,80,80,200", "80,80,80,255", 0.2, style="b_diagonal"))),
        "beyond_influence": qml(categorized("tier_set", [
            ("national", "beyond the national poles", Sym("fill", "0,0,0,0", "200,200,200,255", 0.2)),
            ("kazakh", "beyond all Kazakh poles", Sym("fill", "215,48,39,70", "215,48,39,255", 0.3)),
            ("all", "beyond every pole", Sym("fill", "165,0,38,110", "165,0,38,255", 0.4))])),
        "region_beyond": qml(graduated("beyond_share_all", outlined([
            (0, 0.25, "< 25 %", "254,229,217,255"),
            (0.25, 0.5, "25–50 %", "252,174,145,255"),
            (0.5, 0.75, "50–75 %", "251,106,74,255"),
            (0.75, 1.01, "≥ 75 %", "203,24,29,255")]))),
        "cross_border_influence": qml(graduated("area_share_across", outlined([
            (0, 0.05, "< 5 %", "242,240,247,200"),
            (0.05, 0.2, "5–20 %", "188,189,220,200"),
            (0.2, 0.5, "20–50 %", "128,125,186,200"),
            (0.5, 1.01, "≥ 50 %", "84,39,143,200")]))),
        # Okabe–Ito blue, orange and reddish purple (told apart under colour-vision deficiencies, as the map);
        # road solid, rail dashed.
        "axes": qml(categorized('"axis" || \' / \' || "mode"', [
            (f"{axis} / {mode}", f"{axis} axis, {mode}",
             Sym("line", color, width=1.2 if mode == "road" else 0.6, style="solid" if mode == "road" else "dash"))
            for axis, color in AXIS_COLOURS.items() for mode in ("road", "rail")])),
        # Economy (viridis classes, as the economy map; colour-blind safe).
        "region_stats": qml(graduated("grp_per_capita_usd", outlined([
            (0, 5000, "under 5,000 USD per person", "68,1,84,230"),
            (5000, 10000, "5,000–10,000", "59,82,139,230"),
            (10000, 15000, "10,000–15,000", "33,145,140,230"),
            (15000, 25000, "15,000–25,000", "94,201,98,230"),
            (25000, 1e9, "25,000 and more", "253,231,37,230")]))),
        "border_economy": qml(categorized("side", [
            ("focus", "focus side", Sym("line", ORANGE, width=1.0)),
            ("neighbour", "neighbour side", Sym("line", PURPLE, width=1.0))])),
        "trade_by_neighbour": qml(graduated("turnover_usd_mn", outlined([
            (0, 1000, "under 1 bn USD", "247,252,185,220"),
            (1000, 5000, "1–5 bn USD", "173,221,142,220"),
            (5000, 20000, "5–20 bn USD", "65,171,93,220"),
            (20000, 1e9, "20 bn USD and more", "0,104,55,220")]))),
        # People.
        "region_totals": qml(categorized('if("has_total", \'official\', \'settlements\')', [
            ("official", "official total spread", Sym("fill", "0,0,0,0", "90,90,90,255", 0.2)),
            ("settlements", "settlements only (no official total)",
             Sym("fill", "200,200,200,120", "150,150,150,255", 0.2))])),
        "belt_population": qml(categorized("side", [
            ("focus", "focus side", Sym("fill", "253,174,97,90", "150,80,20,255", 0.2)),
            ("neighbour", "neighbour side", Sym("fill", "116,173,209,90", "30,80,140,255", 0.2))])),
        "region_belt_population": qml(graduated("share_of_region_pct", outlined([
            (0, 10, "under 10 % of its people", "254,235,226,200"),
            (10, 25, "10–25 %", "251,180,185,200"),
            (25, 50, "25–50 %", "247,104,161,200"),
            (50, 101, "50 % and more", "174,1,126,200")]))),
        "district_typology": qml(categorized('if("border_district", \'border\', \'other\')', [
            ("border", "border district", Sym("fill", "230,97,1,170", "120,50,0,255", 0.3)),
            ("other", "other district", Sym("fill", "0,0,0,0", "150,150,150,255", 0.15))])),
        "access_by_people": qml(graduated("mean_h_current", outlined([
            (lo, hi, lab, c) for lo, hi, lab, c in HOURS[:5]]))),
        # cividis-like blue to yellow: one lightness ramp, read alike under every colour-blindness
        "people_across": qml(graduated("people_share_across_current_pct", outlined([
            (0, 10, "under 10 % of its people: fastest pole abroad", "0,34,78,140"),
            (10, 25, "10–25 %", "87,92,109,170"),
            (25, 50, "25–50 %", "162,148,117,200"),
            (50, 101, "50 % and more", "253,234,69,220")]))),
        # The axes' Okabe–Ito colours, translucent (they were red, green and blue: two alike under deuteranopia).
        "axis_corridors": qml(categorized("axis", [
            (axis, f"{axis} corridor", Sym("fill", color.rsplit(",", 1)[0] + ",60", color, 0.2))
            for axis, color in AXIS_COLOURS.items()])),
    }


def store_styles(gpkg: Path, styles: dict[str, str]) -> list[str]:
    """Write each layer's QML into ``layer_styles`` as its default style (the table QGIS creates);
    returns the layers styled. Run on the temporary file before it is renamed into place."""
    con = sqlite3.connect(gpkg)
    try:
        layers = {r[0]: r[1] for r in con.execute(
            "SELECT c.table_name, g.column_name FROM gpkg_contents c JOIN gpkg_geometry_columns g "
            "ON g.table_name = c.table_name")}
        con.execute("""CREATE TABLE IF NOT EXISTS layer_styles (
            id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
            f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT,
            styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
            update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))""")
        con.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier) "
                    "VALUES ('layer_styles', 'attributes', 'layer_styles')")
        done = []
        for name, geom_col in layers.items():
            if name not in styles:
                continue
            con.execute("DELETE FROM layer_styles WHERE f_table_name = ?", (name,))
            con.execute("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                        "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
                        "owner, ui) VALUES ('', '', ?, ?, ?, ?, '', 1, ?, 'pipeline', '')",
                        (name, geom_col, name, styles[name], escape(f"default style of {name}")))
            done.append(name)
        con.commit()
    finally:
        con.close()
    return done


def economy_map_year(stats) -> int:
    """The year the economy map and its QGIS view show: the year of ``region_stats`` (Natural Earth
    vintage) with GRP per capita for the most countries (the latest such year on a tie).

    Parameters
    ----------
    stats : pandas.DataFrame
        The ``region_stats`` layer (columns vintage, year, country, grp_per_capita_usd).

    Returns
    -------
    int
    """
    have = stats[stats["vintage"] == "naturalearth"].dropna(subset=["grp_per_capita_usd"])
    counts = have.groupby("year")["country"].nunique()
    return int(counts[counts == counts.max()].index.max())
