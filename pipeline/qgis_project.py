"""Part of stage 6a (publish), QGIS project: ``outputs/border_regions.qgs`` with every output layer, styled.

Reads the output GeoPackages and GeoTIFFs; writes a QGIS 3 project (XML) grouped by stage, with
relative paths (the outputs folder can be moved) and the equal-area project CRS of
``layers/study.yaml``. Vector layers carry the same QML renderers as the GeoPackages' default
styles; rasters a pseudocolour ramp, also written as a sidecar ``.qml`` so they open styled alone.
Every layer carries its metadata (``<resourceMetadata>``); map themes and print layouts (one per
publication map) follow ``build_project``'s ``themes``. No QGIS is needed to write it; the QGIS test
opens it, renders it and exports every layout.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pyogrio
from pyproj import CRS

from .io import pending_or_current
from .styles import BARRIER, HOURS, POPULATION, QGIS_VERSION

GEOM = {"Point": "Point", "MultiPoint": "Point", "LineString": "Line", "MultiLineString": "Line",
        "Polygon": "Polygon", "MultiPolygon": "Polygon"}


def srs_xml(crs: CRS) -> str:
    """QGIS's <spatialrefsys> of ``crs`` (WKT, PROJ string, authority id, name).

    Parameters
    ----------
    crs
        The layer's CRS.

    Returns
    -------
    str
        The XML element, one per distinct CRS computed (a project has ~100 layers in 2 or 3 CRSs, and
        pyproj's authority lookup takes 30 ms).
    """
    wkt = crs.to_wkt()
    if wkt not in _SRS_XML:
        _SRS_XML[wkt] = _srs_xml(crs)
    return _SRS_XML[wkt]


_SRS_XML: dict[str, str] = {}


def _srs_xml(crs: CRS) -> str:
    with warnings.catch_warnings():  # a PROJ string is only QGIS's fallback; the WKT is what counts
        warnings.simplefilter("ignore", UserWarning)
        proj4 = crs.to_proj4()
    auth = crs.to_authority()
    authid = f"{auth[0]}:{auth[1]}" if auth else ""
    return (f"<spatialrefsys><wkt>{escape(crs.to_wkt())}</wkt><proj4>{escape(proj4)}</proj4>"
            f"<authid>{authid}</authid><description>{escape(crs.name)}</description></spatialrefsys>")


def _renderer(qml: str) -> str:
    """The renderer and, when the style has them, the labels of a QML document."""
    m = re.search(r"<renderer-v2.*</renderer-v2>", qml, re.S)
    lab = re.search(r"<labeling.*</labeling>", qml, re.S)
    return (m.group(0) if m else "") + (lab.group(0) if lab else "")


def raster_pipe(kind: str) -> str:
    """Pseudocolour renderer for hours (access), hours lost (barrier), Huff probability or people per cell
    (population), discrete classes. No barrier loss (< 0.05 h) is transparent, not the first loss class."""
    classes = {"access": HOURS, "barrier": BARRIER[1:], "population": POPULATION,
               "person_hours": POPULATION}.get(kind, HOURS)
    items = "".join(f'<item alpha="255" value="{hi}" label={quoteattr(lab)} '
                    f'color="#{"".join(f"{int(v):02x}" for v in c.split(",")[:3])}"/>'
                    for lo, hi, lab, c in classes)
    if kind == "barrier":
        items = (f'<item alpha="0" value="{BARRIER[1][0]}" label="no loss (&lt; {BARRIER[1][0]} h)" '
                 'color="#ffffff"/>' + items)
    if kind == "huff":
        items = "".join(f'<item alpha="255" value="{v}" label={quoteattr(lab)} color="{c}"/>' for v, lab, c in
                        ((0.5, "< 0.5", "#f7fcb9"), (0.7, "0.5–0.7", "#addd8e"), (0.9, "0.7–0.9", "#31a354"),
                         (1.0, "0.9–1", "#006837")))
    hi = {"access": 24, "barrier": 12, "huff": 1, "population": 10000, "person_hours": 10000}[kind]
    return (f'<pipe><rasterrenderer type="singlebandpseudocolor" band="1" opacity="1" alphaBand="-1" '
            f'classificationMin="0" classificationMax="{hi}"><rastershader>'
            f'<colorrampshader colorRampType="DISCRETE" classificationMode="1" clip="0" '
            f'minimumValue="0" maximumValue="{hi}">{items}</colorrampshader></rastershader>'
            f'</rasterrenderer></pipe>')


def raster_kind(name: str) -> str:
    """The style of a GeoTIFF of the outputs, from its name."""
    return next((k for k in ("access", "huff", "population", "barrier", "person_hours") if name.startswith(k)),
                "barrier")


def raster_qml(name: str) -> str:
    return (f"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'><qgis version=\"{QGIS_VERSION}\" "
            f"styleCategories=\"Symbology\">{raster_pipe(raster_kind(name))}</qgis>")


def metadata_elements(md: Mapping[str, str], crs: CRS | None = None) -> str:
    """QGIS layer metadata (the Metadata panel of Layer Properties) as XML elements.

    Parameters
    ----------
    md
        ``TITLE``, ``ABSTRACT``, ``LICENCE``, ``SOURCE`` (the credit line: shown as rights and history),
        optionally ``IDENTIFIER``; missing keys are left empty.
    crs
        The layer's CRS, when known.

    Returns
    -------
    str
        The children of a ``<resourceMetadata>`` element (project) or of a ``.qmd`` document's root.
    """
    title, source = md.get("TITLE", ""), md.get("SOURCE", "")
    return (f"<identifier>{escape(md.get('IDENTIFIER', title))}</identifier><parentidentifier></parentidentifier>"
            f"<language>en</language><type>dataset</type><title>{escape(title)}</title>"
            f"<abstract>{escape(md.get('ABSTRACT', ''))}</abstract>"
            '<keywords vocabulary="gmd:topicCategory"><keyword>boundaries</keyword>'
            "<keyword>economy</keyword><keyword>transportation</keyword></keywords>"
            f"<links/><history>{escape(source)}</history><fees></fees>"
            f"<rights>{escape(source)}</rights><license>{escape(md.get('LICENCE', ''))}</license>"
            "<encoding></encoding>" + (f"<crs>{srs_xml(crs)}</crs>" if crs is not None else "<crs/>") + "<extent/>")


def resource_metadata(md: Mapping[str, str], crs: CRS | None = None) -> str:
    """A project layer's ``<resourceMetadata>`` (see ``metadata_elements``)."""
    return f"<resourceMetadata>{metadata_elements(md, crs)}</resourceMetadata>"


def geotiff_tags(tif: Path) -> dict[str, str]:
    """The GeoTIFF's metadata tags (default domain)."""
    import rasterio

    with rasterio.open(tif) as src:
        return dict(src.tags())


def qmd(md: Mapping[str, str], crs: CRS | None = None) -> str:
    """A ``.qmd`` sidecar: QGIS loads it as the metadata of the file beside it (a GeoTIFF)."""
    return (f"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n<qgis version=\"{QGIS_VERSION}\">"
            f"{metadata_elements(md, crs)}</qgis>\n")


def raster_metadata(tags: Mapping[str, str], stem: str) -> dict[str, str]:
    """Title, abstract, licence and source of an output GeoTIFF from its tags (see ``rasters.write_geotiff``)."""
    abstract = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in tags.items()
                         if k not in ("AREA_OR_POINT", "TIFFTAG_COPYRIGHT", "TIFFTAG_IMAGEDESCRIPTION", "licence",
                                      "source", "config_sha256"))
    return {"TITLE": stem.replace("_", " ").capitalize(), "ABSTRACT": abstract,
            "LICENCE": tags.get("licence", ""), "SOURCE": tags.get("source", "")}


def _font(size: float, bold: bool = False) -> str:
    return f'description="Sans Serif,{size:g},-1,5,{75 if bold else 50},0,0,0,0,0" style=""'


def print_layout(name: str, title: str, credit: str, extent: tuple[float, float, float, float],
                 legend_layers: Sequence[tuple[str, str, str]], map_uuid: str = "{border-regions-main-map}",
                 theme: str = "") -> str:
    """An A4 landscape print layout (QGIS layout XML): title, the map at the saved view, a legend of the
    layers shown, a scale bar in km and the credits; File ▸ Layout Manager opens it, and QGIS exports it
    to PDF headless (the QGIS test does).

    Parameters
    ----------
    name
        The layout's name.
    title, credit
        Text above the map and below it.
    extent
        The map's extent (project CRS, metres); the map frame takes its aspect.
    legend_layers
        (layer id, name, source) of the layers in the legend, top first.
    map_uuid
        Identifier tying the legend and scale bar to the map.
    theme
        A map theme the map follows (its layers shown, whatever the canvas shows); none: the canvas's.

    Returns
    -------
    str
        A ``<Layout>`` element.
    """
    width = 200.0
    height = min(170.0, width * (extent[3] - extent[1]) / (extent[2] - extent[0]))
    x, y = 8.0, 20.0
    # A scale bar segment of a round length near a fifth of the map's width.
    km_per_mm = (extent[2] - extent[0]) / 1000.0 / width
    steps = (1000, 500, 250, 200, 100, 50, 25, 10, 5, 2, 1, 0.5, 0.2, 0.1)
    seg_km = next((v for v in steps if v <= km_per_mm * width / 5), steps[-1])
    styles = "".join(f'<style name="{n}"><styleFont {_font(sz, b)}/></style>' for n, sz, b in
                     (("title", 10, True), ("group", 8, True), ("subgroup", 7.5, False), ("symbol", 7, False),
                      ("symbolLabel", 7, False)))
    tree = "".join(f'<layer-tree-layer id="{lid}" name={quoteattr(lname)} source={quoteattr(src)} '
                   'checked="Qt::Checked" expanded="1"><customproperties/></layer-tree-layer>'
                   for lid, lname, src in legend_layers)

    def item(kind: int, ident: str, w: float, h: float, px: float, py: float, attrs: str = "", body: str = "") -> str:
        return (f'<LayoutItem type="{kind}" id={quoteattr(ident)} size="{w:g},{h:g},mm" position="{px:g},{py:g},mm" '
                f'positionOnPage="{px:g},{py:g},mm" {attrs}>{body}</LayoutItem>')

    return (f'<Layout name={quoteattr(name)} units="mm" printResolution="300">'
            '<PageCollection><LayoutItem type="65638" size="297,210,mm" position="0,0,mm" positionOnPage="0,0,mm"/>'
            "</PageCollection>"
            + item(65639, "map", width, height, x, y, f'uuid="{map_uuid}" frame="true" keepLayerSet="false"'
                   + (f' followPreset="true" followPresetName={quoteattr(theme)}' if theme else ""),
                   f'<Extent xmin="{extent[0]}" ymin="{extent[1]}" xmax="{extent[2]}" ymax="{extent[3]}"/>')
            + item(65641, "title", 280, 10, x, 7, f"labelText={quoteattr(title)}", f"<LabelFont {_font(14, True)}/>")
            + item(65642, "legend", 80, height, x + width + 6, y,
                   f'map_uuid="{map_uuid}" title="" frame="false" resizeToContents="0" legendFilterByMap="1" symbolWidth="5" '
                   'symbolHeight="3.5"', f"<styles>{styles}</styles><layer-tree-group><customproperties/>{tree}"
                   "</layer-tree-group>")
            + item(65646, "scale bar", 60, 8, x + width - 62, y + height + 3,
                   f'mapUuid="{map_uuid}" unitType="km" numSegments="2" numSegmentsLeft="0" '
                   f'numUnitsPerSegment="{seg_km}" numMapUnitsPerScaleBarUnit="1" unitLabel="km" '
                   'segmentSizeMode="0" height="2.5" style="Single Box"', '<text-style fontSize="7"/>')
            + item(65641, "credits", width - 70, 10, x, y + height + 3, f"labelText={quoteattr(credit)}",
                   f"<LabelFont {_font(6)}/>")
            + "</Layout>")


def layer_id(rel: str, layer: str = "", view: str = "") -> str:
    """A project layer's id: the file's stem and the layer name (``raster_`` and the stem for a GeoTIFF), and
    the name of a filtered view if any.

    Parameters
    ----------
    rel
        The file (path relative to the project).
    layer
        The GeoPackage layer; "" for a raster.
    view
        The display name of a filtered view of the layer (see ``build_project``).

    Returns
    -------
    str
    """
    parts = ([Path(rel).stem, layer] if layer else ["raster", Path(rel).stem]) \
        + ([re.sub(r"[^A-Za-z0-9]+", "_", view)] if view else [])
    return "_".join(parts)


def build_project(outputs: Path, groups: Mapping[str, Sequence[tuple]],
                  styles: Mapping[str, str], crs: CRS, title: str,
                  extent: tuple[float, float, float, float] | None = None, credit: str = "",
                  themes: Mapping[str, tuple[str, Sequence[str]]] | None = None) -> str:
    """The QGIS project's XML.

    Parameters
    ----------
    outputs
        The folder the paths are relative to (the project's folder).
    groups
        Group name (top of the legend first) → members ``(path relative to outputs, layer name or "" for a
        raster, visible)``, or ``(path, layer, visible, subset, display name)`` for a filtered view of a
        layer (an OGR SQL where clause, e.g. one tier set and scenario of the catchments).
    styles
        QML per layer name (renderer and labels).
    crs
        The project CRS (named, equal-area).
    title
        The project's title.
    extent
        The saved view (project CRS, metres); also the print layouts' map extent.
    credit
        The print layouts' credit line.
    themes
        Map theme name → (title, layer ids shown): one map theme and one A4 print layout each, the
        layout's map following its theme; layers this run did not write are left out of a theme. Without
        themes, one layout of the visible layers.

    Returns
    -------
    str
        The ``.qgs`` document.
    """
    tree, layers, order, shown, ids = [], [], [], [], {}
    for group, members in groups.items():
        entries = []
        for member in members:
            rel, layer, visible = member[:3]
            subset, display = (member[3], member[4]) if len(member) > 3 else ("", "")
            path = outputs / rel
            if layer:
                info = pyogrio.read_info(pending_or_current(path), layer=layer)
                lid = layer_id(rel, layer, display if subset else "")
                source = f"./{rel}|layername={layer}" + (f"|subset={subset}" if subset else "")
                style = _renderer(styles.get(layer, ""))
                labelled = ' labelsEnabled="1"' if "<labeling" in style else ""
                lcrs = CRS.from_user_input(info["crs"])
                md = resource_metadata(info.get("layer_metadata") or {}, lcrs)
                name = display or layer
                body = (f'<maplayer type="vector"{labelled} geometry="{GEOM.get(info["geometry_type"], "Unknown")}">'
                        f"<id>{lid}</id><datasource>{escape(source)}</datasource>"
                        f"<layername>{escape(name)}</layername>"
                        f"<srs>{srs_xml(lcrs)}</srs>{md}"
                        f'<provider encoding="UTF-8">ogr</provider>{style}'
                        f"</maplayer>")
            else:
                lid = layer_id(rel)
                source = f"./{rel}"
                md = resource_metadata(raster_metadata(geotiff_tags(pending_or_current(path)), Path(rel).stem), crs)
                name = Path(rel).stem
                body = (f'<maplayer type="raster"><id>{lid}</id><datasource>{escape(source)}</datasource>'
                        f"<layername>{escape(name)}</layername><srs>{srs_xml(crs)}</srs>{md}"
                        f"<provider>gdal</provider>{raster_pipe(raster_kind(name))}</maplayer>")
            layers.append(body)
            order.append(lid)
            ids[lid] = (lid, name, source)
            if visible:
                shown.append((lid, name, source))
            entries.append(f'<layer-tree-layer id="{lid}" name={quoteattr(name)} source={quoteattr(source)} '
                           f'providerKey="{"ogr" if layer else "gdal"}" '
                           f'checked="{"Qt::Checked" if visible else "Qt::Unchecked"}" expanded="0">'
                           f"<customproperties/></layer-tree-layer>")
        tree.append(f'<layer-tree-group name={quoteattr(group)} checked="Qt::Checked" expanded="1">'
                    f"<customproperties/>{''.join(entries)}</layer-tree-group>")
    presets, layouts = "", ""
    if extent and themes:
        # A theme keeps the layers this run wrote; one left with less than two layers (its own and the base)
        # is dropped (e.g. the economy themes when the economy stage did not run).
        themes = {t: (ttl, [lid for lid in lids if lid in ids]) for t, (ttl, lids) in themes.items()}
        themes = {t: v for t, v in themes.items() if len(v[1]) >= 2}
        presets = "<visibility-presets>" + "".join(
            f'<visibility-preset name={quoteattr(theme)} has-expanded-info="0" has-checked-group-info="0">'
            + "".join(f'<layer id="{lid}" visible="1" style="default"/>' for lid in order if lid in lids)
            + "</visibility-preset>" for theme, (_, lids) in themes.items()) + "</visibility-presets>"
        layouts = "".join(print_layout(f"{theme}: {ttl}", ttl, credit, extent,
                                       [ids[lid] for lid in order if lid in lids],
                                       map_uuid=f"{{map-{theme}}}", theme=theme)
                          for theme, (ttl, lids) in themes.items())
    elif extent:
        layouts = print_layout("Border zones, A4 landscape", title, credit, extent, shown)
    return (f"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f'<qgis projectname={quoteattr(title)} version="{QGIS_VERSION}">'
            f'<homePath path=""/><title>{escape(title)}</title>'
            f"<projectCrs>{srs_xml(crs)}</projectCrs>"
            f"<layer-tree-group><customproperties/>{''.join(tree)}</layer-tree-group>"
            f"<projectlayers>{''.join(layers)}</projectlayers>"
            + (f'<mapcanvas name="theMapCanvas"><units>meters</units><extent><xmin>{extent[0]}</xmin>'
               f"<ymin>{extent[1]}</ymin><xmax>{extent[2]}</xmax><ymax>{extent[3]}</ymax></extent>"
               f"<destinationsrs>{srs_xml(crs)}</destinationsrs></mapcanvas>"
               f'<ProjectViewSettings UseProjectScales="0"><Scales/><DefaultViewExtent xmin="{extent[0]}" '
               f'ymin="{extent[1]}" xmax="{extent[2]}" ymax="{extent[3]}">{srs_xml(crs)}</DefaultViewExtent>'
               f"</ProjectViewSettings>" if extent else "")
            + presets
            + (f"<Layouts>{layouts}</Layouts>" if layouts else "")
            + '<properties><Paths><Absolute type="bool">false</Absolute></Paths>'
            '<SpatialRefSys><ProjectionsEnabled type="int">1</ProjectionsEnabled></SpatialRefSys>'
            "</properties>"
            "</qgis>\n")
