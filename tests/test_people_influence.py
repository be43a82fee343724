"""Stage 5c: people in the areas of influence, on a grid of known cells (two countries side by side)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS

from pipeline.accessibility import Grid
from pipeline.people_influence import fastest_pole_abroad, influence_people, people_across

CRS_EA = CRS.from_epsg(6933)   # any metric CRS: the cells are 1 km squares
# 10 × 10 cells of 1 km; Kazakhstan the west half (columns 0–4), Kyrgyzstan the east half (5–9).
GRID = Grid(Affine(1000.0, 0.0, 0.0, 0.0, -1000.0, 10_000.0), 10, 10, CRS_EA)


def cols(c0: int, c1: int) -> shapely.Polygon:
    """Columns c0 … c1 − 1 of the grid, all rows."""
    return shapely.box(c0 * 1000.0, 0.0, c1 * 1000.0, 10_000.0)


@pytest.fixture
def own() -> np.ndarray:
    lab = np.zeros((10, 10), dtype=np.int32)
    lab[:, :5], lab[:, 5:] = 1, 2    # labels of ["KAZ", "KGZ"]
    return lab


@pytest.fixture
def catchments() -> gpd.GeoDataFrame:
    # open: Bishkek's catchment reaches two columns into Kazakhstan; closed: the border stops it.
    return gpd.GeoDataFrame({"tier_set": ["all"] * 4 + ["national"], "scenario": ["open", "open", "closed", "closed", "open"],
                             "pole_id": [0, 1, 0, 1, 1],
                             "country": ["KZ", "KG", "KZ", "KG", "KG"], "name": ["Almaty", "Bishkek"] * 2 + ["Bishkek"],
                             "population": [2.0e6, 1.1e6, 2.0e6, 1.1e6, 1.1e6]},
                            geometry=[cols(0, 3), cols(3, 10), cols(0, 5), cols(5, 10), cols(0, 10)], crs=CRS_EA)


def poles_in_columns(*spans: tuple[int, int, int]) -> np.ndarray:
    """A raster of pole ids: (pole, first column, last column + 1) for each span, −1 elsewhere."""
    g = np.full((10, 10), -1, dtype=np.int32)
    for pole, c0, c1 in spans:
        g[:, c0:c1] = pole
    return g


@pytest.fixture
def catchment_poles() -> dict[str, np.ndarray]:
    """The catchments' cells, as the influence stage writes them (catchment_poles.tif)."""
    return {"all|open": poles_in_columns((0, 0, 3), (1, 3, 10)), "all|closed": poles_in_columns((0, 0, 5), (1, 5, 10)),
            "national|open": poles_in_columns((1, 0, 10))}


def fastest(catchment_poles: dict, tier_set: str) -> dict[str, np.ndarray]:
    return {k.split("|")[1]: g for k, g in catchment_poles.items() if k.split("|")[0] == tier_set}


def test_cells_whose_fastest_pole_is_in_the_other_country_are_those_its_catchment_takes_across(own, catchment_poles) -> None:
    across = fastest_pole_abroad(fastest(catchment_poles, "all"), ["KZ", "KG"], ["KAZ", "KGZ"], own)
    assert set(across) == {"open", "closed"}
    expected = np.zeros((10, 10), dtype=bool)
    expected[:, 3:5] = True          # Kazakh cells in Bishkek's catchment
    assert (across["open"] == expected).all()
    assert not across["closed"].any()   # closed border: every cell's pole is at home


def test_an_area_set_missing_from_the_rasters_says_to_run_influence_again(catchments, catchment_poles) -> None:
    from pipeline.errors import DataMissingError

    layers = {"catchments": catchments, "huff_dominant": catchments.iloc[:0],
              "huff_variants": catchments.iloc[:0].assign(variant=[])}
    with pytest.raises(DataMissingError, match="run the influence stage again"):
        influence_people(layers, np.ones((10, 10)), {"all|open": catchment_poles["all|open"]}, {}, "population")


def test_people_in_each_catchment_are_the_sums_of_its_cells(catchments, catchment_poles) -> None:
    pop = np.arange(100, dtype=float).reshape(10, 10)   # a cell's people: 10 × row + column
    focus = np.zeros((10, 10), dtype=bool)
    focus[:, :5] = True
    layers = {"catchments": catchments, "huff_dominant": catchments[catchments["tier_set"] == "national"],
              "huff_variants": catchments.iloc[:0].assign(variant=[])}
    markets = {"population": catchment_poles["national|open"]}
    t = influence_people(layers, pop, catchment_poles, markets, "population", focus).set_index(
        ["kind", "tier_set", "scenario", "pole"])
    # columns 3–9 of every row: Σ_r Σ_c (10 r + c) = 7 · 450 + 10 · (3 + … + 9) = 3150 + 420
    assert t.loc[("catchment", "all", "open", "Bishkek"), "people"] == 3570.0
    assert t.loc[("catchment", "all", "open", "Bishkek"), "people_focus"] == 7 * 0 + (3 + 4) * 10 + 2 * 450
    assert t.loc[("catchment", "all", "open", "Almaty"), "people"] + 3570.0 == pop.sum()
    assert t.loc[("huff_market_area", "", "", "Bishkek"), "people"] == pop.sum()
    assert t.loc[("catchment", "all", "closed", "Bishkek"), "settlement_population"] == 1.1e6


def test_a_belts_share_of_people_across_is_the_share_of_its_people_in_cells_with_the_pole_abroad(own, catchment_poles) -> None:
    pop = np.ones((10, 10))
    pop[:, 4] = 3.0                                   # the column next to the border is denser
    across = fastest_pole_abroad(fastest(catchment_poles, "all"), ["KZ", "KG"], ["KAZ", "KGZ"], own)
    targets = gpd.GeoDataFrame({"kind": ["belt", "belt"], "name": ["KAZ-KGZ focus", "empty"], "segment_id": ["KGZ"] * 2,
                                "side": ["focus", "focus"], "country": ["KAZ", "KAZ"]},
                               geometry=[cols(2, 5), shapely.box(20_000, 20_000, 21_000, 21_000)], crs=CRS_EA)
    t = people_across(targets, pop, GRID, across)
    # columns 2, 3, 4: 10 + 10 + 30 people; across (columns 3 and 4): 40 of 50
    assert t.loc[0, "population"] == 50.0
    assert t.loc[0, "people_share_across_open_pct"] == pytest.approx(80.0, abs=1e-12)
    assert t.loc[0, "people_share_across_closed_pct"] == 0.0
    assert t.loc[1, "population"] == 0.0 and np.isnan(t.loc[1, "people_share_across_open_pct"])
    assert t.crs == CRS_EA and list(t.geometry) == list(targets.geometry)
