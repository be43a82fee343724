"""Configuration of the statistics and economy stage: ``layers/economy.yaml``.

Which statistics tables are read (copied into ``layers/stats/`` with their sources), how the
regions of the older Natural Earth vintage are built from the 2024 units (the crosswalk), how Tyumen
is counted, which years are reported and the paper's economic claims the computed figures are put
beside.
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from .base import ISO3, F, Strict, section_loader


class TablesSection(Strict):
    """The statistics tables (copied into layers/stats/ with their sources)."""

    regional: str = F("stats/regional_statistics.csv", "official statistics by region, indicator and "
                      "year (long format), path relative to layers/")
    trade: str = F("stats/trade_by_partner.csv", "the focus country's goods trade by partner, million USD")
    exchange_rates: str = F("stats/exchange_rates.csv", "NBK annual rates, KZT per unit of USD, RUB, CNY")


class Claim(Strict):
    text: str = F(..., "the claim as the paper states it", min_length=1)
    figure: float = F(..., "the paper's figure", gt=0)
    unit: str = F(..., "unit of the figure (persons, bn USD, %)", min_length=1)
    indicator: Literal["population", "grp_usd", "grp_share", "exports_share"] = F(
        ..., "what is computed: people, GRP in USD, GRP as % of the national total, or exports as % of "
        "the national total (focus country)")
    comparison: Literal["more_than", "about"] = F("more_than", "the paper's figure is a lower bound, or an "
                                                  "approximate value")
    tolerance_pct: float = F(10.0, "for `about`: the computed figure reproduces the claim within this "
                             "relative difference", unit="%", ge=0, le=100)
    vintage: str = F("naturalearth", "region vintage whose border regions are counted (naturalearth: "
                     "Kazakhstan before 2022, as in the paper; geokz_2024: after the reform)")
    countries: list[ISO3] = F(..., "sides of the border counted", min_length=1)
    neighbour: ISO3 = F(..., "the border (neighbour of the focus country) whose regions are counted")


class EconomySection(Strict):
    """Official statistics, border-region economy, the paper's claims."""

    tables: TablesSection = TablesSection()
    totals_required: list[ISO3] = F(["KAZ", "RUS", "KGZ"], "countries whose every indicator and year must "
                                    "have a national row (region_code = the country code)")
    extra_codes: dict[str, str] = F({}, "region codes of the tables that are not polygons of the data "
                                    "(aggregates, units outside the study area), each with why")
    population_reference: dict[ISO3, Literal["annual_average", "jan1", "year_end"]] = F(
        {"KAZ": "annual_average", "RUS": "jan1"}, "which population figure of each country is used")
    partner_groups: dict[str, list[ISO3]] = F({}, "groups of trade partners reported together (EAEU, "
                                              "Central Asia, …)")
    currency_of: dict[ISO3, Literal["KZT", "RUB", "CNY", "KGS", "USD"]] = F(
        {"KAZ": "KZT", "RUS": "RUB", "CHN": "CNY", "KGZ": "KGS"}, "national currency of each country's GRP")
    tyumen_with_okrugs: bool = F(True, "count Tyumen Oblast with its autonomous okrugs (Khanty-Mansi, "
                                 "Yamalo-Nenets: the statistical total) when the Natural Earth polygon "
                                 "RU-TYU is a border region; the report shows both")
    tyumen_code: str = F("RU-TYU", "code of the Tyumen polygon")
    tyumen_total_code: str = F("RU-TYU+KHM+YAN", "code of the statistical total with the okrugs")
    crosswalk: dict[str, list[str]] = F(
        {}, "Natural Earth (pre-2018) Kazakh unit → the 2024 units whose figures add up to it")
    base_year: int = F(2019, "changes are measured since this year", ge=1990, le=2100)
    headline_year: int = F(2021, "year of the headline figures (the latest with GRP on both sides)",
                           ge=1990, le=2100)
    claims: dict[str, Claim] = F({}, "the paper's economic claims, put beside the computed figures")

    @field_validator("crosswalk")
    @classmethod
    def _crosswalk(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        parts = [p for ps in v.values() for p in ps]
        dup = sorted({p for p in parts if parts.count(p) > 1})
        bad = [f"{k}: no 2024 units" for k, ps in v.items() if not ps]
        if dup:
            bad.append(f"unit(s) {', '.join(dup)} counted in two Natural Earth units")
        if bad:
            raise ValueError("; ".join(bad))
        return v


class EconomyFile(Strict):
    """layers/economy.yaml: official statistics and the paper's economic claims."""

    economy: EconomySection = EconomySection()


load_economy = section_loader("economy.yaml", EconomyFile, "economy")
