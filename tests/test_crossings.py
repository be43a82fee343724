"""Border crossings and scenarios on known geometry: delays change times by exactly the delay."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS

from pipeline.borders import border_segments
from pipeline.crossings import CROSSING_CLASS, insert_crossings, scenario_edges
from pipeline.network import Mode, build_mode, number_nodes, travel_minutes

EQUAL_AREA = CRS.from_proj4("+proj=cea +datum=WGS84 +units=m")
DELAYS = {"default": {"road": 9.9, "rail": 40.6}, "BBB": {"road": 2.0}}


def countries() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"country": ["AAA", "BBB"], "name": ["A", "B"]},
                            geometry=[shapely.box(-4, 0, 0, 4), shapely.box(0, 0, 4, 4)], crs="EPSG:4326")


def network(*xys: list[tuple[float, float]]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    lines = gpd.GeoDataFrame({"type": ["r"] * len(xys)}, geometry=[shapely.LineString(x) for x in xys],
                             crs="EPSG:4326")
    edges, _ = build_mode(lines, Mode("road", "roads", "type", 1.0, {"r": 60.0}), EQUAL_AREA)
    return number_nodes([edges])


def node_at(nodes, lon, lat) -> int:
    d = shapely.distance(nodes.geometry.values, shapely.Point(lon, lat))
    return int(nodes.node_id.iloc[int(np.argmin(d))])


@pytest.fixture
def crossed():
    edges, nodes = network([(-2, 2), (2, 2)])
    segs = border_segments(countries(), "AAA", ())
    out, xs = insert_crossings(edges, len(nodes), segs, DELAYS)
    return edges, nodes, out, xs


def test_one_crossing_found_on_the_border(crossed) -> None:
    _, _, out, xs = crossed
    assert len(xs) == 1
    x = xs.iloc[0]
    assert (x.neighbour, x["mode"], x.delay_h) == ("BBB", "road", 2.0)
    assert x.geometry.x == pytest.approx(0.0, abs=1e-9) and x.geometry.y == pytest.approx(2.0, abs=1e-6)
    assert (out["class"] == CROSSING_CLASS).sum() == 1 and len(out) == 3  # two halves + crossing


def test_current_is_open_plus_exactly_the_delay(crossed) -> None:
    edges, nodes, out, _ = crossed
    n = int(max(out.u.max(), out.v.max())) + 1
    a, b = node_at(nodes, -2, 2), node_at(nodes, 2, 2)
    before = travel_minutes(edges, len(nodes), [a])[b]
    t_open = travel_minutes(scenario_edges(out, "open"), n, [a])[b]
    t_current = travel_minutes(scenario_edges(out, "current"), n, [a])[b]
    assert t_open == pytest.approx(before, rel=1e-9)  # splitting changes nothing
    assert t_current - t_open == pytest.approx(2.0 * 60, abs=1e-6)


def test_closed_makes_the_other_side_unreachable(crossed) -> None:
    _, nodes, out, _ = crossed
    n = int(max(out.u.max(), out.v.max())) + 1
    a, b = node_at(nodes, -2, 2), node_at(nodes, 2, 2)
    t = travel_minutes(scenario_edges(out, "closed"), n, [a])
    assert np.isinf(t[b]) and t[a] == 0.0


def test_each_crossing_of_a_wiggling_road_pays_the_delay() -> None:
    # A road that wiggles across the border three times pays the delay at each crossing.
    edges, nodes = network([(-2, 2), (1, 2), (-1, 2.5), (2, 2.5)])
    out, xs = insert_crossings(edges, len(nodes), border_segments(countries(), "AAA", ()), DELAYS)
    assert len(xs) == 3  # the line crosses the meridian three times
    n = int(max(out.u.max(), out.v.max())) + 1
    a, b = node_at(nodes, -2, 2), node_at(nodes, 2, 2.5)
    t_open = travel_minutes(scenario_edges(out, "open"), n, [a])[b]
    t_current = travel_minutes(scenario_edges(out, "current"), n, [a])[b]
    assert t_current - t_open == pytest.approx(3 * 2.0 * 60, abs=1e-6)


def test_default_delay_applies_to_unlisted_modes() -> None:
    from pipeline.crossings import delay_hours

    assert delay_hours(DELAYS, "BBB", "rail") == 40.6
    assert delay_hours(DELAYS, "CCC", "road") == 9.9
    with pytest.raises(KeyError):
        delay_hours(DELAYS, "CCC", "ferry")


@pytest.fixture(scope="module")
def real_crossings(cfg):
    """Crossings on the real network of the data pack (road and rail, Natural Earth)."""
    from pipeline.config import load_network
    from pipeline.ingest import clean, countries_from_regions, regions_from_admin1, sovereignties
    from pipeline.io import read_layer

    net = load_network(cfg.layers_dir, cfg.sources)
    admin1 = clean(read_layer(cfg.source_path("admin1")), "admin1").gdf
    regions = regions_from_admin1(admin1, cfg.region_fixes)
    countries_ = countries_from_regions(regions, sovereignties(admin1).set_index("country")["name"])
    segs = border_segments(countries_, cfg.focus_country, cfg.seas)
    parts = [build_mode(read_layer(cfg.source_path(m.source)), m, cfg.equal_area_crs)[0] for m in net.modes]
    edges, nodes = number_nodes(parts)
    out, xs = insert_crossings(edges, len(nodes), segs, net.delay_hours)
    return nodes, out, xs, segs


def test_real_crossings_lie_on_the_border_of_every_land_neighbour(real_crossings) -> None:
    _, _, xs, segs = real_crossings
    assert set(xs.neighbour) == {"RUS", "CHN", "KGZ", "UZB", "TKM"}
    assert {"road", "rail"} <= set(xs[xs.neighbour == "CHN"]["mode"])  # incl. Dostyk–Alashankou rail
    border = segs.set_index("neighbour").geometry
    for x in xs.itertuples():
        assert border[x.neighbour].distance(x.geometry) < 1e-9


def test_real_scenarios_almaty_to_urumqi(real_crossings) -> None:
    nodes, out, _, _ = real_crossings
    road_nodes = nodes[nodes["mode"] == "road"]
    near = lambda lon, lat: int(road_nodes.node_id.iloc[int(np.argmin(  # noqa: E731
        shapely.distance(road_nodes.geometry.values, shapely.Point(lon, lat))))])
    road = out[out["mode"] == "road"]
    n = int(max(out.u.max(), out.v.max())) + 1
    almaty, urumqi, astana = near(76.95, 43.24), near(87.6, 43.8), near(71.43, 51.13)
    t = {s: travel_minutes(scenario_edges(road, s), n, [almaty]) for s in ("open", "current", "closed")}
    # One crossing into China on the fastest route: exactly the configured 9.9 h (CAREC 2022).
    assert t["current"][urumqi] - t["open"][urumqi] == pytest.approx(9.9 * 60, abs=1e-6)
    assert np.isinf(t["closed"][urumqi])
    # A domestic trip is the same in every scenario.
    assert t["open"][astana] == t["current"][astana] == t["closed"][astana]


def test_checkpoint_matching_respects_neighbour_mode_and_distance() -> None:
    from pipeline.crossings import match_checkpoints

    xs = gpd.GeoDataFrame({"neighbour": ["BBB", "BBB", "BBB", "CCC"],
                           "mode": ["road", "rail", "road", "road"]},
                          geometry=[shapely.Point(0, 2), shapely.Point(0, 2), shapely.Point(0, 3),
                                    shapely.Point(0, 2)], crs="EPSG:4326")
    cps = gpd.GeoDataFrame({"name": ["Gate"], "neighbour": ["BBB"], "modes": ["road"], "source": ["test"]},
                           geometry=[shapely.Point(0.1, 2)], crs="EPSG:4326")
    out = match_checkpoints(xs, cps, max_km=25)
    # 0.1° of longitude at 2°N is 11.1 km: matched; the rail crossing, the one 111 km away and the
    # one on another neighbour's border are not.
    assert list(out["checkpoint"]) == ["Gate", "", "", ""]
    assert out["checkpoint_km"].iloc[0] == pytest.approx(11.12, abs=0.01)
    assert out["checkpoint_km"].iloc[1:].isna().all()


def test_checkpoint_file_cites_a_source_for_every_entry(cfg) -> None:
    from pipeline.crossings import load_checkpoints

    cps = load_checkpoints(cfg.layers_dir / "checkpoints.yaml")
    assert len(cps) >= 4 and cps["source"].str.len().min() > 10


def test_real_crossings_are_named_after_the_chinese_checkpoints(real_crossings, cfg) -> None:
    from pipeline.config import load_network
    from pipeline.crossings import load_checkpoints, match_checkpoints

    _, _, xs, _ = real_crossings
    named = match_checkpoints(xs, load_checkpoints(cfg.layers_dir / "checkpoints.yaml"),
                              load_network(cfg.layers_dir, cfg.sources).match_km)
    by_name = named[named.checkpoint != ""].set_index("checkpoint")
    assert by_name.loc["Nur Zholy – Khorgos", "class"] == "Major Highway"
    assert by_name.loc["Dostyk – Alashankou (rail)", "mode"] == "rail"
    assert by_name.loc["Dostyk – Alashankou (rail)", "checkpoint_km"] < 2.0
    assert set(by_name.index) == {"Nur Zholy – Khorgos", "Dostyk – Alashankou (rail)", "Dostyk (road)",
                                  "Bakhty – Baktu"}


def test_crossing_edges_are_valid_lines(crossed) -> None:
    _, _, out, _ = crossed
    x = out[out["class"] == CROSSING_CLASS]
    assert x.is_valid.all() and (shapely.length(x.geometry.values) > 0).all()
    assert (x["length_km"] == 0).all()  # the delay, not the 2 cm drawn, is what a crossing costs
