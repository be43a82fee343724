"""Stage 3c, link: the study grid's cells and the growth poles joined to the road network, once for the
accessibility and influence stages.

Reads the crossings stage's edges (``stages/crossings.gpkg``), the countries (``stages/ingest.gpkg``),
``layers/accessibility.yaml`` (grid, mode, access-point spacing, k), ``layers/network.yaml`` (off-network
speed) and the poles (``layers/poles.yaml``, GeoNames). Writes ``stages/linked.arrays``: numpy arrays one
after another in the ``.npy`` format (:mod:`numpy.lib.format`, no pickles), the first holding the names
of the others; uncompressed, about 0.4 GB on the data pack (zstd would make it 0.15 GB, but the minutes of
the legs barely compress and compressing took as long as writing the difference). It holds everything
about the links that does not depend on the border scenario:

  * the grid: ``grid_transform`` (the six GDAL coefficients), ``grid_shape`` (height, width), ``grid_crs``
    (WKT) of the equal-area grid;
  * the cells: ``cell_raster`` (the grid of 1-based country labels, 0 off land, in the narrowest integer
    type that holds them: the cells are its labelled cells in ``numpy.nonzero`` order, their rows, columns
    and labels read back from it, 9 MB instead of 91 MB of three columns), ``cell_point`` and
    ``cell_leg_min`` (k × N: the k nearest access points in the cell's own country and the off-network
    minutes to them), ``cell_pole`` (narrowed likewise) and ``cell_pole_min`` (the nearest pole in a straight
    line);
  * the access points every ``access_spacing_m`` along the road edges: ``point_xy`` (metres, grid CRS),
    ``point_edge`` (position among the road edges off the crossings, in the crossings stage's order),
    ``point_frac``;
  * the poles' links: ``link_pole``, ``link_point``, ``link_minutes``; the poles: ``poles_ea``,
    ``pole_label`` and their table (``pole_<column>``, lon/lat in ``pole_lon`` and ``pole_lat``: cities
    ``complete:`` adds that cannot join the network are left out, as a warning says);
  * ``n_nodes``, ``n_base_edges`` and ``off_kmh``, which the reader checks against the edges it reads.

Linking is the slow, scenario-independent part of both stages (the k nearest access points of 7.6 million
cells); done here it runs beside the border zones and regions, before either stage starts.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger("pipeline")

#: The columns of the poles' table kept in the file (besides lon/lat).
POLE_COLUMNS = ("pole_id", "name", "geonames_name", "country", "tier", "geonameid", "population", "listed")


def linked_arrays(p) -> dict[str, np.ndarray]:
    """The arrays of ``stages/linked.arrays`` for a prepared model.

    Parameters
    ----------
    p : accessibility.Prepared
        Inputs read, grid laid, cells and poles linked.

    Returns
    -------
    dict
        Name → array (see the module docstring).
    """
    lk, c, g = p.lk, p.lk.cells, p.grid
    arrays = {"grid_transform": np.array(g.transform.to_gdal(), dtype=np.float64),
              "grid_shape": np.array([g.height, g.width], dtype=np.int64),
              "grid_crs": np.array(g.crs.to_wkt()),
              "cell_raster": narrowest(c.raster), "cell_point": c.point,
              "cell_leg_min": c.leg_min, "cell_pole": narrowest(c.pole), "cell_pole_min": c.pole_min,
              "point_xy": lk.pts.xy, "point_edge": lk.pts.edge, "point_frac": lk.pts.frac,
              "link_pole": lk.links[0], "link_point": lk.links[1], "link_minutes": lk.links[2],
              "poles_ea": lk.poles_ea, "pole_label": lk.pole_label,
              "n_nodes": np.array(lk.n_nodes), "n_base_edges": np.array(len(lk.base)), "off_kmh": np.array(lk.off_kmh),
              "pole_lon": p.poles.geometry.x.to_numpy(), "pole_lat": p.poles.geometry.y.to_numpy()}
    for col in POLE_COLUMNS:
        values = p.poles[col].to_numpy()
        arrays[f"pole_{col}"] = values.astype(str) if values.dtype == object else values
    return arrays


def narrowest(values: np.ndarray) -> np.ndarray:
    """Integers in the narrowest signed type that holds them (int8, int16, int32 or int64): written smaller,
    read back into int32 (:func:`load_prepared`).

    Parameters
    ----------
    values
        An integer array.

    Returns
    -------
    ndarray
        The same values.
    """
    lo, hi = (int(values.min()), int(values.max())) if values.size else (0, 0)
    for dtype in (np.int8, np.int16, np.int32, np.int64):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return values.astype(dtype, copy=False)
    return values


def write_linked(path: Path, p) -> Path:
    """Write ``stages/linked.arrays`` atomically (with the stage's other outputs).

    Parameters
    ----------
    path
        The file.
    p : accessibility.Prepared
        The prepared model.

    Returns
    -------
    Path
        ``path``.
    """
    return write_arrays(path, linked_arrays(p))


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Named arrays one after another in the ``.npy`` format, the names first, written atomically.

    Parameters
    ----------
    path
        The file.
    arrays
        Name → array (no object arrays).

    Returns
    -------
    Path
        ``path``.
    """
    from numpy.lib.format import write_array

    from .io import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write_array(f, np.array(list(arrays)), allow_pickle=False)
        for a in arrays.values():
            write_array(f, np.asarray(a), allow_pickle=False)
    return Path(path)


def read_linked(path: Path) -> dict[str, np.ndarray]:
    """The arrays :func:`write_linked` wrote, by name.

    Parameters
    ----------
    path
        ``stages/linked.arrays``.

    Returns
    -------
    dict
        Name → array.
    """
    from numpy.lib.format import read_array

    with open(path, "rb") as f:
        names = read_array(f, allow_pickle=False)
        return {str(n): read_array(f, allow_pickle=False) for n in names}


def load_prepared(cfg, stages):
    """What :func:`accessibility.prepare` returns, its links read from ``stages/linked.arrays`` instead of made
    again.

    Parameters
    ----------
    cfg : Config
        The run's configuration (accessibility.yaml and network.yaml are read).
    stages : Paths
        Stage files: ``linked``, ``crossings`` (edges), ``ingest`` (countries).

    Returns
    -------
    accessibility.Prepared
        The same model as linking again; a clear error when the file is missing or was made for another grid,
        network or off-network speed (run the link stage again: ``make all`` does).
    """
    import geopandas as gpd
    import shapely
    from affine import Affine
    from pyproj import CRS

    from .accessibility import (AccessPoints, CellLinks, Grid, Linked, Prepared, base_edges, node_count, read_inputs,
                                road_edges)
    from .errors import DataMissingError

    path = Path(stages.linked)
    if not path.is_file():
        raise DataMissingError(f"{path} not found: run the link stage first (make all builds it)")
    acc, net, edges, countries, countries_ea, grid = read_inputs(cfg, stages)
    road = road_edges(edges, acc.mode)
    base = base_edges(road)
    a = read_linked(path)
    saved = Grid(Affine.from_gdal(*a["grid_transform"]), int(a["grid_shape"][1]), int(a["grid_shape"][0]),
                 CRS.from_wkt(str(a["grid_crs"])))
    n_nodes = node_count(road)
    same = ((saved.height, saved.width) == (grid.height, grid.width) and saved.transform.almost_equals(grid.transform)
            and saved.crs == grid.crs and int(a["n_nodes"]) == n_nodes and int(a["n_base_edges"]) == len(base)
            and float(a["off_kmh"]) == net.off_network_kmh and int(a["cell_point"].shape[0]) == acc.k_nearest)
    if not same:
        raise DataMissingError(f"{path} was made for another grid, network or off-network speed than this "
                               "configuration's: run the link stage again (make all does)")
    raster = a["cell_raster"].astype(np.int32)   # as accessibility.link_cells made it
    # its labelled cells in numpy.nonzero order (kernels.land_cells' order), with numpy: no compiled parallel
    # kernel (its threads) runs here, so a stage may fork a worker that shares what was read (influence)
    rows, cols = (i.astype(np.int32) for i in np.nonzero(raster))
    label = raster[rows, cols]
    if len(rows) != a["cell_point"].shape[1]:
        raise DataMissingError(f"{path} is damaged (its cells do not match its raster): run the link stage again "
                               "(make all does)")
    cells = CellLinks(rows, cols, label, a["cell_point"], a["cell_leg_min"], a["cell_pole"].astype(np.int32),
                      a["cell_pole_min"], raster)
    pts = AccessPoints(a["point_xy"], a["point_edge"], a["point_frac"])
    lk = Linked(road, base, n_nodes, pts, (a["link_pole"], a["link_point"], a["link_minutes"]), cells,
                a["poles_ea"], a["pole_label"], grid, net.off_network_kmh)
    poles = gpd.GeoDataFrame({col: a[f"pole_{col}"] for col in POLE_COLUMNS},
                             geometry=shapely.points(a["pole_lon"], a["pole_lat"]), crs="EPSG:4326")
    for col in ("name", "geonames_name", "country", "tier"):
        poles[col] = poles[col].astype(object)
    return Prepared(edges, countries, countries_ea, grid, poles, a["poles_ea"], lk)


def run(cfg, stages, out: Path) -> None:
    """Link the grid's cells and the poles to the road network and write ``stages/linked.arrays``.

    Parameters
    ----------
    cfg : Config
        The run's configuration.
    stages : Paths
        Stage files read (``crossings``, ``ingest``).
    out : Path
        ``linked.arrays`` (the stages' ``linked``: where the accessibility and influence stages read it).
    """
    from .accessibility import prepare

    p = prepare(cfg, stages)
    write_linked(out, p)
    log.info("wrote %s: %d cells, %d access points, %d poles", out, len(p.lk.cells.rows), len(p.lk.pts.xy),
             len(p.poles))
