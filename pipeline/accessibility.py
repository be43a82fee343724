"""Stage 3d, accessibility: travel time from every cell of a grid to the nearest growth pole.

Reads ``outputs/stages/crossings.gpkg`` (``edges`` with minutes per scenario), the poles
(``layers/poles.yaml``), countries (land mask) and ``layers/accessibility.yaml``.
Writes GeoTIFFs ``outputs/rasters/access_<scenario>.tif`` (hours to the nearest pole, float32) and
``outputs/rasters/barrier_<scenario>.tif`` (hours lost against the ``open`` scenario), all in the
equal-area CRS of ``layers/study.yaml``; ``outputs/stages/crossing_hours.tif`` (hours to the nearest road
border crossing, open scenario, for the population stage); and ``outputs/accessibility.gpkg`` with ``poles``,
``isochrones`` (bands of hours per scenario) and ``region_access`` / ``zone_access`` (area-weighted
mean hours per border region and belt, per scenario; area-weighted because the data pack has no
population grid).

Model. Travel = an off-network leg at ``off_network_kmh`` (straight line) to the nearest road,
then the road network (Natural Earth roads with ferries; border crossings delayed per scenario).
Roads are sampled every ``access_spacing_m``: a sample's time is the faster of the ways to it from
its edge's two ends. A pole joins the network through its ``k_nearest`` samples; a cell takes the
best of its ``k_nearest`` samples (time there + off-network leg) and of walking off-network straight
to a pole. Off-network legs stay inside the cell's own country: borders are crossed only at
crossings, by road.
Distances of the off-network legs are planar in the equal-area CRS (scale error of a few per cent
on legs of a few km). Unreachable land cells (a closed border) and water are nodata.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import CRS
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from .crossings import CROSSING_CLASS, scenario_edges
from .errors import DataError
from .kernels import best_of_k_at, best_of_k_on_grid, land_cells, min_of_k, nearest_k_labelled
from .network import graph_matrix
from .rasters import burn

log = logging.getLogger("pipeline")



@dataclass(frozen=True)
class Grid:
    transform: Affine
    width: int
    height: int
    crs: CRS

    @property
    def res(self) -> float:
        return self.transform.a

    def centres(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        t = self.transform  # north-up: x = c + a·col, y = f + e·row
        return np.column_stack([t.c + t.a * (cols + 0.5), t.f + t.e * (rows + 0.5)])

    def cell(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) of the cell under each point (may fall outside the grid)."""
        t = self.transform
        return (np.floor((xy[:, 1] - t.f) / t.e).astype(np.int64),
                np.floor((xy[:, 0] - t.c) / t.a).astype(np.int64))


def study_grid(countries_ea: gpd.GeoDataFrame, focus: str, buffer_km: float, res: float) -> Grid:
    """The grid of a study: the focus country's bounds widened by ``buffer_km``, in the countries' CRS."""
    focus_ea = countries_ea[countries_ea["country"] == focus]
    return make_grid(tuple(focus_ea.buffer(buffer_km * 1000).total_bounds), res, countries_ea.crs)


def grid_outline(grid: Grid) -> shapely.Geometry:
    """The grid's rectangle in lon/lat (its edges densified every 10 km, so that they bend as they should)."""
    x0, y0 = grid.transform.c, grid.transform.f
    x1, y1 = x0 + grid.width * grid.transform.a, y0 + grid.height * grid.transform.e
    box = shapely.segmentize(shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), 10_000.0)
    return gpd.GeoSeries([box], crs=grid.crs).to_crs("EPSG:4326").iloc[0]


def make_grid(bounds: tuple[float, float, float, float], res: float, crs: CRS) -> Grid:
    """A north-up grid of ``res`` metres covering ``bounds`` (snapped outwards to the resolution)."""
    minx, miny = np.floor(bounds[0] / res) * res, np.floor(bounds[1] / res) * res
    maxx, maxy = np.ceil(bounds[2] / res) * res, np.ceil(bounds[3] / res) * res
    return Grid(Affine(res, 0.0, minx, 0.0, -res, maxy), int(round((maxx - minx) / res)),
                int(round((maxy - miny) / res)), crs)


@dataclass
class AccessPoints:
    xy: np.ndarray       # (M, 2) metres, equal-area CRS
    edge: np.ndarray     # (M,) position in the edges table
    frac: np.ndarray     # (M,) fraction of the edge's length from u


def minutes_per_metre(kmh: float) -> float:
    """Minutes per metre at a speed in km/h (the off-network legs of cells and poles)."""
    return 1.0 / 1000.0 / kmh * 60.0


def access_points(edges_ea: gpd.GeoSeries, spacing: float) -> AccessPoints:
    """Points every ``spacing`` metres along each edge (ends included), with their fraction along it."""
    dense = shapely.segmentize(edges_ea.values, spacing)
    xy, idx = shapely.get_coordinates(dense, return_index=True)
    step = np.hypot(*np.diff(xy, axis=0).T)
    step = np.concatenate([[0.0], step])
    step[np.r_[True, idx[1:] != idx[:-1]]] = 0.0  # restart at each edge
    cum = pd.Series(step).groupby(idx).cumsum().to_numpy()
    total = np.bincount(idx, weights=step, minlength=len(dense))
    frac = np.divide(cum, total[idx], out=np.zeros_like(cum), where=total[idx] > 0)
    return AccessPoints(xy, idx, frac)


def label_points(xy: np.ndarray, areas: gpd.GeoSeries) -> np.ndarray:
    """Label (1-based position in ``areas``) of the polygon containing each point; 0 for none.

    Exact point-in-polygon with prepared geometries, tested only for points in each polygon's box."""
    out = np.zeros(len(xy), dtype=np.int32)
    x, y = xy[:, 0], xy[:, 1]
    for i, area in enumerate(areas.values):
        if area is None or area.is_empty:
            continue
        minx, miny, maxx, maxy = area.bounds
        cand = np.flatnonzero((x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy) & (out == 0))
        if cand.size:
            shapely.prepare(area)
            out[cand[shapely.contains_xy(area, x[cand], y[cand])]] = i + 1
    return out


def point_labels(pts: AccessPoints, areas: gpd.GeoSeries) -> np.ndarray:
    """Country label of each access point (exact point-in-polygon); an edge's end points take their
    neighbour's on the edge, since edges split at a border end exactly on it."""
    lab = label_points(pts.xy, areas)
    n = len(lab)
    start = np.r_[True, pts.edge[1:] != pts.edge[:-1]]
    end = np.r_[pts.edge[1:] != pts.edge[:-1], True]
    nxt = np.minimum(np.arange(n) + 1, n - 1)
    prv = np.maximum(np.arange(n) - 1, 0)
    out = lab.copy()
    out[start & ~end] = lab[nxt[start & ~end]]
    out[end & ~start] = lab[prv[end & ~start]]
    return out


def pole_links(poles_xy: np.ndarray, pole_label: np.ndarray, pts: AccessPoints,
               pts_label: np.ndarray, k: int, off_kmh: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each pole, its ``k`` nearest access points in its own country and the minutes to them."""
    pole, point, minutes = [], [], []
    for lab in np.unique(pole_label):
        mine = np.flatnonzero(pts_label == lab)
        if lab == 0 or mine.size == 0:
            continue
        which = np.flatnonzero(pole_label == lab)
        kk = min(k, mine.size)
        d, j = cKDTree(pts.xy[mine]).query(poles_xy[which], k=kk)
        d, j = d.reshape(len(which), kk), j.reshape(len(which), kk)
        pole.append(np.repeat(which, kk))
        point.append(mine[j.ravel()])
        minutes.append(d.ravel() / 1000.0 / off_kmh * 60.0)
    if not pole:  # no pole can reach the network (see unlinked_poles)
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(pole), np.concatenate(point), np.concatenate(minutes)


def unlinked_poles(lk: Linked) -> np.ndarray:
    """Positions of the poles joined to no access point of the network: on no country's land, or in a
    country the network does not enter. Such a pole has no path to any other country or region."""
    return np.setdiff1d(np.arange(len(lk.poles_ea)), lk.links[0])


def unreachable_areas(hours: np.ndarray, areas: gpd.GeoSeries, grid: Grid) -> np.ndarray:
    """For each polygon (in the grid's CRS), True when it covers cells and none has a finite time:
    no path from any pole reaches it. Polygons smaller than a cell cover none and are not flagged."""
    labels = burn(((g, i + 1) for i, g in enumerate(areas.values) if g is not None),
                 fill=0, dtype="int32", out_shape=(grid.height, grid.width),
                 transform=grid.transform)
    n = len(areas) + 1
    covered = np.bincount(labels.ravel(), minlength=n)[1:]
    reached = np.bincount(labels[np.isfinite(hours)], minlength=n)[1:]
    return (covered > 0) & (reached == 0)


def node_times(graph_edges: pd.DataFrame, link_edges: pd.DataFrame, n_nodes: int,
               pts: AccessPoints, links: tuple[np.ndarray, ...], n_poles: int, graph: csr_matrix | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Minutes from the nearest pole to every node, and which pole (−1 where unreachable).

    ``graph_edges`` is the scenario's network; ``link_edges`` the edges the access points lie on.
    Each pole is a virtual node joined to both ends of its access points' edges (off-network minutes
    plus the minutes along the edge; the cheapest of parallel links); one multi-source Dijkstra.
    ``graph``, if given, is ``network.graph_matrix(graph_edges, n_nodes + n_poles)`` made once for several
    calls (one per pole: :func:`pole_point_minutes`)."""
    pole, j, access_min = links
    e = pts.edge[j]
    w = link_edges["minutes"].to_numpy()[e]
    f = pts.frac[j]
    ends = np.concatenate([link_edges["u"].to_numpy()[e], link_edges["v"].to_numpy()[e]])
    cost = np.maximum(np.concatenate([access_min + f * w, access_min + (1 - f) * w]), 1e-9)
    src = n_nodes + np.concatenate([pole, pole])
    size = n_nodes + n_poles
    frame = pd.DataFrame({"a": src, "b": ends, "w": cost}).groupby(["a", "b"])["w"].min().reset_index()
    a, b, w = frame["a"].to_numpy(), frame["b"].to_numpy(), frame["w"].to_numpy()
    virtual = coo_matrix((np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))),
                         shape=(size, size)).tocsr()
    graph = ((graph_matrix(graph_edges, size) if graph is None else graph) + virtual).tocsr()
    dist, _, source = dijkstra(graph, directed=False, indices=np.arange(n_nodes, size),
                               min_only=True, return_predecessors=True)
    return dist[:n_nodes], np.where(source[:n_nodes] >= 0, source[:n_nodes] - n_nodes, -1)


def point_times(edges: pd.DataFrame, pts: AccessPoints, t_node: np.ndarray, pole_node: np.ndarray,
                links: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Minutes from the nearest pole to each access point, and that pole.

    A point is reached through either end of its edge or, on a pole's own edge, straight along the
    edge from where the pole joins it."""
    w_all = edges["minutes"].to_numpy()
    u = edges["u"].to_numpy()[pts.edge]
    v = edges["v"].to_numpy()[pts.edge]
    w = w_all[pts.edge]
    via_u = t_node[u] + pts.frac * w
    via_v = t_node[v] + (1 - pts.frac) * w
    best_u = via_u <= via_v
    t = np.where(best_u, via_u, via_v)
    who = np.where(best_u, pole_node[u], pole_node[v])
    first = np.searchsorted(pts.edge, np.arange(len(edges)), side="left")
    last = np.searchsorted(pts.edge, np.arange(len(edges)), side="right")
    for pole, j, access_min in zip(*links):
        e = pts.edge[j]
        span = slice(first[e], last[e])
        along = access_min + np.abs(pts.frac[span] - pts.frac[j]) * w_all[e]
        better = along < t[span]
        t[span] = np.where(better, along, t[span])
        who[span] = np.where(better, pole, who[span])
    return t, who


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


@dataclass
class CellLinks:
    """The k nearest access points of every land cell and its nearest pole, both within the cell's own
    country (off-network travel never crosses a border); scenario-independent."""
    rows: np.ndarray
    cols: np.ndarray
    label: np.ndarray     # (N,) country label of the cell
    point: np.ndarray     # (k, N) access point index (−1: none); rows contiguous for fast reductions
    leg_min: np.ndarray   # (k, N) off-network minutes to it (inf: none)
    pole: np.ndarray      # (N,) nearest pole in a straight line (−1: none)
    pole_min: np.ndarray  # (N,) off-network minutes to it (inf: none)
    raster: np.ndarray    # (height, width) the country labels the cells come from (0: not land)


def link_cells(grid: Grid, labels: np.ndarray, pts: AccessPoints, pts_label: np.ndarray,
               poles_xy: np.ndarray, pole_label: np.ndarray, k: int, off_kmh: float) -> CellLinks:
    """The ``k`` nearest access points of every land cell and its nearest pole, both in the cell's own
    country (exact Euclidean distances in the grid's CRS, as minutes at ``off_kmh``).

    Parameters
    ----------
    grid
        The study grid.
    labels
        (height, width) country label of each cell (0: not land).
    pts, pts_label
        The access points and their country labels.
    poles_xy, pole_label
        (P, 2) pole coordinates in the grid's CRS and their country labels.
    k
        Access points per cell.
    off_kmh
        Off-network speed (km/h).

    Returns
    -------
    CellLinks
    """
    labels = np.ascontiguousarray(labels, dtype=np.int32)
    rows, cols, cell_label = land_cells(labels)
    n = len(rows)
    point = np.full((k, n), -1, dtype=np.int32)
    leg = np.full((k, n), np.inf, dtype=np.float32)
    per_min = minutes_per_metre(off_kmh)
    nearest_k_labelled(labels, grid.transform, pts.xy, pts_label, k, point, leg, scale=per_min)
    pole, pole_min = nearest_poles(labels, grid, poles_xy, pole_label, np.arange(len(poles_xy)), per_min)
    return CellLinks(rows, cols, cell_label, point, leg, pole, pole_min, labels)


def nearest_poles(labels: np.ndarray, grid: Grid, poles_xy: np.ndarray, pole_label: np.ndarray,
                  poles: np.ndarray, per_min: float) -> tuple[np.ndarray, np.ndarray]:
    """Each land cell's nearest pole among ``poles`` in its own country, and the off-network minutes to it.

    Parameters
    ----------
    labels
        (height, width) country label of each cell (0: not land); the cells are its labelled cells in
        ``numpy.nonzero`` order.
    grid
        The study grid.
    poles_xy, pole_label
        (P, 2) coordinates of every pole (grid CRS) and their country labels.
    poles
        Positions of the poles to consider.
    per_min
        Off-network minutes per metre.

    Returns
    -------
    pole : ndarray (N,) int32
        Pole position (−1: no pole in the cell's country).
    pole_min : ndarray (N,) float32
        Minutes (inf: none).
    """
    poles = np.sort(np.asarray(poles, dtype=np.int64))
    n = int(np.count_nonzero(labels))
    pole = np.full((1, n), -1, dtype=np.int32)
    pole_min = np.full((1, n), np.inf, dtype=np.float32)
    nearest_k_labelled(labels, grid.transform, poles_xy[poles], pole_label[poles], 1, pole, pole_min, ids=poles,
                       scale=per_min)
    return pole[0], pole_min[0]


def cell_hours(grid: Grid, links: CellLinks, t_point: np.ndarray, pole_point: np.ndarray,
               at: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hours to the nearest pole per cell and that pole, for one scenario or several in one pass.

    Parameters
    ----------
    grid
        The study grid.
    links
        The cells' candidate access points and nearest poles.
    t_point, pole_point
        (M,) minutes from the nearest pole to each access point and that pole; or (S, M), one row per
        scenario.
    at
        Positions of the cells to compute among ``links``' (ascending); None: every cell.

    Returns
    -------
    hours : ndarray (float32)
        (height, width), or (S, height, width) for (S, M) inputs: hours; NaN off land, where no pole is
        reachable and at cells not computed.
    pole : ndarray (int16)
        The same shape: the fastest pole's id (−1: none).
    """
    t = np.asarray(t_point, dtype=np.float64)
    one = t.ndim == 1
    t, who = np.atleast_2d(t), np.atleast_2d(np.asarray(pole_point, dtype=np.int32))
    hours = np.full((len(t), grid.height, grid.width), np.nan, dtype=np.float32)
    pole = np.full((len(t), grid.height, grid.width), -1, dtype=np.int16)
    args = (t, who, links.point, links.leg_min, links.pole, links.pole_min, links.rows, links.cols, hours, pole)
    if at is None:
        best_of_k_on_grid(*args)
    else:
        best_of_k_at(np.asarray(at, dtype=np.int64), *args)
    return (hours[0], pole[0]) if one else (hours, pole)


def travel_hours(edges: gpd.GeoDataFrame, poles_ea: np.ndarray, grid: Grid, areas: gpd.GeoSeries, *,
                 mode: str, scenarios: tuple[str, ...], off_kmh: float, spacing: float, k: int,
                 ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Hours to the nearest pole and that pole, per scenario (see the module docstring).

    ``edges`` are the crossings stage's edges (lon/lat); ``poles_ea`` pole coordinates and ``areas``
    the countries' land, both in the grid's CRS. Cells whose centre is on no country's land are not
    computed; off-network legs stay within one country."""
    lk = link(edges, poles_ea, grid, areas, mode=mode, off_kmh=off_kmh, spacing=spacing, k=k)
    return hours_per_scenario(lk, scenarios)


def hours_per_scenario(lk: Linked, scenarios: tuple[str, ...], at: np.ndarray | None = None
                       ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Hours to the nearest pole and that pole per scenario, from prepared links: one Dijkstra per scenario,
    then one pass over the cells for every scenario.

    Parameters
    ----------
    lk
        The linked model.
    scenarios
        Border scenarios (``open``, ``current``, ``closed``).
    at
        Positions of the cells to compute among ``lk.cells``' (ascending); None: every cell.

    Returns
    -------
    dict
        Scenario → (hours grid, float32, NaN off land, unreachable or not computed; fastest pole grid, int16,
        −1 none): views of one (S, height, width) array each.
    """
    n_land = len(lk.cells.rows) if at is None else len(at)
    t = np.empty((len(scenarios), len(lk.pts.xy)))
    who = np.empty((len(scenarios), len(lk.pts.xy)), dtype=np.int32)   # pole ids: int16 (poles.MAX_POLES)
    for s, scenario in enumerate(scenarios):   # each scenario's tables into the stacks, nothing else kept
        t_node, pole_node = node_times(scenario_edges(lk.road, scenario), lk.base, lk.n_nodes, lk.pts,
                                       lk.links, len(lk.poles_ea))
        t[s], who[s] = point_times(lk.base, lk.pts, t_node, pole_node, lk.links)
    t_node = pole_node = None
    hours, which = cell_hours(lk.grid, lk.cells, t, who, at)
    t = who = None
    out = {}
    for s, scenario in enumerate(scenarios):
        h = hours[s]
        out[scenario] = h, which[s]
        reached = int(np.count_nonzero(np.isfinite(h)))
        # some cells only (the sensitivity variants: many passes): at debug level
        log.log(logging.INFO if at is None else logging.DEBUG, "  %s: %d %scells reached, %d unreachable",
                scenario, reached, "land " if at is None else "computed land ", n_land - reached)
        if log.isEnabledFor(logging.DEBUG) and reached:   # a sort of every cell: 0.1-0.5 s
            median, p90 = np.percentile(h[np.isfinite(h)], [50, 90])
            log.debug("  %s: median %.1f h, 90th percentile %.1f h", scenario, median, p90)
    return out


def hours_to_nodes(lk: "Linked", sources: np.ndarray, scenario: str = "open") -> np.ndarray:
    """Hours from every linked cell to the nearest of some graph nodes (e.g. the ends of the border
    crossings), through the same off-network legs and access points as the poles' travel times.

    Parameters
    ----------
    lk
        The linked model (its poles are ignored).
    sources
        Node ids of the road graph.
    scenario
        Border scenario of the edge times.

    Returns
    -------
    ndarray (grid shape, float32)
        Hours; NaN off land and where no source is reachable.
    """
    graph = graph_matrix(scenario_edges(lk.road, scenario), lk.n_nodes)
    t_node = dijkstra(graph, directed=False, indices=np.unique(sources), min_only=True)
    none = (np.empty(0, dtype=np.int64),) * 2 + (np.empty(0),)
    t_pt, who = point_times(lk.base, lk.pts, t_node, np.zeros(lk.n_nodes, dtype=np.int64), none)
    c = lk.cells
    no_direct = CellLinks(c.rows, c.cols, c.label, c.point, c.leg_min, np.full(len(c.rows), -1, dtype=np.int32),
                          np.full(len(c.rows), np.inf, dtype=np.float32), c.raster)
    return cell_hours(lk.grid, no_direct, t_pt, who)[0]


@dataclass
class Linked:
    """Everything scenario-independent: the road graph, access points, and the links of poles and cells."""
    road: gpd.GeoDataFrame
    base: gpd.GeoDataFrame
    n_nodes: int
    pts: AccessPoints
    links: tuple[np.ndarray, ...]
    cells: CellLinks
    poles_ea: np.ndarray
    pole_label: np.ndarray
    grid: Grid
    off_kmh: float

    def for_poles(self, poles: np.ndarray) -> Linked:
        """The same links restricted to some poles (global pole ids are kept); itself for every pole (the cells'
        nearest poles are already those)."""
        poles = np.asarray(poles)
        if np.array_equal(np.unique(poles), np.arange(len(self.poles_ea))):
            return self
        keep = np.isin(self.links[0], poles)
        cells = self.cells
        pole, pole_min = nearest_poles(cells.raster, self.grid, self.poles_ea, self.pole_label, poles,
                                       minutes_per_metre(self.off_kmh))
        sub = CellLinks(cells.rows, cells.cols, cells.label, cells.point, cells.leg_min, pole, pole_min, cells.raster)
        return Linked(self.road, self.base, self.n_nodes, self.pts,
                      tuple(a[keep] for a in self.links), sub, self.poles_ea, self.pole_label,
                      self.grid, self.off_kmh)

    def without_poles(self, drop: np.ndarray) -> Linked:
        """The same links without some poles, the others renumbered 0, 1, … in their order (the cells'
        links to the network are kept: they do not depend on the poles)."""
        keep = np.setdiff1d(np.arange(len(self.poles_ea)), drop)
        new_id = np.full(len(self.poles_ea), -1, dtype=np.int64)
        new_id[keep] = np.arange(len(keep))
        sub = self.for_poles(keep)
        c = sub.cells
        cells = CellLinks(c.rows, c.cols, c.label, c.point, c.leg_min,
                          np.where(c.pole >= 0, new_id[np.maximum(c.pole, 0)], -1).astype(np.int32), c.pole_min,
                          c.raster)
        links = (new_id[sub.links[0]],) + tuple(sub.links[1:])
        return Linked(self.road, self.base, self.n_nodes, self.pts, links, cells, self.poles_ea[keep],
                      self.pole_label[keep], self.grid, self.off_kmh)


def road_edges(edges: gpd.GeoDataFrame, mode: str) -> gpd.GeoDataFrame:
    """The edges of one mode (crossings included), renumbered 0, 1, …; a clear error when there are none."""
    road = edges[edges["mode"] == mode].reset_index(drop=True)
    if road.empty:
        raise DataError(f"the network has no '{mode}' edges (layers/network.yaml modes, "
                        "layers/accessibility.yaml mode)")
    return road


def node_count(road: gpd.GeoDataFrame) -> int:
    """Nodes of a mode's graph: one more than its largest node id."""
    return int(max(road["u"].max(), road["v"].max())) + 1


def base_edges(road: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The edges off the border crossings, renumbered, with ``minutes``: the same in every scenario."""
    base = road[road["class"] != CROSSING_CLASS].reset_index(drop=True)
    return base.assign(minutes=base["min_open"])


def link(edges: gpd.GeoDataFrame, poles_ea: np.ndarray, grid: Grid, areas: gpd.GeoSeries, *,
         mode: str, off_kmh: float, spacing: float, k: int) -> Linked:
    """Prepare the scenario-independent part of :func:`travel_hours` (see there)."""
    labels = burn(((g, i + 1) for i, g in enumerate(areas.values)), fill=0,
                 dtype="int32", out_shape=(grid.height, grid.width),
                 transform=grid.transform)
    road = road_edges(edges, mode)
    n_nodes = node_count(road)
    base = base_edges(road)
    pts = access_points(base.geometry.to_crs(grid.crs), spacing)
    pts_label, pole_label = point_labels(pts, areas), label_points(poles_ea, areas)
    links = pole_links(poles_ea, pole_label, pts, pts_label, k, off_kmh)
    cells = link_cells(grid, labels, pts, pts_label, poles_ea, pole_label, k, off_kmh)
    log.info("accessibility: %d × %d cells of %g m (%d on land), %d access points on %d edges",
             grid.width, grid.height, grid.res, len(cells.rows), len(pts.xy), len(base))
    return Linked(road, base, n_nodes, pts, links, cells, poles_ea, pole_label, grid, off_kmh)


def pole_point_minutes(lk: Linked, graph_edges: pd.DataFrame, pole: int, graph: csr_matrix | None = None
                       ) -> np.ndarray:
    """Minutes from one pole to every access point over a scenario's network: one Dijkstra from the
    pole's own links.

    Parameters
    ----------
    lk
        The linked model.
    graph_edges
        The scenario's network (``crossings.scenario_edges``).
    pole
        The pole's position in ``lk.poles_ea``.
    graph
        ``network.graph_matrix(graph_edges, lk.n_nodes + 1)``, made once for the poles of a loop (a tenth of
        a Dijkstra's time each on the data pack); None: made here.

    Returns
    -------
    ndarray (M,) float64
        Minutes to each access point (inf where unreachable).
    """
    mine = lk.links[0] == pole
    one = (np.zeros(int(mine.sum()), dtype=np.int64), lk.links[1][mine], lk.links[2][mine])
    t_node, pole_node = node_times(graph_edges, lk.base, lk.n_nodes, lk.pts, one, 1, graph)
    return np.asarray(point_times(lk.base, lk.pts, t_node, pole_node, one)[0], dtype=np.float64)


def minutes_to_each_pole(lk: Linked, scenario: str, off_kmh: float,
                         poles: np.ndarray | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """For each pole (all, or those listed), the minutes from every linked cell to it (inf where
    unreachable), as (pole, array aligned with ``lk.cells``). One Dijkstra per pole."""
    graph_edges = scenario_edges(lk.road, scenario)
    graph = graph_matrix(graph_edges, lk.n_nodes + 1)   # once for every pole
    pole_ids = np.arange(len(lk.poles_ea)) if poles is None else np.asarray(poles)
    per_min = minutes_per_metre(off_kmh)
    t, cells = lk.grid.transform, lk.cells
    for p in pole_ids:
        # through an access point, or straight to the pole within its country
        minutes = min_of_k(pole_point_minutes(lk, graph_edges, p, graph), cells.point, cells.leg_min, cells.label,
                           cells.rows, cells.cols, t.c, t.a, t.f, t.e, int(lk.pole_label[p]),
                           float(lk.poles_ea[p, 0]), float(lk.poles_ea[p, 1]), per_min)
        yield int(p), minutes


def friction_surface(edges: gpd.GeoDataFrame, grid: Grid, areas: gpd.GeoSeries, *, mode: str,
                     off_kmh: float) -> np.ndarray:
    """Minutes to cross one cell (edge to edge, orthogonally): the fastest road through the cell
    (rasterised with all touched cells), else the off-network speed; NaN on water and off the land.

    This is the input of cost-distance tools (GRASS r.cost, scikit-image MCP_Geometric); the
    pipeline itself routes on the network and uses it only for comparison (``make bench``)."""
    land = burn(((g, 1) for g in areas.values), fill=0, dtype="uint8",
               out_shape=(grid.height, grid.width), transform=grid.transform) > 0
    road = edges[(edges["mode"] == mode) & (edges["class"] != CROSSING_CLASS)]
    road = road.sort_values("speed_kmh")  # later (faster) roads overwrite slower ones
    kmh = burn(zip(road.geometry.to_crs(grid.crs).values, road["speed_kmh"]),
              out_shape=(grid.height, grid.width), transform=grid.transform,
              fill=0.0, dtype="float32", all_touched=True)
    kmh = np.where(kmh > 0, np.maximum(kmh, off_kmh), off_kmh)
    minutes = grid.res / 1000.0 / kmh * 60.0
    return np.where(land, minutes, np.nan).astype(np.float64)


# --- stage I/O ------------------------------------------------------------------------------------

DESCRIPTIONS = {
    "poles": "Growth poles (layers/poles.yaml) with GeoNames coordinates and population (CC BY 4.0).",
    "isochrones": "Bands of travel time (hours, min_h ≤ t < max_h) to the nearest growth pole, per scenario.",
    "zone_access": "Area-weighted mean hours to the nearest pole per belt and scenario; barrier_h = "
                   "scenario − open.",
    "region_access": "Area-weighted mean hours to the nearest pole per border region and scenario; "
                     "barrier_h = scenario − open.",
}


@dataclass
class Prepared:
    """What the accessibility and influence stages share: inputs read, grid laid, cells linked."""

    edges: gpd.GeoDataFrame  # the crossings stage's edges (lon/lat)
    countries: gpd.GeoDataFrame  # lon/lat
    countries_ea: gpd.GeoDataFrame  # in the equal-area CRS
    grid: Grid
    poles: gpd.GeoDataFrame
    poles_ea: np.ndarray
    lk: Linked


def unlinked_pole_error(lk: Linked, poles: gpd.GeoDataFrame, countries: gpd.GeoDataFrame,
                        poles_file: str, network_file: str) -> DataError | None:
    """The error to raise when some pole cannot join the network (None when every pole can).

    Parameters
    ----------
    lk
        The linked model.
    poles, countries
        The poles and the countries whose 1-based order gives ``lk.pole_label``.
    poles_file, network_file
        Names for the message.

    Returns
    -------
    DataError or None
    """
    bad = unlinked_poles(lk)
    if not bad.size:
        return None
    names = countries["name"].tolist()
    why = [f"{poles['name'].iloc[i]} ({poles.geometry.iloc[i].x:.2f}, {poles.geometry.iloc[i].y:.2f}) "
           + (f"is in {names[lk.pole_label[i] - 1]}, which the network does not enter"
              if lk.pole_label[i] else "is on no country's land") for i in bad]
    return DataError(f"{network_file}: no path from {len(bad)} pole(s) of {poles_file} to the network: "
                     f"{'; '.join(why)}. Remove or move the pole, or extend the network "
                     "(layers/network.yaml).")


def unreached_region_error(hours: np.ndarray, regions: gpd.GeoDataFrame, grid: Grid, focus: str,
                           scenario: str, network_file: str) -> DataError | None:
    """The error to raise when a region of the focus country has no path from any pole.

    Parameters
    ----------
    hours
        Hours to the nearest pole (the grid), in ``scenario``.
    regions
        Regions (``country``, ``name_en``, ``iso_3166_2``), any CRS.
    grid
        The study grid.
    focus
        The focus country: only its regions must be reached.
    scenario, network_file
        Named in the message.

    Returns
    -------
    DataError or None
    """
    mine = regions[regions["country"] == focus]
    bad = unreachable_areas(hours, mine.geometry.to_crs(grid.crs), grid)
    if not bad.any():
        return None
    names = [f"{n} ({c})" for n, c in zip(mine["name_en"][bad], mine["iso_3166_2"][bad])]
    return DataError(f"{network_file}: no path from any pole to {int(bad.sum())} region(s) of {focus} in "
                     f"scenario {scenario}: {', '.join(names)}. The network does not reach them and no pole "
                     "is inside them: extend the network (layers/network.yaml) or add a pole (layers/poles.yaml).")


def read_inputs(cfg, stages) -> tuple:
    """What linking reads, for :func:`prepare` and for the link stage's reader: the configuration and the
    study grid laid over the countries.

    Parameters
    ----------
    cfg : Config
        The run's configuration (accessibility.yaml and network.yaml are read).
    stages : Paths
        Where the stage files are (``crossings``, ``ingest``).

    Returns
    -------
    tuple
        accessibility and network configuration, the crossings stage's edges (lon/lat), the countries (lon/lat
        and in the equal-area CRS), the :class:`Grid`.
    """
    from .config import load_accessibility, load_network
    from .io import read_layer

    acc, net = load_accessibility(cfg.layers_dir), load_network(cfg.layers_dir, cfg.sources)
    edges = read_layer(stages.crossings, "edges")
    countries = read_layer(stages.ingest, "countries")
    countries_ea = countries.to_crs(cfg.equal_area_crs)
    grid = study_grid(countries_ea, cfg.focus_country, acc.extent_buffer_km, acc.resolution_m)
    return acc, net, edges, countries, countries_ea, grid


def prepare(cfg, stages) -> Prepared:
    """Read the network, countries and poles, lay the study grid and link poles and cells.

    Parameters
    ----------
    cfg : Config
        The run's configuration (accessibility.yaml, network.yaml and poles.yaml are read).
    stages : Paths
        Where the stage files are (``crossings``, ``ingest``).

    Returns
    -------
    Prepared
        Raises a clear error when a pole cannot join the network.
    """
    from .poles import load_poles

    acc, net, edges, countries, countries_ea, grid = read_inputs(cfg, stages)
    poles = load_poles(cfg.layers_dir, cfg.bbox, window=grid_outline(grid),
                       home=countries.set_index("country").geometry[cfg.focus_country])

    def linked(poles: gpd.GeoDataFrame) -> tuple[np.ndarray, Linked]:
        xy = np.array([(p.x, p.y) for p in poles.to_crs(grid.crs).geometry])
        return xy, link(edges, xy, grid, countries_ea.geometry, mode=acc.mode, off_kmh=net.off_network_kmh,
                        spacing=acc.access_spacing_m, k=acc.k_nearest)

    poles_ea, lk = linked(poles)
    added = unlinked_poles(lk)
    added = added[~poles["listed"].to_numpy()[added]]
    if added.size:   # a city added by `complete:` that cannot join the network is left out, not an error
        log.warning("poles: %d added city(ies) cannot join the network and are left out: %s", added.size,
                    ", ".join(poles["name"].iloc[added]))
        poles = poles.drop(index=poles.index[added]).reset_index(drop=True).assign(
            pole_id=lambda d: np.arange(len(d)))
        poles_ea, lk = np.delete(poles_ea, added, axis=0), lk.without_poles(added)
    err = unlinked_pole_error(lk, poles, countries_ea, str(cfg.layers_dir / "poles.yaml"), str(stages.crossings))
    if err is not None:
        raise err
    return Prepared(edges, countries, countries_ea, grid, poles, poles_ea, lk)


def scenario_summaries(result: dict[str, tuple[np.ndarray, np.ndarray]], zones_ea: gpd.GeoSeries,
                       regions_ea: gpd.GeoSeries, transform: Affine) -> tuple[dict, dict]:
    """Area-weighted mean hours per belt and per region, per scenario, and the barrier (scenario − open).

    Parameters
    ----------
    result
        Scenario → (hours raster, fastest pole raster), as :func:`hours_per_scenario` returns.
    zones_ea, regions_ea
        Belts and regions in the grid's CRS.
    transform
        The grid's affine transform.

    Returns
    -------
    (dict, dict)
        Column name → values for the belts and for the regions: ``mean_h_<s>``, ``barrier_h_<s>``.
    """
    from .rasters import means_in_zones, zone_masks

    zone_stats, region_stats = {}, {}
    shape = next(iter(result.values()))[0].shape
    zone_cells, region_cells = zone_masks(zones_ea, transform, shape), zone_masks(regions_ea, transform, shape)
    for scenario, (hours, _) in result.items():   # the masks made once for every scenario
        zone_stats[f"mean_h_{scenario}"] = means_in_zones(hours, zone_cells)
        region_stats[f"mean_h_{scenario}"] = means_in_zones(hours, region_cells)
        if scenario != "open":
            for stats in (zone_stats, region_stats):
                stats[f"barrier_h_{scenario}"] = stats[f"mean_h_{scenario}"] - stats["mean_h_open"]
    return zone_stats, region_stats


def run(cfg, stages, out, rasters) -> None:
    """Hours to the nearest pole per cell and scenario (GeoTIFF), isochrones, means per belt and region.

    Parameters
    ----------
    cfg : Config
        The run's configuration.
    stages : Paths
        Stage files read: ``linked`` (the link stage's cells and poles), ``crossings``, ``ingest``, ``zones``,
        ``border_regions``; written:
        ``crossing_hours.tif`` (float32 hours from each cell to the nearest end of a road border crossing,
        open scenario, NaN unreachable; for the population stage).
    out : Path
        ``accessibility.gpkg``: ``poles``, ``isochrones``, ``zone_access``, ``region_access``.
    rasters : Path
        Folder of ``access_<scenario>.tif`` and ``barrier_<scenario>.tif``.
    """
    from .config import load_accessibility, load_network
    from .geodesy import area_km2
    from .io import read_layer
    from .outputs import write_stage
    from .rasters import bands_to_polygons, write_geotiff, write_stage_raster

    from .link import load_prepared

    acc, net = load_accessibility(cfg.layers_dir), load_network(cfg.layers_dir, cfg.sources)
    p = load_prepared(cfg, stages)   # linked by the link stage
    grid = p.grid
    result = hours_per_scenario(p.lk, tuple(acc.scenarios))
    # For the population stage (people near the crossings), from the links made here: it does not link again.
    road = p.lk.road
    ends = road.loc[road["class"] == CROSSING_CLASS, ["u", "v"]].to_numpy().ravel()
    write_stage_raster(stages.crossing_hours, [hours_to_nodes(p.lk, ends) if len(ends) else
                                               np.full((grid.height, grid.width), np.nan, dtype=np.float32)],
                       grid.transform, grid.crs, {"units": "hours", "scenario": "open", "description":
                                                  "hours to the nearest end of a road border crossing"})
    first = "open" if "open" in result else next(iter(result))
    err = unreached_region_error(result[first][0], read_layer(stages.ingest, "regions"), grid,
                                 cfg.focus_country, first, str(stages.crossings))
    if err is not None:
        raise err
    common = {"units": "hours", "poles": "layers/poles.yaml (GeoNames)", "mode": acc.mode,
              "off_network_kmh": f"{net.off_network_kmh:g}", "config_sha256": cfg.digest()}
    rasters.mkdir(parents=True, exist_ok=True)
    open_h = result["open"][0]
    zones = read_layer(stages.zones, "zones")
    regions = read_layer(stages.border_regions, "border_regions")
    zone_stats, region_stats = scenario_summaries(result, zones.geometry.to_crs(grid.crs),
                                                  regions.geometry.to_crs(grid.crs), grid.transform)
    iso = []
    for scenario, (hours, _) in result.items():
        write_geotiff(rasters / f"access_{scenario}.tif", hours, grid.transform, grid.crs,
                      {**common, "scenario": scenario,
                       "description": f"hours to the nearest growth pole, scenario {scenario}"})
        if scenario != "open":
            write_geotiff(rasters / f"barrier_{scenario}.tif", hours - open_h, grid.transform, grid.crs,
                          {**common, "scenario": scenario,
                           "description": f"barrier effect: hours lost in scenario {scenario} against open"})
        bands = bands_to_polygons(hours, list(acc.isochrones_h), grid.transform, grid.crs)
        iso.append(bands.assign(scenario=scenario).to_crs(cfg.output_crs))
    isochrones = gpd.GeoDataFrame(pd.concat(iso, ignore_index=True), geometry="geometry", crs=cfg.output_crs)
    isochrones["area_km2"] = area_km2(isochrones.geometry.values, cfg.ellipsoid)
    isochrones = isochrones[["scenario", "band", "min_h", "max_h", "area_km2", "geometry"]]
    zone_access = zones[["zone_id", "segment_id", "side", "country", "distance_km", "geometry"]] \
        .assign(**zone_stats)
    region_access = regions[["vintage", "segment_id", "side", "country", "region_id", "iso_3166_2",
                             "name_en", "geometry"]].assign(**region_stats)
    write_stage(cfg, out, {"poles": p.poles, "isochrones": isochrones, "zone_access": zone_access,
                           "region_access": region_access}, DESCRIPTIONS)
