"""Network stage: graph building (snapping, noding, components) and shortest travel times."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import yaml
from pyproj import CRS, Geod

from pipeline.config import load_network
from pipeline.errors import ConfigError
from pipeline.network import Mode, build_mode, number_nodes, travel_minutes

ROOT = Path(__file__).resolve().parents[1]
GEOD = Geod(ellps="WGS84")
EQUAL_AREA = CRS.from_proj4("+proj=cea +datum=WGS84 +units=m")
DEG_EQ_KM = GEOD.inv(0, 0, 1, 0)[2] / 1000  # one degree of longitude on the equator: 111.319 km
METRE_DEG = 1 / (DEG_EQ_KM * 1000)          # one metre in degrees of longitude on the equator
METRE_LAT = 1 / GEOD.inv(0, 0, 0, 1)[2]      # one metre in degrees of latitude near the equator


def lines(*specs: tuple[list[tuple[float, float]], str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"type": [c for _, c in specs]},
                            geometry=[shapely.LineString(xy) for xy, _ in specs], crs="EPSG:4326")


def mode(tol: float = 50.0, **speeds: float) -> Mode:
    return Mode("road", "roads", "type", tol, speeds or {"fast": DEG_EQ_KM, "slow": DEG_EQ_KM / 2})


def graph(gdf: gpd.GeoDataFrame, m: Mode) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    edges, _ = build_mode(gdf, m, EQUAL_AREA)
    return number_nodes([edges])


def node_at(nodes: gpd.GeoDataFrame, lon: float, lat: float) -> int:
    d = shapely.distance(nodes.geometry.values, shapely.Point(lon, lat))
    assert d.min() < 1e-6, (lon, lat)
    return int(nodes.node_id.iloc[int(np.argmin(d))])


def test_toy_network_known_shortest_times() -> None:
    # A(0,0) —fast— B(1,0) —slow— C(2,0) along the equator.
    g = lines(([(0, 0), (1, 0)], "fast"), ([(1, 0), (2, 0)], "slow"))
    edges, nodes = graph(g, mode())
    a, b, c = (node_at(nodes, x, 0) for x in (0, 1, 2))
    t = travel_minutes(edges, len(nodes), [a])
    # fast = 1° per hour, slow = 1° per 2 hours: B at 60 min, C at 60 + 120 = 180 min.
    assert t[b] == pytest.approx(60.0, abs=1e-6)
    assert t[c] == pytest.approx(180.0, abs=1e-6)
    assert edges.set_index("class").loc["fast", "length_km"] == pytest.approx(DEG_EQ_KM, abs=1e-6)


def test_faster_detour_wins_and_parallel_edges_take_the_fastest() -> None:
    # Slow direct line A–C (2°, 240 min) against fast A–B–C (2 × 60 min), plus a slow duplicate of A–B.
    g = lines(([(0, 0), (2, 0)], "slow"), ([(0, 0), (1, 1e-9), (2, 0)], "fast"),
              ([(0, 0), (1, 1e-9)], "slow"))
    edges, nodes = graph(g, mode(tol=1.0))
    a, c = node_at(nodes, 0, 0), node_at(nodes, 2, 0)
    t = travel_minutes(edges, len(nodes), [a])
    assert t[c] == pytest.approx(120.0, rel=1e-6)


def test_multi_source_takes_the_nearest_source() -> None:
    g = lines(([(0, 0), (1, 0), (2, 0), (3, 0)], "fast"))
    edges, nodes = graph(g, mode(tol=1.0))
    # The line is noded only at its ends: 0 and 3 are the nodes, 180 min apart.
    a, d = node_at(nodes, 0, 0), node_at(nodes, 3, 0)
    assert travel_minutes(edges, len(nodes), [a])[d] == pytest.approx(180.0, rel=1e-6)
    assert travel_minutes(edges, len(nodes), [a, d])[d] == 0.0


def test_gap_within_tolerance_is_snapped() -> None:
    gap = 30 * METRE_DEG  # 30 m
    g = lines(([(0, 0), (1, 0)], "fast"), ([(1 + gap, 0), (2, 0)], "fast"))
    edges, nodes = graph(g, mode(tol=50.0))
    assert len(edges) == 2 and len(nodes) == 3
    t = travel_minutes(edges, len(nodes), [node_at(nodes, 0, 0)])
    assert np.isfinite(t).all()


def test_gap_beyond_tolerance_keeps_only_the_largest_component() -> None:
    gap = 30 * METRE_DEG
    g = lines(([(0, 0), (1, 0)], "fast"), ([(1 + gap, 0), (1.5, 0)], "fast"))
    edges, rep = build_mode(g, mode(tol=10.0), EQUAL_AREA)
    assert rep.components == 2 and rep.dropped_edges == 1
    assert rep.dropped_km == pytest.approx(0.5 * DEG_EQ_KM - 0.03, abs=0.01)
    assert len(edges) == 1


def test_near_miss_t_junction_joins_the_middle_of_a_line() -> None:
    # A north–south line ends 20 m short of the middle of an east–west line.
    g = lines(([(0, 0), (2, 0)], "fast"), ([(1, 1), (1, 20 * METRE_LAT)], "slow"))
    edges, nodes = graph(g, mode(tol=50.0))
    assert len(edges) == 3  # the east–west line is split where the other joins it
    t = travel_minutes(edges, len(nodes), [node_at(nodes, 0, 0)])
    assert np.isfinite(t).all()


def test_crossing_lines_are_noded() -> None:
    g = lines(([(-1, 0), (1, 0)], "fast"), ([(0, -1), (0, 1)], "fast"))
    edges, nodes = graph(g, mode(tol=1.0))
    assert len(edges) == 4 and len(nodes) == 5
    centre = node_at(nodes, 0, 0)
    assert nodes.set_index("node_id").loc[centre, "degree"] == 4


def test_unconfigured_class_is_an_error_naming_it() -> None:
    g = lines(([(0, 0), (1, 0)], "fast"), ([(1, 0), (2, 0)], "hovercraft"))
    with pytest.raises(ConfigError, match="no speed for class\\(es\\) 'hovercraft'"):
        build_mode(g, mode(), EQUAL_AREA)


def test_network_yaml_validation(tmp_path: Path) -> None:
    layers = tmp_path / "layers"
    shutil.copytree(ROOT / "layers", layers)
    data = yaml.safe_load((layers / "network.yaml").read_text())
    data["network"]["modes"]["road"]["speeds_kmh"]["Track"] = -30
    (layers / "network.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="network.yaml: network.modes.road.speeds_kmh: Track: -30.0 is not a speed"):
        load_network(layers)


def test_real_road_network_almaty_to_astana(cfg) -> None:
    net = load_network(cfg.layers_dir, cfg.sources)
    road = next(m for m in net.modes if m.name == "road")
    edges, rep = build_mode(gpd.read_file(cfg.source_path("roads")), road, cfg.equal_area_crs)
    assert rep.components > 1 and rep.dropped_km < 0.02 * edges.length_km.sum()
    edges, nodes = number_nodes([edges])
    assert edges.is_valid.all() and (edges.minutes > 0).all()
    nearest = lambda lon, lat: int(nodes.node_id.iloc[int(np.argmin(  # noqa: E731
        shapely.distance(nodes.geometry.values, shapely.Point(lon, lat))))])
    almaty, astana = nearest(76.95, 43.24), nearest(71.43, 51.13)  # city centres (GeoNames)
    hours = travel_minutes(edges, len(nodes), [almaty])[astana] / 60
    crow_km = GEOD.inv(76.95, 43.24, 71.43, 51.13)[2] / 1000  # ~970 km
    # By road ~1,200 km at 50–90 km/h: between the crow-flies bound at 90 km/h and 24 h.
    assert crow_km / 90 < hours < 24


def test_a_gap_between_two_dead_ends_is_bridged_only_inside_one_country() -> None:
    """Two roads on the equator with a 0.05° (5.57 km) gap: bridged when one country holds both ends,
    not when the gap is a border; not when the gap is longer than bridge_gaps_m."""
    import shapely as sh

    from pipeline.network import BRIDGE_CLASS

    roads = lines(([(0.0, 0.0), (1.0, 0.0)], "fast"), ([(1.05, 0.0), (2.0, 0.0)], "slow"))
    one = gpd.GeoSeries([sh.box(-1, -1, 3, 1)], crs="EPSG:4326")
    two = gpd.GeoSeries([sh.box(-1, -1, 1.02, 1), sh.box(1.02, -1, 3, 1)], crs="EPSG:4326")
    speeds = {"fast": DEG_EQ_KM, "slow": DEG_EQ_KM / 2}
    bridged, rep = build_mode(roads, Mode("road", "roads", "type", 1.0, speeds, bridge_gaps_m=10_000), EQUAL_AREA,
                              countries=one)
    gap = bridged[bridged["class"] == BRIDGE_CLASS]
    assert rep.bridges == 1 and len(gap) == 1 and rep.components == 1
    assert gap["length_km"].iloc[0] == pytest.approx(0.05 * DEG_EQ_KM, rel=1e-6)
    assert gap["speed_kmh"].iloc[0] == pytest.approx(DEG_EQ_KM / 2)  # the slower of the two roads
    across, rep = build_mode(roads, Mode("road", "roads", "type", 1.0, speeds, bridge_gaps_m=10_000), EQUAL_AREA,
                             countries=two)
    assert rep.bridges == 0 and rep.components == 2
    short, rep = build_mode(roads, Mode("road", "roads", "type", 1.0, speeds, bridge_gaps_m=5_000), EQUAL_AREA,
                            countries=one)
    assert rep.bridges == 0


def test_graph_matrix_keeps_the_fastest_of_parallel_edges_in_the_order_pairs_first_appear() -> None:
    """Against pandas' groupby(sort=False).min() on random multigraphs with ties, loops and zero weights:
    the same CSR arrays (indptr, indices, data), so that Dijkstra breaks ties between equal routes alike."""
    from scipy.sparse import coo_matrix

    from pipeline.network import graph_matrix

    def oracle(edges: pd.DataFrame, n: int):
        u, v = edges["u"].to_numpy(), edges["v"].to_numpy()
        f = pd.DataFrame({"a": np.minimum(u, v), "b": np.maximum(u, v), "w": np.maximum(edges["minutes"], 1e-9)})
        f = f.groupby(["a", "b"], sort=False)["w"].min().reset_index()
        a, b, w = f["a"].to_numpy(), f["b"].to_numpy(), f["w"].to_numpy()
        return coo_matrix((np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(n, n)).tocsr()

    rng = np.random.default_rng(16)
    for _ in range(300):
        m, n = int(rng.integers(0, 60)), int(rng.integers(2, 20))
        e = pd.DataFrame({"u": rng.integers(0, n, m), "v": rng.integers(0, n, m),
                          "minutes": rng.choice([0.0, 1.0, 2.0, 3.5], m)})
        got, want = graph_matrix(e, n), oracle(e, n)
        assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
        assert np.array_equal(got.data, want.data)
    two = graph_matrix(pd.DataFrame({"u": [0, 1, 0], "v": [1, 0, 2], "minutes": [5.0, 3.0, 0.0]}), 3)
    assert two[0, 1] == two[1, 0] == 3.0 and two[0, 2] == 1e-9   # the faster of 0–1, 1–0; a zero floored
