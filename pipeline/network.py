"""Stage 3a, network: a travel-time graph from line layers (roads with ferries, railways).

Reads the line sources named in ``layers/network.yaml``: Natural Earth roads and railroads from the
data directory by default, or for a mode with ``osm_pbf`` an OpenStreetMap extract (streamed with
pyosmium; ways split at junctions, OSM topology kept, speeds from ``maxspeed`` where posted, else by
``highway`` class). Travel times
are symmetric: one-way restrictions are not modelled.
Writes ``outputs/stages/network.gpkg`` with layers
  * ``edges`` (EPSG:4326, LineString): ``edge_id``, ``u``, ``v`` (node ids), ``mode`` ('road' | 'rail'),
    ``class`` (the source class, e.g. 'Major Highway', 'Ferry Route'), ``speed_kmh``, ``length_km``
    (geodesic), ``minutes`` (length / speed);
  * ``nodes`` (EPSG:4326, Point): ``node_id``, ``mode``, ``degree``.

Per mode: lines are exploded, their end points clustered within the mode's snap tolerance (metres, in
the equal-area CRS) and moved to the cluster centre, the lines snapped to those centres (so a line
ending a few metres short of another joins it), noded at every crossing, and each piece given the
class of the line it came from (the fastest where lines overlap). Only the largest connected
component of each mode is kept; what is dropped is reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from .errors import ConfigError, DataError
from .config.network import Mode
from .geodesy import length_km

log = logging.getLogger("pipeline")

EDGE_FIELDS = ["edge_id", "u", "v", "mode", "class", "speed_kmh", "length_km", "minutes"]


@dataclass
class BuildReport:
    mode: str
    lines_in: int = 0
    snapped_ends: int = 0
    edges: int = 0
    components: int = 0
    dropped_edges: int = 0
    dropped_km: float = 0.0
    bridges: int = 0


def speeds_for(lines: gpd.GeoDataFrame, mode: Mode) -> tuple[np.ndarray, np.ndarray]:
    """Class and speed (km/h) of each line; an unconfigured class is an error naming it."""
    if mode.class_column is None:
        classes = np.full(len(lines), "default", dtype=object)
    else:
        if mode.class_column not in lines.columns:
            raise ConfigError(f"layers/network.yaml: mode {mode.name}: the source has no column "
                              f"'{mode.class_column}' (columns: {', '.join(map(str, lines.columns))})")
        classes = lines[mode.class_column].fillna("").astype(str).to_numpy(dtype=object)
    missing = sorted(set(classes) - set(mode.speeds_kmh))
    if missing and "default" in mode.speeds_kmh:
        log.info("network %s: classes without a speed of their own use 'default' (%g km/h): %s",
                 mode.name, mode.speeds_kmh["default"], ", ".join(missing))
        classes = np.where(np.isin(classes, missing), "default", classes).astype(object)
        missing = []
    if missing:
        raise ConfigError(f"layers/network.yaml: mode {mode.name}: no speed for class(es) "
                          f"{', '.join(repr(m) for m in missing)} (speeds_kmh)")
    return classes, np.array([mode.speeds_kmh[c] for c in classes], dtype=float)


def _snap_ends(geoms: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Move line end points within ``tol`` of each other to their cluster's centre.

    Returns the new lines, the cluster centres and how many end points moved."""
    starts = shapely.get_coordinates(shapely.get_point(geoms, 0))
    ends = shapely.get_coordinates(shapely.get_point(geoms, -1))
    pts = np.vstack([starts, ends])
    pairs = cKDTree(pts).query_pairs(tol, output_type="ndarray")
    n = len(pts)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) \
        else coo_matrix((n, n))
    _, label = connected_components(graph, directed=False)
    centres = np.column_stack([np.bincount(label, weights=pts[:, k]) / np.bincount(label)
                               for k in (0, 1)])
    new = centres[label]
    moved = int((np.hypot(*(new - pts).T) > 1e-3).sum())  # more than a millimetre
    out = []
    m = len(geoms)
    for i, g in enumerate(geoms):
        xy = shapely.get_coordinates(g)
        xy[0], xy[-1] = new[i], new[m + i]
        out.append(shapely.LineString(xy))
    return np.array(out, dtype=object), np.unique(centres, axis=0), moved


BRIDGE_CLASS = "gap bridge"


def bridge_dead_ends(xy: np.ndarray, u: np.ndarray, v: np.ndarray, max_m: float,
                     countries: np.ndarray | None) -> np.ndarray:
    """Pairs of dead ends to join: each dead end with its nearest other dead end within ``max_m``,
    nearest pairs first, each dead end used once; the straight bridge must lie inside one country.

    Parameters
    ----------
    xy
        Node coordinates in an equal-area CRS (metres).
    u, v
        Edge ends (node ids).
    max_m
        Longest bridge (m).
    countries
        Country polygons in the same CRS (None: no country test).

    Returns
    -------
    ndarray (n, 2) of node ids
    """
    from scipy.spatial import cKDTree

    degree = np.bincount(np.r_[u, v], minlength=len(xy))
    dead = np.flatnonzero(degree == 1)
    if max_m <= 0 or len(dead) < 2:
        return np.empty((0, 2), dtype=np.int64)
    pairs = cKDTree(xy[dead]).query_pairs(max_m, output_type="ndarray")
    if not len(pairs):
        return np.empty((0, 2), dtype=np.int64)
    a, b = dead[pairs[:, 0]], dead[pairs[:, 1]]
    linked = set(zip(np.minimum(u, v), np.maximum(u, v)))  # the two ends of one lone edge
    keep = np.array([(min(i, j), max(i, j)) not in linked for i, j in zip(a, b)], dtype=bool)
    a, b = a[keep], b[keep]
    order = np.argsort(np.hypot(*(xy[a] - xy[b]).T), kind="stable")
    used, out = set(), []
    lines = shapely.linestrings(np.stack([xy[a], xy[b]], axis=1)) if len(a) else np.array([])
    for k in order:
        i, j = int(a[k]), int(b[k])
        if i in used or j in used:
            continue
        if countries is not None and not shapely.within(lines[k], countries).any():
            continue  # the bridge would cross a border or a sea
        used |= {i, j}
        out.append((i, j))
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def build_mode(lines: gpd.GeoDataFrame, mode: Mode, equal_area_crs: CRS,
               ellps: str = "WGS84", countries: gpd.GeoSeries | None = None
               ) -> tuple[gpd.GeoDataFrame, BuildReport]:
    """Edges of one mode (lon/lat, with u/v local to the mode) and a report of the build.

    Parameters
    ----------
    lines
        The mode's lines (lon/lat).
    mode
        Classes, speeds, snap tolerance, gap bridging.
    equal_area_crs
        CRS of the metric operations.
    ellps
        Ellipsoid of the lengths.
    countries
        Country polygons (any CRS) that gap bridges must stay inside; None: no bridging test.

    Returns
    -------
    (GeoDataFrame, BuildReport)
        Edges with u, v, mode, class, speed_kmh, length_km, minutes; gap bridges have class
        ``gap bridge`` and the slower speed of the two roads they join.
    """
    rep = BuildReport(mode.name, lines_in=len(lines))
    lines = lines[lines.geometry.notna() & ~lines.geometry.is_empty].explode(index_parts=False)
    lines = lines[lines.geom_type == "LineString"].reset_index(drop=True)
    classes, speeds = speeds_for(lines, mode)
    ea = lines.geometry.to_crs(equal_area_crs).values
    ea, centres, rep.snapped_ends = _snap_ends(np.asarray(ea, dtype=object), mode.snap_tolerance_m)
    ea = shapely.snap(ea, shapely.multipoints(centres), mode.snap_tolerance_m)
    noded = shapely.get_parts(shapely.node(shapely.MultiLineString(
        [g for g in ea if g.geom_type == "LineString" and not g.is_empty])))
    noded = noded[shapely.length(noded) > 0]
    # Class of each piece: the fastest source line it lies on.
    tree = shapely.STRtree(ea)
    mid = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    piece_idx, line_idx = tree.query(mid, predicate="dwithin", distance=0.5)
    best = pd.DataFrame({"p": piece_idx, "speed": speeds[line_idx], "line": line_idx}) \
        .sort_values(["p", "speed"], ascending=[True, False]).drop_duplicates("p")
    keep = best["p"].to_numpy()
    noded = noded[keep]
    line_of = best["line"].to_numpy()
    # Nodes: unique end points (rounded to the centimetre).
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(noded, 0)),
                      shapely.get_coordinates(shapely.get_point(noded, -1))]).round(2)
    uniq, inv = np.unique(ends, axis=0, return_inverse=True)
    inv = inv.ravel()
    u, v = inv[: len(noded)], inv[len(noded):]
    ok = u != v
    noded, line_of, u, v = noded[ok], line_of[ok], u[ok], v[ok]
    cls, kmh = classes[line_of], speeds[line_of]
    land = None if countries is None else np.asarray(countries.to_crs(equal_area_crs).values, dtype=object)
    pairs = bridge_dead_ends(uniq, u, v, mode.bridge_gaps_m, land)
    if len(pairs):
        end_speed = np.full(len(uniq), np.inf)
        np.minimum.at(end_speed, u, kmh)
        np.minimum.at(end_speed, v, kmh)
        noded = np.r_[noded, shapely.linestrings(np.stack([uniq[pairs[:, 0]], uniq[pairs[:, 1]]], axis=1))]
        u, v = np.r_[u, pairs[:, 0]], np.r_[v, pairs[:, 1]]
        cls = np.r_[cls, np.full(len(pairs), BRIDGE_CLASS, dtype=object)]
        kmh = np.r_[kmh, np.minimum(end_speed[pairs[:, 0]], end_speed[pairs[:, 1]])]
    rep.bridges = len(pairs)
    lonlat = gpd.GeoSeries(noded, crs=equal_area_crs).to_crs(lines.crs)
    edges = gpd.GeoDataFrame({"u": u, "v": v, "mode": mode.name, "class": cls,
                              "speed_kmh": kmh}, geometry=lonlat.values, crs=lines.crs)
    edges["length_km"] = length_km(edges.geometry.values, ellps)
    edges["minutes"] = edges["length_km"] / edges["speed_kmh"] * 60.0
    edges = keep_largest_component(edges, len(uniq), rep)
    log.info("network %s: %d lines → %d edges, %.0f km; %d end points snapped (≤ %g m); %d gaps bridged "
             "(≤ %g m); %d components, dropped %d edges (%.0f km) outside the largest",
             mode.name, rep.lines_in, rep.edges, edges["length_km"].sum(), rep.snapped_ends,
             mode.snap_tolerance_m, rep.bridges, mode.bridge_gaps_m, rep.components, rep.dropped_edges,
             rep.dropped_km)
    return edges, rep


def keep_largest_component(edges: gpd.GeoDataFrame, n_nodes: int,
                           rep: BuildReport) -> gpd.GeoDataFrame:
    """The edges of the largest connected component (by edges); the rest is counted in ``rep``."""
    u = edges["u"].to_numpy()
    graph = coo_matrix((np.ones(len(edges)), (u, edges["v"].to_numpy())), shape=(n_nodes, n_nodes))
    rep.components, label = connected_components(graph, directed=False)
    main = np.bincount(label[u], minlength=rep.components).argmax()
    in_main = label[u] == main
    rep.dropped_edges = int((~in_main).sum())
    rep.dropped_km = float(edges.loc[~in_main, "length_km"].sum())
    edges = edges.loc[in_main].reset_index(drop=True)
    rep.edges = len(edges)
    return edges


# Which OSM ways each network type keeps: driving, the motor-road classes (as pyrosm's "driving"); walking
# and cycling, every highway but those closed to them (after OSMnx's "walk" and "bike"); all, every highway.
_NOT_A_ROAD = {"abandoned", "bus_guideway", "construction", "disused", "no", "planned", "platform", "proposed",
               "raceway", "razed", "corridor", "elevator", "escalator", "bus_stop", "rest_area", "services"}
_MOTOR = {"motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary",
          "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential", "living_street", "road"}
OSM_FILTERS = {
    "driving": {"include": _MOTOR, "deny": ("access", "motor_vehicle", "motorcar")},
    "walking": {"exclude": _NOT_A_ROAD | {"motorway", "motorway_link", "cycleway"}, "deny": ("access", "foot")},
    "cycling": {"exclude": _NOT_A_ROAD | {"motorway", "motorway_link", "footway", "steps"},
                "deny": ("access", "bicycle")},
    "all": {"exclude": _NOT_A_ROAD, "deny": ()},
}


def read_osm_pbf(path: str, network_type: str) -> gpd.GeoDataFrame:
    """Edges of an OpenStreetMap extract: its ``highway`` ways of a network type, split at junctions.

    Streams the file once with pyosmium (nodes into a location cache, then the ways with a ``highway``
    tag). A way is cut at every node another kept way shares and at its ends, so an edge runs from junction
    to junction with the way's shape; u, v are OSM node ids. (Measured on a synthetic 1 M-way extract:
    28 s and 2.0 GB, 1.0 M edges, against pyrosm's 46 s and 4.8 GB for 6.0 M edges cut at every node —
    docs/scaling.md.)

    Parameters
    ----------
    path
        An ``.osm.pbf`` (or any format libosmium reads).
    network_type
        ``driving``, ``walking``, ``cycling`` or ``all`` (see ``OSM_FILTERS``): which ways are kept.

    Returns
    -------
    GeoDataFrame (EPSG:4326)
        ``u``, ``v``, ``highway``, ``maxspeed`` (text as tagged, '' when untagged), LineString geometry.
    """
    import osmium

    if network_type not in OSM_FILTERS:
        raise DataError(f"{path}: network_type '{network_type}' is not one of {', '.join(OSM_FILTERS)}")
    rule = OSM_FILTERS[network_type]
    lengths, refs, lon, lat, highway, maxspeed = [], [], [], [], [], []
    try:
        ways = (osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations("flex_mem")
                .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
                .with_filter(osmium.filter.KeyFilter("highway")))
        for w in ways:
            tags = w.tags
            h = tags.get("highway")
            if (("include" in rule and h not in rule["include"]) or h in rule.get("exclude", ())
                    or tags.get("area") == "yes" or any(tags.get(k) in ("no", "private") for k in rule["deny"])):
                continue
            nodes = [n for n in w.nodes if n.location.valid()]   # nodes outside a clipped extract are left out
            if len(nodes) < 2:
                continue
            lengths.append(len(nodes))
            refs.extend(n.ref for n in nodes)
            lon.extend(n.lon for n in nodes)
            lat.extend(n.lat for n in nodes)
            highway.append(h)
            maxspeed.append(tags.get("maxspeed", ""))
    except (RuntimeError, OSError) as exc:   # libosmium's errors (bad format, truncated file) are RuntimeErrors
        raise DataError(f"{path}: cannot be read as an OpenStreetMap extract ({exc})") from None
    if not lengths:
        raise DataError(f"{path}: no '{network_type}' ways in this OpenStreetMap extract")
    ids = np.asarray(refs, dtype=np.int64)
    xy = np.column_stack([lon, lat])
    n_nodes = np.asarray(lengths)
    first = np.r_[0, np.cumsum(n_nodes)[:-1]]
    last = first + n_nodes - 1
    _, inverse, count = np.unique(ids, return_inverse=True, return_counts=True)
    cut = count[inverse] > 1           # a junction (or a node a way passes twice)
    cut[first] = cut[last] = True
    way = np.repeat(np.arange(len(n_nodes)), n_nodes)
    at = np.flatnonzero(cut)
    same_way = way[at[:-1]] == way[at[1:]]
    a, b = at[:-1][same_way], at[1:][same_way]
    size = b - a + 1
    vertex = np.repeat(a, size) + np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)
    geometry = shapely.linestrings(xy[vertex], indices=np.repeat(np.arange(len(a)), size))
    of_way = way[a]
    return gpd.GeoDataFrame({"u": ids[a], "v": ids[b], "highway": np.asarray(highway, dtype=object)[of_way],
                             "maxspeed": np.asarray(maxspeed, dtype=object)[of_way]},
                            geometry=geometry, crs="EPSG:4326")


def read_osmnx(*, bbox: tuple[float, float, float, float] | None = None, xml: str | None = None,
               network_type: str = "drive") -> gpd.GeoDataFrame:
    """Edges from osmnx: downloaded for ``bbox`` (lon/lat: west, south, east, north; needs the
    internet) or read from an OSM XML file; same columns as :func:`read_osm_pbf`."""
    import osmnx as ox

    try:
        if xml is not None:
            graph = ox.graph_from_xml(xml, simplify=True, retain_all=True)
        else:
            graph = ox.graph_from_bbox(bbox, network_type=network_type, retain_all=True)
    except Exception as exc:  # osmnx raises many kinds (HTTP, parse, empty response)
        where = xml or f"bbox {list(bbox or ())}"
        raise DataError(f"OpenStreetMap through osmnx ({where}) failed: {exc}. Offline, use a local "
                        "extract instead (osm_pbf: in layers/network.yaml)") from None
    edges = ox.graph_to_gdfs(graph, nodes=False).reset_index()
    first = lambda v: v[0] if isinstance(v, list) else v  # noqa: E731 (osmnx merges ways into lists)
    out = gpd.GeoDataFrame({"u": edges["u"].to_numpy(), "v": edges["v"].to_numpy(),
                            "highway": edges["highway"].map(first).astype(str),
                            "maxspeed": edges["maxspeed"].map(first) if "maxspeed" in edges else None},
                           geometry=edges.geometry.values, crs=edges.crs).to_crs("EPSG:4326")
    if out.empty:
        raise DataError(f"OpenStreetMap through osmnx: no ways in {xml or list(bbox or ())}")
    return out


def parse_maxspeed(values: pd.Series) -> np.ndarray:
    """OSM maxspeed as km/h: '60' → 60, '30 mph' → 48.3; NaN where not a plain figure ('RU:urban')."""
    text = values.astype("string").str.strip().str.lower()
    num = pd.to_numeric(text.str.extract(r"^(\d+(?:\.\d+)?)\s*(mph)?$")[0], errors="coerce")
    mph = text.str.endswith("mph").fillna(False).to_numpy(dtype=bool)
    out = num.to_numpy(dtype=float)
    out[mph] *= 1.609344
    return out


def build_osm_mode(osm: gpd.GeoDataFrame, mode: Mode,
                   ellps: str = "WGS84") -> tuple[gpd.GeoDataFrame, BuildReport]:
    """Edges of one mode from OSM: OSM topology as is (no noding: bridges cross without meeting);
    speed = ``maxspeed`` where it is a figure and ``use_maxspeed``, else the class speed."""
    rep = BuildReport(mode.name, lines_in=len(osm))
    classes, speeds = speeds_for(osm, mode)
    if mode.use_maxspeed and "maxspeed" in osm.columns:
        posted = parse_maxspeed(osm["maxspeed"])
        speeds = np.where(np.isfinite(posted) & (posted > 0), posted, speeds)
    ids, inv = np.unique(np.concatenate([osm["u"].to_numpy(), osm["v"].to_numpy()]),
                         return_inverse=True)
    n = len(osm)
    edges = gpd.GeoDataFrame({"u": inv[:n], "v": inv[n:], "mode": mode.name, "class": classes,
                              "speed_kmh": speeds}, geometry=osm.geometry.values, crs=osm.crs)
    edges = edges[edges["u"] != edges["v"]]
    edges["length_km"] = length_km(edges.geometry.values, ellps)
    edges["minutes"] = edges["length_km"] / edges["speed_kmh"] * 60.0
    edges = keep_largest_component(edges, len(ids), rep)
    log.info("network %s (OpenStreetMap): %d ways → %d edges, %.1f km; %d components, dropped %d "
             "edges (%.1f km) outside the largest", mode.name, rep.lines_in, rep.edges,
             edges["length_km"].sum(), rep.components, rep.dropped_edges, rep.dropped_km)
    return edges, rep


def number_nodes(parts: list[gpd.GeoDataFrame]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Give every mode's nodes global ids; return (edges, nodes) with ``edge_id`` and ``node_id``."""
    edges_out, nodes_out, offset = [], [], 0
    for e in parts:
        if e.empty:
            continue
        used = np.unique(np.concatenate([e["u"].to_numpy(), e["v"].to_numpy()]))
        remap = {old: offset + i for i, old in enumerate(used)}
        e = e.assign(u=e["u"].map(remap), v=e["v"].map(remap))
        first = shapely.get_point(e.geometry.values, 0)
        last = shapely.get_point(e.geometry.values, -1)
        pts = pd.concat([pd.Series(first, index=e["u"].to_numpy()),
                         pd.Series(last, index=e["v"].to_numpy())])
        pts = pts[~pts.index.duplicated()].sort_index()
        degree = np.bincount(np.concatenate([e["u"], e["v"]]) - offset, minlength=len(used))
        nodes_out.append(gpd.GeoDataFrame({"node_id": pts.index.to_numpy(), "mode": e["mode"].iloc[0],
                                           "degree": degree}, geometry=pts.values, crs=e.crs))
        edges_out.append(e)
        offset += len(used)
    edges = gpd.GeoDataFrame(pd.concat(edges_out, ignore_index=True), geometry="geometry")
    edges.insert(0, "edge_id", np.arange(len(edges)))
    nodes = gpd.GeoDataFrame(pd.concat(nodes_out, ignore_index=True), geometry="geometry")
    return edges[[*EDGE_FIELDS, "geometry"]], nodes


def graph_matrix(edges: pd.DataFrame, n_nodes: int, weight: str = "minutes") -> csr_matrix:
    """Symmetric sparse adjacency weighted by ``weight``; of parallel edges the fastest counts.

    csgraph reads a stored 0 as "no edge", so weights are floored at 1e-9 minutes."""
    u, v = edges["u"].to_numpy(dtype=np.int64), edges["v"].to_numpy(dtype=np.int64)
    a, b = np.minimum(u, v), np.maximum(u, v)
    w = np.maximum(edges[weight].to_numpy(dtype=float), 1e-9)
    # The fastest of parallel edges, pairs in order of first appearance (what a groupby without sorting
    # gives, in numpy: pandas' groupby cost 3 ms even for the four virtual edges of a routed leg).
    if len(a):
        order = np.lexsort((w, b, a))                 # by pair, the fastest first
        key_a, key_b = a[order], b[order]
        first = np.r_[True, (key_a[1:] != key_a[:-1]) | (key_b[1:] != key_b[:-1])]
        fastest = order[first]                        # each pair's fastest edge (the earliest among equals)
        seen = np.minimum.reduceat(order, np.flatnonzero(first))   # each pair's first appearance
        keep = np.argsort(seen, kind="stable")
        a, b, w = a[fastest][keep], b[fastest][keep], w[fastest][keep]
    return coo_matrix((np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))),
                      shape=(n_nodes, n_nodes)).tocsr()


def travel_minutes(edges: pd.DataFrame, n_nodes: int, sources: np.ndarray | list[int],
                   weight: str = "minutes") -> np.ndarray:
    """Minutes from the nearest of ``sources`` to every node (inf where unreachable)."""
    return dijkstra(graph_matrix(edges, n_nodes, weight), directed=False,
                    indices=np.asarray(sources), min_only=True)


DESCRIPTIONS = {
    "edges": "Travel-time graph edges per mode: u, v node ids; speed_kmh from layers/network.yaml; "
             "length_km geodesic; minutes = length / speed.",
    "nodes": "Travel-time graph nodes (line ends and crossings after snapping); degree.",
    "repairs": "Gap bridges: dead ends of a mode joined across a gap of at most bridge_gaps_m, inside one "
               "country (length_km geodesic; speed = the slower of the two roads).",
}


def run(cfg, ingest, out) -> None:
    """Build the travel-time graph of every mode of ``layers/network.yaml`` and write it to ``out``.

    Parameters
    ----------
    cfg : Config
        Sources, data directory, CRSs, ellipsoid.
    ingest : Path
        ``stages/ingest.gpkg`` (``countries``: gap bridges stay inside one country).
    out : Path
        ``stages/network.gpkg``: layers ``edges``, ``nodes`` and ``repairs`` (the gap bridges).
    """
    from .config import load_network
    from .errors import DataMissingError
    from .io import read_layer, to_crs
    from .outputs import write_stage

    countries = read_layer(ingest, "countries").geometry
    parts = []
    for mode in load_network(cfg.layers_dir, cfg.sources).modes:
        if mode.is_osm:
            local = mode.osm_pbf or mode.osm_xml
            path = cfg.data_dir / local if local else None
            if path is not None and not path.is_file():
                raise DataMissingError(f"missing OpenStreetMap file {path} (layers/network.yaml: "
                                       f"network.modes.{mode.name})")
            osm = (read_osm_pbf(str(path), mode.network_type) if mode.osm_pbf else
                   read_osmnx(bbox=mode.osmnx_bbox, xml=str(path) if path else None,
                              network_type=mode.network_type))
            parts.append(build_osm_mode(osm, mode, cfg.ellipsoid)[0])
            continue
        src = cfg.source(mode.source)
        lines = to_crs(read_layer(cfg.source_path(mode.source), src.layer), cfg.output_crs, src.file)
        if not (lines.geometry.notna() & ~lines.geometry.is_empty).any():
            raise DataError(f"{cfg.source_path(mode.source)} (layer {src.layer}): has no lines, so mode "
                            f"'{mode.name}' has no network; download it again with `make data` or remove the "
                            "mode from layers/network.yaml")
        parts.append(build_mode(lines, mode, cfg.equal_area_crs, cfg.ellipsoid, countries)[0])
    edges, nodes = number_nodes(parts)
    repairs = edges[edges["class"] == BRIDGE_CLASS][["edge_id", "u", "v", "mode", "speed_kmh", "length_km",
                                                     "minutes", "geometry"]]
    write_stage(cfg, out, {"edges": edges, "nodes": nodes, "repairs": repairs}, DESCRIPTIONS)
