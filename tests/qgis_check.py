"""Run by the QGIS test under a Python that has PyQGIS (Debian: python3-qgis), headless.

Usage: qgis_check.py OUTPUTS_DIR PROJECT RENDER_PNG (with QT_QPA_PLATFORM=offscreen).
Opens every layer of every GeoPackage in OUTPUTS_DIR and outputs/stages/crossings.gpkg, every
GeoTIFF in OUTPUTS_DIR/rasters, opens the project, renders it and exports its print layouts to PDF
beside RENDER_PNG; prints one JSON document with what QGIS saw.
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    QgsApplication, QgsMapRendererSequentialJob, QgsMapSettings, QgsProject, QgsRasterLayer,
    QgsVectorLayer)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402

out_dir, project_path, png = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
app = QgsApplication([], False)
app.initQgis()
result = {"qgis": app.applicationVersion() if hasattr(app, "applicationVersion") else "", "vector": {},
          "raster": {}}
from qgis.core import Qgis  # noqa: E402

result["qgis"] = Qgis.QGIS_VERSION
gpkgs = sorted(out_dir.glob("*.gpkg")) + [out_dir / "stages" / "crossings.gpkg"]
for gpkg in gpkgs:
    probe = QgsVectorLayer(str(gpkg), "probe", "ogr")
    for sub in probe.dataProvider().subLayers():
        name = sub.split("!!::!!")[1]
        if name == "layer_styles":
            continue
        layer = QgsVectorLayer(f"{gpkg}|layername={name}", name, "ogr")
        renderer = layer.renderer()
        result["vector"][f"{gpkg.name}/{name}"] = {
            "valid": layer.isValid(), "features": layer.featureCount(), "crs": layer.crs().authid(),
            "renderer": renderer.type() if renderer else None,
            "labels": layer.labeling().settings().fieldName if layer.labelsEnabled() and layer.labeling() else "",
            "categories": [c.label() for c in renderer.categories()]
            if renderer is not None and renderer.type() == "categorizedSymbol" else [],
            # QGIS's own validity check (Vector ▸ Geometry Tools ▸ Check Validity, QGIS engine) on the layers
            # where it found duplicate nodes before (it is quadratic: minutes on the large layers, which
            # test_maps checks for repeated vertices without QGIS).
            "duplicate_nodes": sum(any("duplicate" in e.what().lower() for e in f.geometry().validateGeometry())
                                   for f in layer.getFeatures() if f.hasGeometry()
                                   and f.geometry().type() in (1, 2))
            if name in ("border_regions", "regions_geokz_2024", "regions", "border_segments", "countries") else 0,
            "metadata": {"title": layer.metadata().title(), "abstract": layer.metadata().abstract()}}
for tif in sorted((out_dir / "rasters").glob("*.tif")):
    layer = QgsRasterLayer(str(tif), tif.stem, "gdal")
    layer.loadDefaultMetadata()   # the .qmd sidecar, as QGIS does when a file is added
    result["raster"][tif.stem] = {"valid": layer.isValid(), "crs_wkt": layer.crs().toWkt(),
                                  "crs_name": layer.crs().description(),
                                  "metadata": {"title": layer.metadata().title(),
                                               "licenses": layer.metadata().licenses(),
                                               "rights": layer.metadata().rights()},
                                  "renderer": layer.renderer().type() if layer.renderer() else None,
                                  "width": layer.width(), "height": layer.height()}
project = QgsProject.instance()
result["project_read"] = project.read(project_path)
layers = list(project.mapLayers().values())
result["project_layers"] = len(layers)
result["project_invalid"] = [lyr.name() for lyr in layers if not lyr.isValid()]
result["project_crs"] = project.crs().toProj()
result["project_crs_name"] = project.crs().description()
view = project.viewSettings().defaultViewExtent() if hasattr(project, "viewSettings") else None
result["project_extent"] = [view.xMinimum(), view.yMinimum(), view.xMaximum(), view.yMaximum()] if view else []
result["project_labels"] = {lyr.name(): lyr.labelsEnabled() for lyr in layers if hasattr(lyr, "labelsEnabled")}
result["project_metadata"] = {lyr.name(): {"title": lyr.metadata().title(), "abstract": lyr.metadata().abstract(),
                                           "licenses": lyr.metadata().licenses(), "rights": lyr.metadata().rights()}
                              for lyr in layers}
result["project_features"] = {lyr.name(): lyr.featureCount() for lyr in layers if hasattr(lyr, "featureCount")}
# How much of its own extent each categorized polygon layer paints, drawn alone (0: a value no category
# matches is not drawn at all).
from qgis.core import QgsCoordinateTransform  # noqa: E402

result["project_painted"] = {}
for lyr in layers:
    renderer = lyr.renderer() if isinstance(lyr, QgsVectorLayer) else None
    if renderer is None or renderer.type() != "categorizedSymbol" or lyr.geometryType() != 2 or not lyr.featureCount():
        continue
    alone = QgsMapSettings()
    alone.setLayers([lyr])
    alone.setDestinationCrs(project.crs())
    alone.setExtent(QgsCoordinateTransform(lyr.crs(), project.crs(), project).transformBoundingBox(lyr.extent()))
    alone.setOutputSize(QSize(300, 200))
    alone.setBackgroundColor(QColor(255, 255, 255))
    job_alone = QgsMapRendererSequentialJob(alone)
    job_alone.start()
    job_alone.waitForFinished()
    img = job_alone.renderedImage()
    white = QColor(255, 255, 255).rgb()
    result["project_painted"][lyr.name()] = sum(img.pixel(x, y) != white for x in range(0, 300, 3)
                                                for y in range(0, 200, 3)) / (100 * 67)
result["themes"] = {t: [lyr.name() for lyr in project.mapThemeCollection().mapThemeVisibleLayers(t)]
                    for t in project.mapThemeCollection().mapThemes()}
visible = [n.layer() for n in project.layerTreeRoot().findLayers() if n.isVisible()]
settings = QgsMapSettings()
settings.setLayers(visible)
settings.setDestinationCrs(project.crs())
countries = [lyr for lyr in layers if lyr.name() == "countries"][0]
from qgis.core import QgsCoordinateTransform  # noqa: E402

to_project = QgsCoordinateTransform(countries.crs(), project.crs(), project)
focus = to_project.transformBoundingBox(countries.extent())
settings.setExtent(focus)
settings.setOutputSize(QSize(1200, 800))
settings.setBackgroundColor(QColor(255, 255, 255))
job = QgsMapRendererSequentialJob(settings)
job.start()
job.waitForFinished()
image = job.renderedImage()
image.save(png)
colours = {image.pixel(x, y) for x in range(0, image.width(), 10) for y in range(0, image.height(), 10)}
result["render_colours"] = len(colours)
result["render_errors"] = [e.message for e in job.errors()]
# Every print layout, exported to PDF headless as a user would from File ▸ Export.
from qgis.core import QgsLayoutExporter, QgsLayoutItem  # noqa: E402

result["layouts"] = {}
for i, layout in enumerate(project.layoutManager().layouts()):
    pdf = str(Path(png).with_name(f"layout_{i}.pdf"))
    status = QgsLayoutExporter(layout).exportToPdf(pdf, QgsLayoutExporter.PdfExportSettings())
    items = {it.id(): it.sizeWithUnits().width() for it in layout.items() if isinstance(it, QgsLayoutItem) and it.id()}
    # Not blank: the layout rendered to an image has many colours inside the map frame.
    image = QgsLayoutExporter(layout).renderPageToImage(0, QSize(1190, 842))
    frame_colours = {image.pixel(x, y) for x in range(40, 830, 7) for y in range(90, 700, 7)}
    maps = [it for it in layout.items() if it.type() == 65639]
    result["layouts"][layout.name()] = {"status": int(status), "pdf": pdf,
                                        "pdf_bytes": os.path.getsize(pdf) if os.path.exists(pdf) else 0,
                                        "items": items, "colours": len(frame_colours),
                                        "theme": maps[0].followVisibilityPresetName() if maps else "",
                                        "map_layers": [lyr.name() for lyr in maps[0].layersToRender()]
                                        if maps else []}
print(json.dumps(result), flush=True)
# exitQgis() can crash in headless PyQGIS teardown; everything is written, so leave directly.
os._exit(0)
