"""Economy stage: the official tables add up, the crosswalk sums the newer units into the older ones,
bad statistics are one clear error each, and the paper's claims come out of the official rows."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pipeline.config import load_economy
from pipeline.economy import border_sums, claim_figures, region_table
from pipeline.statistics import long_values, national_values
from pipeline.errors import DataError
from pipeline.statistics import load_tables, region_values, series, usd_per_unit

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "layers" / "stats" / "regional_statistics.csv"


@pytest.fixture(scope="module")
def eco():
    return load_economy(ROOT / "layers")


@pytest.fixture(scope="module")
def tables(eco):
    return load_tables(ROOT / "layers", eco)


def test_kazakh_regions_add_up_to_the_bns_national_row_for_every_indicator_and_year(tables) -> None:
    k = tables.regional[tables.regional["country"] == "KAZ"]
    keys = ["indicator", "year", "reference"]
    total = k[k["region_code"] == "KAZ"].set_index(keys)["value"]
    parts = k[k["region_code"] != "KAZ"].groupby(keys)["value"].sum()
    assert len(total) == 53 and set(parts.index) == set(total.index)
    np.testing.assert_allclose(parts.loc[total.index], total, rtol=1e-6)  # rounding of the published rows
    # Population 2023 of the 20 regions: exactly the BNS total named in the people issue.
    pop = k[(k["indicator"] == "population") & (k["year"] == 2023) & (k["region_code"] != "KAZ")]
    assert len(pop) == 20 and pop["value"].sum() == 19_900_324


def test_tyumen_total_is_exactly_the_oblast_and_its_two_okrugs(tables) -> None:
    r = tables.regional[tables.regional["indicator"].isin(["population", "grp"])]
    keys = ["indicator", "year", "reference"]
    parts = r[r["region_code"].isin(["RU-TYU", "RU-KHM", "RU-YAN"])].groupby(keys)["value"].sum()
    total = r[r["region_code"] == "RU-TYU+KHM+YAN"].set_index(keys)["value"]
    assert len(total) == 5
    np.testing.assert_allclose(parts.loc[total.index], total, rtol=0, atol=0.11)


def test_rub_per_usd_cross_rate_of_2021_is_the_bank_of_russias_73_65(tables) -> None:
    usd = usd_per_unit(tables.rates).set_index(["year", "currency"])["usd_per_unit"]
    assert 1 / usd[(2021, "RUB")] == pytest.approx(73.65, abs=0.01)
    assert usd[(2021, "USD")] == pytest.approx(1.0)


def _units(codes: list[str], country: str = "KAZ") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"region_id": [f"{c}|x" for c in codes], "iso_3166_2": codes,
                             "name_en": codes, "country": country, "vintage": "v"},
                            geometry=[shapely.box(i, 0, i + 1, 1) for i in range(len(codes))], crs="EPSG:4326")


def test_crosswalk_sums_newer_units_into_the_older_vintage_and_blanks_incomplete_groups(tables, eco) -> None:
    values = series(tables.regional, eco)
    ne = region_values(_units(["KZ-VOS", "KZ-ALM"]), values, eco, "naturalearth").set_index(
        ["region_id", "indicator", "year"])["value"]
    row = lambda code, ind, year: float(values[(values["code"] == code) & (values["indicator"] == ind)  # noqa: E731
                                               & (values["year"] == year) & (values["period"] == "year")]["value"].iloc[0])
    # East Kazakhstan before 2022 = East Kazakhstan + Abay (population recalculated back to 2019 by BNS).
    assert ne[("KZ-VOS|x", "population", 2019)] == row("KZ-VOS", "population", 2019) + row("KZ-ABY", "population", 2019)
    # GRP 2019: Abay was inside East Kazakhstan, whose figure is then the whole old region.
    assert ne[("KZ-VOS|x", "grp", 2019)] == row("KZ-VOS", "grp", 2019)
    assert ne[("KZ-ALM|x", "grp", 2023)] == row("KZ-ALM", "grp", 2023) + row("KZ-ZHT", "grp", 2023)
    new = region_values(_units(["KZ-VOS", "KZ-ABY", "KZ-AKT"]), values, eco, "geokz_2024").set_index(
        ["region_id", "indicator", "year"])["value"]
    # In the 2024 vintage, GRP 2019 of East Kazakhstan included Abay's: neither has a figure that year.
    assert ("KZ-VOS|x", "grp", 2019) not in new.index and ("KZ-ABY|x", "grp", 2019) not in new.index
    assert new[("KZ-ABY|x", "grp", 2021)] == row("KZ-ABY", "grp", 2021)
    assert new[("KZ-AKT|x", "grp", 2019)] == row("KZ-AKT", "grp", 2019)


def test_tyumen_takes_its_okrugs_only_when_configured(tables, eco) -> None:
    units = _units(["RU-TYU"], "RUS")
    values = series(tables.regional, eco)
    with_ = region_values(units, values, eco, "naturalearth")
    without = region_values(units, values, eco.model_copy(update={"tyumen_with_okrugs": False}), "naturalearth")
    pick = lambda v: v[(v["indicator"] == "population") & (v["year"] == 2023)]["value"].iloc[0]  # noqa: E731
    assert pick(with_) == 3_851_300 and pick(without) == 1_608_500


def test_claims_on_a_tiny_synthetic_table_have_the_known_answers(eco) -> None:
    """Two regions on each side of one border: 10 + 20 people in A, 30 + 40 in B; GRP shares known."""
    from pipeline.config.economy import Claim

    br = pd.DataFrame({"vintage": "v", "segment_id": "A-B", "side": ["focus"] * 2 + ["neighbour"] * 2,
                       "country": ["AAA", "AAA", "BBB", "BBB"], "region_id": ["a1", "a2", "b1", "b2"],
                       "borders": True, "zone100_share": [1.0, 0.5, 0.0, 0.25]})
    stats = pd.DataFrame({"vintage": "v", "region_id": ["a1", "a2", "b1", "b2"], "year": 2020,
                          "population": [10.0, 20.0, 30.0, 40.0], "grp_lcu_mn": [1.0, 2.0, 3.0, 4.0],
                          "grp_usd_mn": [100.0, 200.0, 300.0, 400.0]})
    national = pd.DataFrame({"country": ["AAA", "AAA", "BBB", "BBB"], "indicator": ["population", "grp"] * 2,
                             "year": 2020, "period": "year", "value": [60.0, 6.0, 140.0, 28.0]})
    sums = border_sums(br, stats, national, (100.0,))
    border = sums[sums["zone"] == "border"].set_index("country")
    assert border.loc["AAA", "population"] == 30 and border.loc["BBB", "population"] == 70
    assert border.loc["AAA", "grp_share_pct"] == pytest.approx(50.0)  # 3 of 6
    assert border.loc["BBB", "grp_per_capita_index"] == pytest.approx(100 * (7 / 70) / (28 / 140))
    belt = sums[sums["zone"] == "100"].set_index("country")
    assert belt.loc["AAA", "population"] == pytest.approx(10 + 0.5 * 20)  # area-weighted
    assert belt.loc["BBB", "population"] == pytest.approx(0.25 * 40)
    segments = pd.DataFrame({"segment_id": ["A-B"], "segment_type": ["land"], "neighbour": ["BBB"]})
    claims = {"people": Claim(text="more than 99 people", figure=99, unit="persons", indicator="population",
                              countries=["AAA", "BBB"], neighbour="BBB", vintage="v"),
              "share": Claim(text="about 50 %", figure=50, unit="%", indicator="grp_share", countries=["AAA"],
                             neighbour="BBB", vintage="v", comparison="about", tolerance_pct=1),
              "usd": Claim(text="more than 1 bn USD", figure=1, unit="bn USD", indicator="grp_usd",
                           countries=["AAA", "BBB"], neighbour="BBB", vintage="v")}
    out = claim_figures(claims, {"with okrugs": sums}, br, segments, stats, national).set_index("claim")
    assert out.loc["people", "computed"] == 100 and out.loc["people", "reproduced"]
    assert out.loc["share", "computed"] == pytest.approx(50.0) and out.loc["share", "reproduced"]
    assert out.loc["usd", "computed"] == pytest.approx(1.0) and not out.loc["usd", "reproduced"]  # not more than


def test_the_papers_claims_from_the_official_rows(tables, eco, real) -> None:
    """7 Kazakh + 12 Russian regions bordering the Russian segment, Natural Earth vintage: the figures are
    exact sums of the official rows."""
    national = national_values(tables, eco)
    regions = real["regions"]
    br = real["border_regions"]
    br = br[br["vintage"] == "naturalearth"]
    stats = region_table(regions, long_values(regions, tables, eco, "naturalearth"), national, eco)
    sums = border_sums(br, stats, national, (100.0, 150.0))
    segments = real["segments"]
    claims = claim_figures(eco.claims, {"with okrugs": sums}, br, segments, stats, national)
    people = claims[(claims["claim"] == "people") & (claims["year"] == 2020)]["computed"].iloc[0]
    assert people == 32_092_509  # > 32 million: the paper's claim, with Tyumen's okrugs
    grp = claims[(claims["claim"] == "grp") & (claims["year"] == 2021)]["computed"].iloc[0]
    assert grp == pytest.approx(391.2, abs=0.05)  # bn USD, > 350
    kaz = claims[(claims["claim"] == "kaz_share") & (claims["year"] == 2021)]["computed"].iloc[0]
    assert kaz == pytest.approx(38.12, abs=0.01)


@pytest.mark.parametrize("edit,message", [
    (lambda d: d.assign(region_code=d["region_code"].where(d.index != 100, "KZ-XXX")),
     "region_code KZ-XXX (North Kazakhstan) is not a region of the data"),
    (lambda d: pd.concat([d, d.iloc[[200]]]), "duplicate rows"),
    (lambda d: d.assign(value=d["value"].where(d.index != 300, -5.0)), "negative value"),
    (lambda d: d.assign(value=d["value"].where(d.index != 301, np.nan)), "value: empty or NaN value"),
    (lambda d: d.assign(unit=d["unit"].where(d.index != 302, "thousand KZT")), "unit not allowed"),
    (lambda d: d[~((d["region_code"] == "KAZ") & (d["indicator"] == "grp") & (d["year"] == 2020))],
     "no national total (region_code KAZ) for grp 2020"),
    (lambda d: d.assign(source=d["source"].where(d.index != 5, "my notes")), "source not in layers/stats/sources.csv"),
    (lambda d: d.assign(country=d["country"].where(d.index != 6, "Kaz")), "not an ISO 3166-1 alpha-3 code"),
])
def test_each_bad_statistics_table_is_one_clear_error(tmp_path: Path, eco, edit, message) -> None:
    layers = tmp_path / "layers"
    shutil.copytree(ROOT / "layers", layers)
    table = pd.read_csv(TABLE, keep_default_na=False)
    edit(table).to_csv(layers / "stats" / "regional_statistics.csv", index=False)
    known = set(pd.read_csv(TABLE)["region_code"]) - {"KZ-XXX"}
    with pytest.raises(DataError) as exc:
        load_tables(layers, eco, known)
    assert message in str(exc.value)
    assert "regional_statistics.csv" in str(exc.value)
    assert str(exc.value).startswith("1 problem(s) in the statistics tables")  # one clear error each


def test_mixed_units_for_one_indicator_are_refused(tmp_path: Path, eco) -> None:
    layers = tmp_path / "layers"
    shutil.copytree(ROOT / "layers", layers)
    table = pd.read_csv(TABLE, keep_default_na=False)
    rus = (table["country"] == "RUS") & (table["indicator"] == "grp") & (table["year"] == 2020)
    table.loc[rus, "unit"] = "million KZT"  # allowed for GRP, but Russia's other year is in RUB
    table.to_csv(layers / "stats" / "regional_statistics.csv", index=False)
    with pytest.raises(DataError, match="mixed units for one country and indicator"):
        load_tables(layers, eco)
