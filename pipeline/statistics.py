"""Official statistics: read, validate and join to the regions of both vintages.

Reads the tables of ``layers/economy.yaml`` (copies in ``layers/stats/``, sources in
``layers/stats/sources.csv``):
  * ``regional_statistics.csv``: country, region_code (ISO 3166-2; the country's alpha-3 for the
    national row), region_name, indicator, year, reference, value, unit, source;
  * ``trade_by_partner.csv``: iso3, year, exports_mln_usd, imports_mln_usd (million USD);
  * ``exchange_rates.csv``: year, currency, kzt_per_unit, source (NBK annual means).

Validation (pandera, lazy: every problem at once): types, ISO codes, known indicators and their units,
one unit per country and indicator (no mixed units), non-negative values (except net migration
rates), no NaN or infinity, no duplicate (region, indicator, year, reference), every source cited,
a national row for each indicator and year of the countries in ``totals_required``, and — given the
codes of the region layers — no unknown region code.

Join. Values are attached to regions by ISO 3166-2 code. A region of the Natural Earth vintage that
is a union of newer units (``crosswalk``: Turkestan = Turkestan + Shymkent, …) gets their sum; in the
2024 vintage, a unit whose figure was still inside its parent that year (GRP of Abay, Zhetysu,
Ulytau before 2021) has none, and neither has the parent (its figure includes the child). Tyumen's
polygon (RU-TYU) takes the statistical total with the okrugs when ``tyumen_with_okrugs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError

#: Indicators of regional_statistics.csv and their allowed units; rates are not additive.
UNITS = {
    "population": {"persons"},
    "grp": {"million KZT", "million RUB", "million KGS", "million CNY"},
    "net_migration_rate": {"per 10,000 population"},
    "employment": {"persons"},
    "investment_fixed_capital": {"million KZT"},
    "industrial_output": {"million KZT"},
    "gross_output_mining": {"million KZT"},
    "gross_output_manufacturing": {"million KZT"},
    "exports": {"million USD"},
    **{f"exports_hs_section_{s}": {"million USD"} for s in ("II", "V", "VI", "XV", "XVI")},
}
RATES = {"net_migration_rate"}
REFERENCES = ("annual_average", "jan1", "year_end", "calendar_year", "jan_jun")
HS_SECTIONS = {"II": "vegetable products", "V": "mineral products", "VI": "chemicals",
               "XV": "base metals", "XVI": "machinery"}


@dataclass(frozen=True)
class Tables:
    """The validated statistics tables."""

    regional: pd.DataFrame
    trade: pd.DataFrame
    rates: pd.DataFrame
    sources: pd.DataFrame


def _allowed_unit(d: pd.DataFrame) -> pd.Series:
    """Whether each row's unit is one of its indicator's units (unknown indicators are judged elsewhere)."""
    return pd.Series([u in UNITS.get(i, {u}) for i, u in zip(d["indicator"], d["unit"])], index=d.index)


def _schemas(sources: set[str]):
    import pandera.pandas as pa

    iso3 = pa.Check.str_matches(r"^[A-Z]{3}$", error="not an ISO 3166-1 alpha-3 code")
    finite = pa.Check(lambda s: np.isfinite(s), element_wise=False, error="not a finite number")
    regional = pa.DataFrameSchema(
        {"country": pa.Column(str, iso3),
         "region_code": pa.Column(str, pa.Check.str_matches(r"^[A-Z]{2,3}(-[A-Z0-9+]+)?$",
                                                            error="not an ISO 3166-2 or alpha-3 code")),
         "region_name": pa.Column(str),
         "indicator": pa.Column(str, pa.Check.isin(sorted(UNITS), error="unknown indicator")),
         "year": pa.Column(int, pa.Check.in_range(1990, 2100)),
         "reference": pa.Column(str, pa.Check.isin(REFERENCES, error="unknown reference")),
         "value": pa.Column(float, finite),
         "unit": pa.Column(str),
         "source": pa.Column(str, pa.Check.isin(sorted(sources), error="source not in layers/stats/sources.csv"))},
        checks=[
            pa.Check(lambda d: (d["value"] >= 0) | d["value"].isna() | d["indicator"].isin(RATES),
                     error="negative value (only net migration rates may be negative)"),
            pa.Check(_allowed_unit, error="unit not allowed for the indicator"),
            pa.Check(lambda d: d.assign(u=d["unit"].where(_allowed_unit(d))).groupby(["country", "indicator"])["u"]
                     .transform("nunique") <= 1, error="mixed units for one country and indicator"),
        ],
        unique=["region_code", "indicator", "year", "reference"], strict=True, coerce=True,
        report_duplicates="all")
    trade = pa.DataFrameSchema(
        {"iso3": pa.Column(str, iso3), "year": pa.Column(int, pa.Check.in_range(1990, 2100)),
         "exports_mln_usd": pa.Column(float, [finite, pa.Check.ge(0)]),
         "imports_mln_usd": pa.Column(float, [finite, pa.Check.ge(0)])},
        unique=["iso3", "year"], strict=True, coerce=True, report_duplicates="all")
    rates = pa.DataFrameSchema(
        {"year": pa.Column(int, pa.Check.in_range(1990, 2100)),
         "currency": pa.Column(str, pa.Check.str_matches(r"^[A-Z]{3}$")),
         "kzt_per_unit": pa.Column(float, [finite, pa.Check.gt(0)]),
         "source": pa.Column(str, pa.Check.isin(sorted(sources)))},
        unique=["year", "currency"], strict=True, coerce=True, report_duplicates="all")
    return regional, trade, rates


def _validate(schema, frame: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Validate lazily; one line per failed check, naming the first offending CSV lines."""
    import pandera.errors as pe

    try:
        return schema.validate(frame, lazy=True), []
    except pe.SchemaErrors as exc:
        cases = exc.failure_cases
    lines = []
    names = {"not_nullable": "empty or NaN value", "field_uniqueness": "duplicate rows",
             "multiple_fields_uniqueness": "duplicate rows (same region, indicator, year and reference)",
             "column_in_dataframe": "missing column", "column_in_schema": "unexpected column"}
    whole = cases["schema_context"] == "DataFrameSchema"
    for (col, check), grp in cases[~whole].groupby(["column", "check"], dropna=False, sort=False):
        lines.append(_case_line(path, str(col) if isinstance(col, str) else "table", names.get(str(check), str(check)),
                                grp["failure_case"].tolist(), grp["index"].dropna().unique()))
    for check, grp in cases[whole].groupby("check", sort=False):
        idx = grp["index"].dropna().unique()
        what = [" ".join(str(frame.loc[i, c]) for c in ("region_code", "indicator", "year") if c in frame)
                for i in idx[:3]]
        lines.append(_case_line(path, "rows", names.get(str(check), str(check)), what, idx))
    return frame, lines


def _case_line(path: Path, col: str, check: str, values: list, idx) -> str:
    rows = [int(i) + 2 for i in list(idx)[:3]]  # CSV line numbers (the header is line 1)
    where = f" (line {', '.join(map(str, rows))}{' …' if len(idx) > 3 else ''})" if rows else ""
    shown = ", ".join(map(repr, values[:3])) + (" …" if len(values) > 3 else "")
    return f"{path}: {col}: {check}: {shown}{where}"


def read_tables(layers_dir: Path, eco) -> tuple[Tables | None, list[str]]:
    """Read and validate the statistics tables named in ``layers/economy.yaml``.

    Parameters
    ----------
    layers_dir
        The configuration folder (table paths are relative to it).
    eco : EconomySection
        The economy configuration.

    Returns
    -------
    (Tables or None, list of str)
        The tables, and every problem found (an empty list when they are valid).
    """
    paths = {k: layers_dir / getattr(eco.tables, k) for k in ("regional", "trade", "exchange_rates")}
    src_path = paths["regional"].parent / "sources.csv"
    problems = [f"{p}: not found (copy it from the data pack's stats/ folder with its sources)"
                for p in [*paths.values(), src_path] if not p.is_file()]
    if problems:
        return None, problems
    frames = {}
    for key, path in [*paths.items(), ("sources", src_path)]:
        try:
            frames[key] = pd.read_csv(path, keep_default_na=False, na_values=["", "NaN", "nan", "NA"])
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            problems.append(f"{path}: not a readable CSV table ({str(exc).splitlines()[0]})")
    if problems:
        return None, problems
    sources = set(frames["sources"].get("source", pd.Series(dtype=str)).astype(str))
    s_regional, s_trade, s_rates = _schemas(sources)
    regional, p1 = _validate(s_regional, frames["regional"], paths["regional"])
    trade, p2 = _validate(s_trade, frames["trade"], paths["trade"])
    rates, p3 = _validate(s_rates, frames["exchange_rates"], paths["exchange_rates"])
    problems = p1 + p2 + p3
    if not p1:
        problems += _missing_totals(regional, eco.totals_required, paths["regional"])
    if not p3:
        have = set(rates["currency"]) | {"KZT"}
        need = {c for c in eco.currency_of.values() if c != "KGS"} - have
        problems += [f"{paths['exchange_rates']}: no rate for {c} (needed by economy.currency_of)" for c in sorted(need)]
    return (None if problems else Tables(regional, trade, rates, frames["sources"])), problems


def _missing_totals(regional: pd.DataFrame, countries: list[str], path: Path) -> list[str]:
    """A national row for every (indicator, year, reference) that the country's regions have."""
    out = []
    for c in countries:
        mine = regional[regional["country"] == c]
        keys = ["indicator", "year", "reference"]
        have = set(map(tuple, mine.loc[mine["region_code"] == c, keys].itertuples(index=False)))
        need = set(map(tuple, mine.loc[mine["region_code"] != c, keys].itertuples(index=False)))
        for ind, year, ref in sorted(need - have):
            out.append(f"{path}: no national total (region_code {c}) for {ind} {year} ({ref})")
    return out


def unknown_codes(regional: pd.DataFrame, known: set[str], eco, path: Path) -> list[str]:
    """Region codes of the table that are neither polygons, parts of the crosswalk, declared extra codes
    nor national rows.

    Parameters
    ----------
    regional
        The validated regional table.
    known
        ISO 3166-2 codes of the region layers (every vintage).
    eco : EconomySection
        Crosswalk and extra codes.
    path
        The table, for the message.

    Returns
    -------
    list of str
    """
    allowed = known | set(eco.extra_codes) | {p for ps in eco.crosswalk.values() for p in ps} \
        | set(regional["country"])
    bad = regional.loc[~regional["region_code"].isin(allowed), ["region_code", "region_name"]].drop_duplicates()
    return [f"{path}: region_code {c} ({n}) is not a region of the data, a part in economy.crosswalk or an "
            "economy.extra_codes entry" for c, n in bad.itertuples(index=False)]


def load_tables(layers_dir: Path, eco, known_codes: set[str] | None = None) -> Tables:
    """Read and validate the tables; raise one :class:`DataError` listing every problem.

    Parameters
    ----------
    layers_dir
        The configuration folder.
    eco : EconomySection
        The economy configuration.
    known_codes
        ISO 3166-2 codes of the region layers; when given, unknown region codes are errors too.

    Returns
    -------
    Tables
    """
    tables, problems = read_tables(Path(layers_dir), eco)
    if tables is not None and known_codes is not None:
        problems += unknown_codes(tables.regional, known_codes, eco, Path(layers_dir) / eco.tables.regional)
    if problems:
        raise DataError(f"{len(problems)} problem(s) in the statistics tables:\n" + "\n".join(
            "  " + p for p in problems))
    return tables  # type: ignore[return-value]


# --- joining to regions -----------------------------------------------------------------------------

def series(regional: pd.DataFrame, eco) -> pd.DataFrame:
    """One value per (country, code, indicator, year): population at each country's reference, flows
    per calendar year; January–June rows keep their own ``period``.

    Returns
    -------
    DataFrame
        country, code, indicator, year, period ('year' or 'jan_jun'), value, unit.
    """
    d = regional.copy()
    ref = d["country"].map(eco.population_reference)
    pop = d["indicator"] == "population"
    keep = ~pop | (d["reference"] == ref)
    d = d[keep]
    d["period"] = np.where(d["reference"] == "jan_jun", "jan_jun", "year")
    return d.rename(columns={"region_code": "code"})[["country", "code", "indicator", "year", "period",
                                                      "value", "unit"]]


def region_parts(units: pd.DataFrame, eco, vintage: str) -> pd.DataFrame:
    """Which statistical codes make up each region of a vintage.

    Parameters
    ----------
    units
        Regions of the vintage: ``region_id``, ``iso_3166_2``, ``country``.
    eco : EconomySection
        Crosswalk and Tyumen option.
    vintage
        ``naturalearth`` (crosswalk applies) or a later vintage (codes as they are).

    Returns
    -------
    DataFrame
        region_id, code (one row per part), group (the crosswalk key the part belongs to, or its own code).
    """
    rows = []
    for rid, iso in zip(units["region_id"], units["iso_3166_2"]):
        if iso == eco.tyumen_code and eco.tyumen_with_okrugs:
            parts = [eco.tyumen_total_code]
        elif vintage == "naturalearth" and iso in eco.crosswalk:
            parts = eco.crosswalk[iso]
        else:
            parts = [iso]
        rows += [{"region_id": rid, "code": p} for p in parts]
    out = pd.DataFrame(rows, columns=["region_id", "code"])
    group_of = {p: k for k, ps in eco.crosswalk.items() for p in ps}
    out["group"] = out["code"].map(group_of).fillna(out["code"])
    return out


def region_values(units: pd.DataFrame, values: pd.DataFrame, eco, vintage: str) -> pd.DataFrame:
    """Each region's value of every indicator and year (sums over its parts).

    A region gets no value where a part is missing, except in the Natural Earth vintage, where a
    missing part of a crosswalk group is inside another part that year (the group's total is still
    complete). In a later vintage, when a group is incomplete that year, every member of it has none.
    Rates are not summed: a region of several parts gets none.

    Parameters
    ----------
    units
        Regions of the vintage (``region_id``, ``iso_3166_2``, ``country``).
    values
        :func:`series` of the regional table.
    eco : EconomySection
        Crosswalk and Tyumen option.
    vintage
        The vintage's name.

    Returns
    -------
    DataFrame
        region_id, indicator, year, period, value, unit.
    """
    parts = region_parts(units, eco, vintage)
    n_parts = parts.groupby("region_id")["code"].size()
    merged = parts.merge(values, on="code", how="inner")
    keys = ["region_id", "indicator", "year", "period"]
    agg = merged.groupby(keys).agg(value=("value", "sum"), unit=("unit", "first"), found=("code", "size"))
    agg = agg.reset_index()
    complete = agg["found"] == agg["region_id"].map(n_parts)
    gkey = agg["region_id"].map(parts.drop_duplicates("region_id").set_index("region_id")["group"])
    if vintage == "naturalearth":
        # A crosswalk group reported by fewer units that year: the others were inside them. Complete.
        complete |= gkey.isin(eco.crosswalk) & (agg["found"] >= 1)
    else:
        # Group members of a later vintage: when some member has no figure that year, the others'
        # figures still include it (e.g. East Kazakhstan's GRP included Abay before 2021): none.
        groups = parts.merge(values[["code", "indicator", "year", "period"]], on="code")
        reported = groups.groupby(["group", "indicator", "year", "period"])["code"].nunique()
        size = parts.groupby("group")["code"].nunique()
        idx = pd.MultiIndex.from_arrays([gkey, agg["indicator"], agg["year"], agg["period"]])
        complete &= reported.reindex(idx).to_numpy() == gkey.map(size).to_numpy()
    rate_multi = agg["indicator"].isin(RATES) & (agg["region_id"].map(n_parts) > 1)
    return agg.loc[complete & ~rate_multi, ["region_id", "indicator", "year", "period", "value", "unit"]] \
        .reset_index(drop=True)


def usd_per_unit(rates: pd.DataFrame) -> pd.DataFrame:
    """USD per unit of each currency and year, from KZT per unit (cross rates through KZT).

    Returns
    -------
    DataFrame
        year, currency, usd_per_unit (KZT included; KGS absent: the pack has no rate for it).
    """
    kzt_usd = rates[rates["currency"] == "USD"].set_index("year")["kzt_per_unit"]
    out = rates.assign(usd_per_unit=rates["kzt_per_unit"] / rates["year"].map(kzt_usd))
    kzt = pd.DataFrame({"year": kzt_usd.index, "currency": "KZT", "usd_per_unit": 1.0 / kzt_usd.to_numpy()})
    return pd.concat([out[["year", "currency", "usd_per_unit"]], kzt], ignore_index=True)


def long_values(units: pd.DataFrame, tables, eco, vintage: str) -> pd.DataFrame:
    """Region values of one vintage (long), with GRP converted to USD.

    Parameters
    ----------
    units
        Regions of the vintage (``region_id``, ``iso_3166_2``, ``country``).
    tables : statistics.Tables
        The validated tables.
    eco : EconomySection
        Crosswalk, Tyumen option, currencies.
    vintage
        The vintage's name.

    Returns
    -------
    DataFrame
        region_id, indicator, year, period, value (``grp_usd`` rows added, million USD).
    """
    return with_grp_usd(region_values(units, series(tables.regional, eco), eco, vintage), tables.rates)


def national_values(tables, eco) -> pd.DataFrame:
    """National rows (long) with GRP in USD: country, indicator, year, period, value."""
    s = series(tables.regional, eco)
    return with_grp_usd(s[s["code"] == s["country"]].drop(columns="code"), tables.rates)


def with_grp_usd(values: pd.DataFrame, rates: pd.DataFrame) -> pd.DataFrame:
    """``values`` (long, with ``indicator``, ``year``, ``value``, ``unit``) plus ``grp_usd`` rows: each GRP in
    million USD at the NBK annual rate of its currency (no row where the pack has no rate, e.g. KGS)."""
    grp = values[values["indicator"] == "grp"].assign(currency=lambda d: d["unit"].str.replace("million ", ""))
    grp = grp.merge(usd_per_unit(rates), on=["year", "currency"], how="inner")
    grp = grp.assign(indicator="grp_usd", value=grp["value"] * grp["usd_per_unit"], unit="million USD")
    return pd.concat([values, grp[values.columns]], ignore_index=True)
