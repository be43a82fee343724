"""Publication maps: label placement and catchment colours, on known geometry."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from pyproj import CRS

from pipeline.maps import Frame
from pipeline.topology import neighbour_colours

ALBERS = CRS.from_proj4("+proj=aea +lat_1=42 +lat_2=52 +lat_0=47 +lon_0=67 +datum=WGS84 +units=m")


def test_touching_catchments_never_share_a_colour_and_a_grid_needs_four():
    # A 3 × 3 grid of unit squares: squares sharing an edge or a corner touch; the centre touches all 8,
    # and each 2 × 2 block is a clique of four, so four colours are needed and greedy finds four.
    cells = np.array([shapely.box(i, j, i + 1, j + 1) for i in range(3) for j in range(3)])
    colour = neighbour_colours(cells)
    for a in range(9):
        for b in range(a + 1, 9):
            if cells[a].intersects(cells[b]):
                assert colour[a] != colour[b], (a, b)
    assert colour.max() + 1 == 4


def test_squares_apart_share_one_colour():
    cells = np.array([shapely.box(3 * i, 0, 3 * i + 1, 1) for i in range(5)])
    assert set(neighbour_colours(cells)) == {0}


def _frame(tmp_path, poles: gpd.GeoDataFrame) -> Frame:
    countries = gpd.GeoDataFrame(
        {"country": ["KAZ", "CHN"], "name": ["Kazakhstan", "China"]},
        geometry=[shapely.box(50, 42, 80, 54), shapely.box(80, 38, 92, 50)], crs="EPSG:4326")
    fr = Frame("Test map", countries, "KAZ", ALBERS, poles)
    fr.finish(tmp_path, "test")
    FigureCanvasAgg(fr.fig)   # the closed figure, laid out as saved, measured again
    return fr


def test_pole_names_sit_inside_the_frame_and_never_overlap_each_other(tmp_path):
    # Four poles a few kilometres apart: each name takes another of the eight spots around its marker.
    names = ["Northtown", "Easttown", "Southtown", "Westtown", "Edgetown"]
    pts = [(66.0, 48.05), (66.05, 48.0), (66.0, 47.95), (65.95, 48.0), (79.95, 47.0)]
    poles = gpd.GeoDataFrame({"name": names, "tier": ["national", "regional", "regional", "cross_border",
                                                      "regional"], "population": [5, 4, 3, 2, 1]},
                             geometry=[shapely.Point(p) for p in pts], crs="EPSG:4326")
    fr = _frame(tmp_path, poles)
    renderer = fr.fig.canvas.get_renderer()
    frame = fr.ax.get_window_extent(renderer)
    boxes = {t.get_text(): t.get_window_extent(renderer) for t in fr.ax.texts if t.get_text() in names}
    assert set(boxes) == set(names)          # every pole named, once
    for name, box in boxes.items():
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, name
    placed = list(boxes.values())
    for i in range(len(placed)):
        for j in range(i + 1, len(placed)):
            assert not placed[i].overlaps(placed[j]), (names[i], names[j])
    assert (tmp_path / "test.png").stat().st_size > 50_000 and (tmp_path / "test.pdf").exists()


def test_every_country_in_the_frame_is_named_clear_of_the_legend(tmp_path):
    poles = gpd.GeoDataFrame({"name": ["Capital"], "tier": ["national"], "population": [1]},
                             geometry=[shapely.Point(71.4, 51.1)], crs="EPSG:4326")
    fr = _frame(tmp_path, poles)
    renderer = fr.fig.canvas.get_renderer()
    labels = {t.get_text(): t.get_window_extent(renderer) for t in fr.ax.texts}
    assert "KAZAKHSTAN" in labels and "CHINA" in labels
    legend = fr.ax.get_legend().get_window_extent(renderer)
    for name in ("KAZAKHSTAN", "CHINA"):
        assert not labels[name].overlaps(legend), name


def test_a_raster_map_pdf_holds_every_cell_of_the_frame_not_a_100_dpi_copy(tmp_path):
    """A 2,800 × 1,700 km raster of 1 km cells covering the frame: the PDF embeds it at its own resolution (the
    cells the frame shows), where the figure's 100 dpi would have given about 1,000 pixels across."""
    import re

    import rasterio
    from affine import Affine

    from pipeline.maps import HOURS

    countries = gpd.GeoDataFrame({"country": ["KAZ"], "name": ["Kazakhstan"]},
                                 geometry=[shapely.box(50, 42, 80, 54)], crs="EPSG:4326")
    fr = Frame("Test raster map", countries, "KAZ", ALBERS, None)
    x0, x1, y0, y1 = fr.extent
    cols, rows = int((x1 - x0) // 1000) + 40, int((y1 - y0) // 1000) + 40   # the frame and 20 cells around it
    hours = np.add.outer(np.arange(rows), np.arange(cols)).astype(np.float32) / 500
    path = tmp_path / "hours.tif"
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=1, dtype="float32",
                       crs=ALBERS.to_wkt(), transform=Affine(1000, 0, x0 - 20_000, 0, -1000, y1 + 20_000),
                       nodata=-9999) as dst:
        dst.write(hours, 1)
    fr.raster(path, HOURS, "hours")
    fr.finish(tmp_path, "raster")
    pdf = (tmp_path / "raster.pdf").read_bytes()
    width = max(int(w) for w in re.findall(rb"/Width (\d+)", pdf))
    assert width >= (x1 - x0) / 1000 - 2   # every 1 km cell across the frame
