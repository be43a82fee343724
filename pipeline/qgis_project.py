"""Part of stage 6a (publish), QGIS project: ``outputs/border_regions.qgs`` with every output layer, styled.

Reads the output GeoPackages and GeoTIFFs; writes a QGIS 3 project (XML) grouped by stage, with
relative paths (the outputs folder can be moved) and the equal-area project CRS of
``layers/study.yaml``. Vector layers carry the same QML renderers as the GeoPackages' default
styles; rasters a pseudocolour ramp, also written as a sidecar ``.qml`` so they open styled alone.
No QGIS is needed to write it; the QGIS test opens and renders it.
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


def build_project(outputs: Path, groups: Mapping[str, Sequence[tuple[str, str, bool]]],
                  styles: Mapping[str, str], crs: CRS, title: str,
                  extent: tuple[float, float, float, float] | None = None) -> str:
    """Project XML. ``groups``: group name (top of the legend first) → [(path relative to
    ``outputs``, layer name or "" for a raster, visible)]."""
    tree, layers, order = [], [], []
    for group, members in groups.items():
        entries = []
        for rel, layer, visible in members:
            path = outputs / rel
            if layer:
                info = pyogrio.read_info(pending_or_current(path), layer=layer)
                lid = f"{Path(rel).stem}_{layer}"
                source = f"./{rel}|layername={layer}"
                style = _renderer(styles.get(layer, ""))
                labelled = ' labelsEnabled="1"' if "<labeling" in style else ""
                body = (f'<maplayer type="vector"{labelled} geometry="{GEOM.get(info["geometry_type"], "Unknown")}">'
                        f"<id>{lid}</id><datasource>{escape(source)}</datasource>"
                        f"<layername>{escape(layer)}</layername>"
                        f"<srs>{srs_xml(CRS.from_user_input(info['crs']))}</srs>"
                        f'<provider encoding="UTF-8">ogr</provider>{style}'
                        f"</maplayer>")
                name = layer
            else:
                lid = Path(rel).stem
                source = f"./{rel}"
                body = (f'<maplayer type="raster"><id>{lid}</id><datasource>{escape(source)}</datasource>'
                        f"<layername>{escape(lid)}</layername><srs>{srs_xml(crs)}</srs>"
                        f"<provider>gdal</provider>{raster_pipe(raster_kind(lid))}</maplayer>")
                name = lid
            layers.append(body)
            order.append(lid)
            entries.append(f'<layer-tree-layer id="{lid}" name={quoteattr(name)} source={quoteattr(source)} '
                           f'providerKey="{"ogr" if layer else "gdal"}" '
                           f'checked="{"Qt::Checked" if visible else "Qt::Unchecked"}" expanded="0">'
                           f"<customproperties/></layer-tree-layer>")
        tree.append(f'<layer-tree-group name={quoteattr(group)} checked="Qt::Checked" expanded="1">'
                    f"<customproperties/>{''.join(entries)}</layer-tree-group>")
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
            + 
            '<properties><Paths><Absolute type="bool">false</Absolute></Paths>'
            '<SpatialRefSys><ProjectionsEnabled type="int">1</ProjectionsEnabled></SpatialRefSys>'
            "</properties>"
            "</qgis>\n")
