"""GeoTIFF writing and raster → vector helpers (rasterio), used by the accessibility stage.

GeoTIFFs are float32, DEFLATE-compressed with a floating-point predictor, tiled 256 × 256, with
nodata, an explicit CRS, internal overviews (2–32, average) and tags for units and meaning; each
is written to a temporary file and renamed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine
from pyproj import CRS
from rasterio import features
from rasterio.enums import Resampling

from .io import atomic_path

NODATA = -9999.0


def room_for(path: Path, nbytes: int) -> None:
    """Refuse, before writing, a file that cannot fit: under the process's file size limit (``ulimit -f``)
    and the free space of its disk. GDAL's TIFF writer reports neither reliably (a truncated file, or a
    crash building overviews), so the check comes first, against the uncompressed size (an upper bound).

    Parameters
    ----------
    path
        The file to write.
    nbytes
        Its largest possible size in bytes.

    Raises
    ------
    WriteError
        Naming the limit or the free space and what the file may need.
    """
    import resource
    import shutil

    from .errors import WriteError

    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY and soft < nbytes:
        raise WriteError(f"cannot write {path}: it may need {nbytes / 1e6:,.0f} MB and files are limited to "
                         f"{soft / 1e6:,.1f} MB (ulimit -f); raise the limit — previous outputs are left as they were")
    folder = path.parent if path.parent.exists() else Path(".")
    free = shutil.disk_usage(folder).free
    if free < nbytes:
        raise WriteError(f"cannot write {path}: it may need {nbytes / 1e6:,.0f} MB and its disk has "
                         f"{free / 1e6:,.0f} MB free; free some space — previous outputs are left as they were")


def write_geotiff(path: Path | str, data: np.ndarray, transform: Affine, crs: CRS,
                  tags: Mapping[str, str] | None = None, nodata: float = NODATA) -> Path:
    """Write one band (NaN → nodata) atomically, tagged with the outputs' licence and credit (also as the
    TIFF copyright tag) besides ``tags`` (units, description, scenario …)."""
    band = np.where(np.isfinite(data), data, nodata).astype(np.float32)
    # DEFLATE (every GIS reads it) at level 1: a travel-time raster with its overviews in 0.35 s against 0.48 s
    # at level 3 and about 0.7 s at the default 6, files 2 % and 4 % larger (ZSTD would halve the time, but not
    # every GIS reads it)
    profile = {"driver": "GTiff", "height": band.shape[0], "width": band.shape[1], "count": 1,
               "dtype": "float32", "crs": crs.to_wkt(), "transform": transform, "nodata": nodata,
               "compress": "deflate", "zlevel": 1, "predictor": 3, "tiled": True, "blockxsize": 256,
               "blockysize": 256, "BIGTIFF": "IF_SAFER", "NUM_THREADS": "ALL_CPUS"}
    from .outputs import CREDIT, LICENCE

    room_for(Path(path), int(band.nbytes * 4 / 3) + (1 << 20))   # the band uncompressed, its overviews, tags

    tags = {"licence": LICENCE, "source": CREDIT, "TIFFTAG_COPYRIGHT": f"{CREDIT}. {LICENCE}",
            **({"TIFFTAG_IMAGEDESCRIPTION": tags["description"]} if tags and "description" in tags else {}),
            **(tags or {})}
    with atomic_path(path) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(band, 1)
            dst.update_tags(**tags)
            levels = [f for f in (2, 4, 8, 16, 32) if min(band.shape) // f >= 64]
            if levels:
                dst.build_overviews(levels, Resampling.average)
                dst.update_tags(ns="rio_overview", resampling="average")
    return Path(path)


def geojson(geom):
    """A shapely geometry as the GeoJSON-like mapping rasterio burns, its coordinates through numpy.

    shapely's ``__geo_interface__`` builds every coordinate pair in Python (a second for the regions of
    one stage); this gives the same mapping with the same doubles. Geometries other than (multi)polygons
    and (multi)lines, and empty ones, are passed through unchanged.

    Parameters
    ----------
    geom
        A shapely geometry (or anything rasterio accepts).

    Returns
    -------
    dict or the input
        ``{"type": ..., "coordinates": ...}``.
    """
    if not isinstance(geom, shapely.Geometry) or geom.is_empty:
        return geom

    def ring(r) -> list:
        return shapely.get_coordinates(r).tolist()

    def polygon(p) -> list:
        return [ring(p.exterior), *(ring(r) for r in p.interiors)]

    kind = geom.geom_type
    if kind == "Polygon":
        return {"type": kind, "coordinates": polygon(geom)}
    if kind == "MultiPolygon":
        return {"type": kind, "coordinates": [polygon(p) for p in geom.geoms]}
    if kind == "LineString":
        return {"type": kind, "coordinates": ring(geom)}
    if kind == "MultiLineString":
        return {"type": kind, "coordinates": [ring(g) for g in geom.geoms]}
    return geom


def burn(shapes, out_shape: tuple[int, int], transform: Affine, fill: float = 0, dtype: str = "uint8",
         all_touched: bool = False) -> np.ndarray:
    """``rasterio.features.rasterize`` of (geometry, value) pairs, the geometries passed as :func:`geojson`
    (the same cells, faster).

    Parameters
    ----------
    shapes
        Iterable of (geometry, value).
    out_shape, transform
        The raster's (rows, columns) and transform.
    fill, dtype, all_touched
        As for ``rasterize``.

    Returns
    -------
    ndarray
        The burnt raster.
    """
    return features.rasterize(((geojson(g), v) for g, v in shapes), out_shape=out_shape, transform=transform,
                              fill=fill, dtype=dtype, all_touched=all_touched)


def write_stage_raster(path: Path | str, bands: list[np.ndarray], transform: Affine, crs: CRS,
                       tags: Mapping[str, str] | None = None) -> Path:
    """An intermediate raster for a later stage, written atomically: the bands as they are (dtype of the
    first, NaN kept, no nodata, no overviews), ZSTD level 1 with horizontal differencing (predictor 2, for
    floats too: the population surface's three float64 bands in 34 MB, read in 0.18 s, against 81 MB and 0.58 s
    with the floating-point predictor; read by this pipeline's GDAL only).

    Parameters
    ----------
    path
        The stage file (``outputs/stages/<name>.tif``).
    bands
        Arrays of the grid's shape, one per band.
    transform, crs
        The grid.
    tags
        Dataset tags (units, description).

    Returns
    -------
    Path
        ``path``.
    """
    with stage_raster_bands(path, len(bands), bands[0].shape, bands[0].dtype, transform, crs, tags) as put:
        for band in bands:
            put(band)
    return Path(path)


@contextmanager
def stage_raster_bands(path: Path | str, count: int, shape: tuple[int, int], dtype, transform: Affine, crs: CRS,
                       tags: Mapping[str, str] | None = None) -> Iterator:
    """A stage raster written band by band as its bands are made (none held in memory for the others), as
    :func:`write_stage_raster` writes it; atomically, so a stage that fails leaves no half-written file.

    Parameters
    ----------
    path, transform, crs, tags
        As for :func:`write_stage_raster`.
    count, shape, dtype
        Number of bands, (rows, columns) and data type.

    Yields
    ------
    callable
        ``put(band, name=None)`` writes the next band (cast to ``dtype``); a name becomes the tag ``band_<i>``.
        Fewer than ``count`` bands put is an error.
    """
    dtype = np.dtype(dtype)
    profile = {"driver": "GTiff", "height": shape[0], "width": shape[1], "count": count,
               "dtype": str(dtype), "crs": crs.to_wkt(), "transform": transform, "compress": "zstd",
               "zstd_level": 1, "predictor": 2, "tiled": True, "blockxsize": 256,
               "blockysize": 256, "NUM_THREADS": "ALL_CPUS"}
    written, names = [0], {}
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        def put(band: np.ndarray, name: str | None = None) -> None:
            written[0] += 1
            dst.write(band.astype(dtype, copy=False), written[0])
            if name is not None:
                names[f"band_{written[0]}"] = name

        yield put
        if written[0] != count:
            raise ValueError(f"{path}: {written[0]} bands written of {count}")
        if tags or names:
            dst.update_tags(**(tags or {}), **names)


def read_named_bands(path: Path | str, grid, stage: str) -> dict[str, np.ndarray]:
    """The bands of a stage raster by the names its tags ``band_<i>`` give them, checked to lie on ``grid``.

    Parameters
    ----------
    path, grid, stage
        As for :func:`read_stage_raster`.

    Returns
    -------
    dict
        Band name → array, in band order.
    """
    bands, tags = _read_stage(path, grid, stage)
    return {tags.get(f"band_{i}", str(i)): band for i, band in enumerate(bands, start=1)}


def read_filled(src, fill: float, band: int = 1) -> np.ndarray:
    """A band as float64 with its masked cells (nodata, or the file's mask) set to ``fill``: what
    ``src.read(band, masked=True).astype("float64").filled(fill)`` gives, without numpy.ma's copies
    (0.14 s instead of 0.6 s for a band of 8 million cells).

    Parameters
    ----------
    src : rasterio.DatasetReader
        An open raster.
    fill
        Value of the masked cells.
    band
        Band number (1-based).

    Returns
    -------
    ndarray (float64)
    """
    data = src.read(band).astype(np.float64)
    data[src.read_masks(band) == 0] = fill
    return data


def read_stage_raster(path: Path | str, grid, stage: str) -> list[np.ndarray]:
    """The bands of a stage raster, checked to lie on ``grid``.

    Parameters
    ----------
    path
        The stage file.
    grid : accessibility.Grid
        The grid this run expects (shape and transform).
    stage
        The stage that writes the file, for the error messages.

    Returns
    -------
    list of ndarray
        One array per band.
    """
    return _read_stage(path, grid, stage)[0]


def _read_stage(path: Path | str, grid, stage: str) -> tuple[list[np.ndarray], dict[str, str]]:
    """A stage raster's bands and dataset tags, in one opening (the checks of :func:`read_stage_raster`)."""
    from .errors import DataMissingError

    path = Path(path)
    if not path.is_file():
        raise DataMissingError(f"{path} not found: run the {stage} stage first (make all builds it)")
    with rasterio.open(path) as src:
        if (src.height, src.width) != (grid.height, grid.width) or not src.transform.almost_equals(grid.transform):
            raise DataMissingError(f"{path} is on another grid than this configuration's: run the {stage} stage "
                                   "again (make all does)")
        return [src.read(i) for i in range(1, src.count + 1)], src.tags()


#: Straight runs of a polygonised raster get a vertex at least every this many cells (:func:`class_polygons`).
SEGMENT_CELLS = 10


def _corners(t: Affine, cols: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map coordinates of grid positions (column, row; corners at whole numbers)."""
    cols, rows = np.asarray(cols, dtype=np.float64), np.asarray(rows, dtype=np.float64)
    return t.a * cols + t.b * rows + t.c, t.d * cols + t.e * rows + t.f


def _simple_rings(rows: np.ndarray, cols: np.ndarray, start: np.ndarray, value: np.ndarray,
                  shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rings of :func:`~pipeline.kernels.label_rings` with those that pass a corner twice (a region meeting
    itself at a corner: a hole touching its shell, or two holes touching) split there into simple rings,
    each keeping the region on its left."""
    ring = np.repeat(np.arange(len(value)), np.diff(start))
    stride = np.int64(shape[1] + 1) * (shape[0] + 1)
    corner = np.delete(ring.astype(np.int64) * stride + rows.astype(np.int64) * (shape[1] + 1) + cols,
                       start[1:] - 1)   # the closing vertices left out
    corner.sort()
    touching = np.unique(corner[1:][corner[1:] == corner[:-1]] // stride)
    if not len(touching):
        return rows, cols, start, value
    pieces = []   # (rows, cols, value) of the new rings
    for i in touching:
        path: list[tuple[int, int]] = []
        at: dict[tuple[int, int], int] = {}
        for v in zip(rows[start[i]:start[i + 1] - 1].tolist(), cols[start[i]:start[i + 1] - 1].tolist()):
            if v in at:   # a loop closes here: cut it out of the path
                loop = path[at[v]:]
                del path[at[v]:]
                for u in loop:
                    del at[u]
                pieces.append((loop + [v], value[i]))
            at[v] = len(path)
            path.append(v)
        pieces.append((path + [path[0]], value[i]))
    keep = np.setdiff1d(np.arange(len(value)), touching)
    lengths = np.r_[np.diff(start)[keep], [len(p) for p, _ in pieces]]
    kept_vertices = np.isin(ring, keep)
    new_rows = np.r_[rows[kept_vertices], [r for p, _ in pieces for r, _ in p]].astype(np.int32)
    new_cols = np.r_[cols[kept_vertices], [c for p, _ in pieces for _, c in p]].astype(np.int32)
    return (new_rows, new_cols, np.r_[0, np.cumsum(lengths)], np.r_[value[keep], [v for _, v in pieces]]
            .astype(value.dtype))


def class_polygons(classes: np.ndarray, transform: Affine, crs: CRS, name: str = "value",
                   nodata: int = -1) -> gpd.GeoDataFrame:
    """Polygons of equal integer values of a raster, one (multi)polygon per value, sorted by value.

    Parameters
    ----------
    classes
        Integer raster.
    transform, crs
        Its georeferencing.
    name
        Name of the value column.
    nodata
        Value left out.

    Returns
    -------
    GeoDataFrame
        ``name`` and the polygon of its cells: each 4-connected region of the value a polygon (its holes
        included), a MultiPolygon where there are several, as GDAL's polygonising with connectivity 4 and a
        union of the pieces give them (tests), traced by :func:`~pipeline.kernels.label_rings` in a tenth
        of GDAL's time (a pass over the cells, then along the boundaries only). Vertices at the corners where
        a boundary turns, and at least every :data:`SEGMENT_CELLS` cells along straight runs
        (:func:`shapely.segmentize`): reprojected (to lon/lat, for the outputs), a polygon keeps its cells.
        With only the corners of a run, a straight edge of hundreds of km (the grid's border) bends in lon/lat
        by kilometres and loses (or gains) a row of cells; 10 km between vertices bend by metres (a sagitta of
        L²/8R, R thousands of km).
    """
    from .kernels import label_rings

    rows, cols, start, value = label_rings(np.ascontiguousarray(classes, dtype=np.int32), np.int32(nodata))
    if not len(value):
        return gpd.GeoDataFrame({name: np.array([], dtype=np.int64)}, geometry=[], crs=crs)
    rows, cols, start, value = _simple_rings(rows, cols, start, value, classes.shape)
    ring = np.repeat(np.arange(len(value)), np.diff(start))
    x, y = _corners(transform, cols, rows)
    # twice the signed area of each ring on the map: shells positive (counter-clockwise), holes negative
    same = ring[:-1] == ring[1:]
    twice = np.bincount(ring[:-1][same], weights=(x[:-1] * y[1:] - x[1:] * y[:-1])[same], minlength=len(value))
    rings = shapely.linearrings(np.column_stack([x, y]), indices=ring)
    shells, holes = np.flatnonzero(twice > 0), np.flatnonzero(twice < 0)
    owner = np.empty(0, dtype=np.int64)
    if len(holes):
        # A hole belongs to the smallest shell of its value around the cell right of its first edge (a cell
        # inside the hole, next to its boundary: in no island the hole holds); shells of one value nest.
        r1, c1, r2, c2 = rows[start[holes]], cols[start[holes]], rows[start[holes] + 1], cols[start[holes] + 1]
        right_row = np.where(r2 < r1, r2, np.where(c2 < c1, r1 - 1, r1))
        right_col = np.where(c2 > c1, c1, np.where(c2 < c1, c2, np.where(r2 < r1, c1, c1 - 1)))
        hx, hy = _corners(transform, right_col + 0.5, right_row + 0.5)
        hit_hole, hit_shell = shapely.STRtree(shapely.polygons(rings[shells])).query(shapely.points(hx, hy),
                                                                                     predicate="within")
        keep = value[holes][hit_hole] == value[shells][hit_shell]
        hit_hole, hit_shell = hit_hole[keep], hit_shell[keep]
        order = np.lexsort((twice[shells][hit_shell], hit_hole))
        hit_hole, hit_shell = hit_hole[order], hit_shell[order]
        first = np.r_[True, hit_hole[1:] != hit_hole[:-1]]
        if first.sum() != len(holes):
            raise RuntimeError("class_polygons: a hole without its shell (please report)")
        owner = hit_shell[first]
    polygon_of = np.concatenate([np.arange(len(shells)), owner])   # each ring's polygon, shells first
    order = np.argsort(polygon_of, kind="stable")
    polygons = shapely.polygons(rings[np.concatenate([shells, holes])[order]], indices=polygon_of[order])
    values, part_of = np.unique(value[shells], return_inverse=True)
    merged = np.empty(len(values), dtype=object)
    counts = np.bincount(part_of, minlength=len(values))
    one = counts[part_of] == 1
    merged[part_of[one]] = polygons[one]
    if (~one).any():
        several, slot = np.unique(part_of[~one], return_inverse=True)
        by_value = np.argsort(slot, kind="stable")   # the parts of a value in raster order
        parts = polygons[~one][by_value]
        merged[several] = shapely.multipolygons(shapely.get_parts(parts), indices=np.repeat(
            slot[by_value], shapely.get_num_geometries(parts)))
    merged = shapely.segmentize(merged, SEGMENT_CELLS * min(abs(transform.a), abs(transform.e)))
    return gpd.GeoDataFrame({name: values.astype(np.int64)}, geometry=merged, crs=crs)


def bands_to_polygons(hours: np.ndarray, limits: list[float], transform: Affine,
                      crs: CRS) -> gpd.GeoDataFrame:
    """Polygons of the bands [0, l1), [l1, l2), … , [ln, ∞) of ``hours`` (NaN is left out)."""
    edges = [0.0, *sorted(limits), np.inf]
    klass = np.full(hours.shape, -1, dtype=np.int16)
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        klass[(hours >= lo) & (hours < hi)] = i
    frame = class_polygons(klass, transform, crs, name="band")
    frame["min_h"] = [edges[b] for b in frame["band"]]
    frame["max_h"] = [edges[b + 1] if np.isfinite(edges[b + 1]) else np.nan for b in frame["band"]]
    return frame


def grid_window(geom, transform: Affine, shape: tuple[int, int]) -> tuple[tuple[slice, slice], Affine]:
    """The rows and columns of a grid that a geometry's bounding box covers (widened to whole cells,
    clipped to the grid; empty slices where it misses the grid), and that window's transform.

    Parameters
    ----------
    geom
        A geometry in the grid's CRS.
    transform
        The grid's north-up transform.
    shape
        (height, width) of the grid.

    Returns
    -------
    (rows, cols) slices, Affine
    """
    height, width = shape
    minx, miny, maxx, maxy = geom.bounds
    c0 = int(np.clip(np.floor((minx - transform.c) / transform.a), 0, width))
    c1 = int(np.clip(np.ceil((maxx - transform.c) / transform.a), 0, width))
    r0 = int(np.clip(np.floor((maxy - transform.f) / transform.e), 0, height))
    r1 = int(np.clip(np.ceil((miny - transform.f) / transform.e), 0, height))
    return (slice(r0, max(r1, r0)), slice(c0, max(c1, c0))), transform @ Affine.translation(c0, r0)


def zone_cells(polygons: gpd.GeoSeries, transform: Affine, shape: tuple[int, int]
               ) -> Iterator[tuple[tuple[slice, slice], np.ndarray]]:
    """For each polygon in turn, the window of the grid its box covers and the cells of the window whose
    centre lies in it: the same cells as burning it on the whole grid, at the cost of its box.

    Parameters
    ----------
    polygons
        Polygons in the grid's CRS.
    transform
        The grid's north-up transform (square cells).
    shape
        (height, width) of the grid.

    Returns
    -------
    iterator
        Per polygon, ((rows, cols) slices, boolean mask of the window); an empty window and mask where the
        polygon is missing, empty or off the grid.
    """
    for poly in polygons.values:
        if poly is None or poly.is_empty:
            yield (slice(0, 0), slice(0, 0)), np.zeros((0, 0), dtype=bool)
            continue
        window, window_transform = grid_window(poly, transform, shape)
        rows, cols = window
        size = (rows.stop - rows.start, cols.stop - cols.start)
        yield window, (burn([(poly, 1)], size, window_transform) > 0 if size[0] and size[1]
                       else np.zeros(size, dtype=bool))


def zone_masks(polygons: gpd.GeoSeries, transform: Affine, shape: tuple[int, int]
               ) -> list[tuple[tuple[slice, slice], np.ndarray] | None]:
    """:func:`zone_cells` of every polygon at once (None: empty, or off the grid), for :func:`means_in_zones`.

    Parameters
    ----------
    polygons
        Polygons in the grid's CRS.
    transform
        The grid's north-up transform (square cells).
    shape
        (height, width) of the grid.

    Returns
    -------
    list
        Per polygon, ((rows, cols) slices, boolean mask of the window) or None.
    """
    return [(window, inside) if inside.size else None for window, inside in zone_cells(polygons, transform, shape)]


def means_in_zones(values: np.ndarray, zones: list[tuple[tuple[slice, slice], np.ndarray] | None]) -> np.ndarray:
    """Mean of the finite cells of each zone: the masks are made once for rasters that share a grid
    (e.g. one per sensitivity variant).

    Parameters
    ----------
    values
        The raster (the grid of the masks).
    zones
        :func:`zone_masks` of the polygons.

    Returns
    -------
    ndarray (len(zones),)
        The means (NaN where a zone has no finite cell).
    """
    out = np.full(len(zones), np.nan)
    for i, zone in enumerate(zones):
        if zone is None:
            continue
        window, inside = zone
        cells = values[window][inside]
        cells = cells[np.isfinite(cells)]
        if cells.size:
            out[i] = float(cells.mean())
    return out


def zonal_means(values: np.ndarray, polygons: gpd.GeoSeries, transform: Affine) -> np.ndarray:
    """Mean of the finite cells whose centre lies in each polygon (NaN where none): area-weighted."""
    return means_in_zones(values, zone_masks(polygons, transform, values.shape))
