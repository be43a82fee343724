"""Stage 5a, economy: official statistics joined to the regions, the economy of the border regions, the
paper's economic claims, export potential and trade with the neighbours.

Reads ``layers/economy.yaml`` and its tables (``layers/stats/``, see :mod:`pipeline.statistics`), the
regions of both vintages (``stages/ingest.gpkg``), the border regions and their belt shares
(``stages/border_regions.gpkg``), the border segments (``stages/borders.gpkg``) and the crossings
(``stages/crossings.gpkg``, when the network stages ran). Writes ``economy.gpkg`` (EPSG:4326):
  * ``region_stats``: region polygons of both vintages × year: ``population`` (persons; Kazakhstan
    mean of the year, Russia 1 January), ``grp_lcu_mn`` (million of ``currency``, current prices),
    ``grp_usd_mn`` (million USD at the NBK annual rate), ``grp_per_capita_usd``, shares of the
    national totals (%), ``grp_per_capita_index`` (national = 100), changes since the base year (%),
    exports (million USD; 2024 and ``exports_jan_jun_usd_mn`` for January–June 2025) with their
    HS-section shares, industry, investment, employment, location quotients, net migration rate;
  * ``border_economy``: segment × side × vintage × year × ``zone`` ('border': the regions bordering
    the segment, whole; '100'/'150': the regions in the belt, weighted by their area share in it):
    population, GRP (USD and local currency), shares of the national totals, GRP per capita index;
  * ``trade_by_neighbour``: the focus country's neighbours (land and across the Caspian) × year:
    exports, imports, turnover, balance (million USD), share of the focus country's exports, per km of
    shared border and per border crossing, change since the base year;
  * ``claims`` (no geometry): the paper's claims beside the computed figures, per year and definition.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .statistics import HS_SECTIONS, load_tables, long_values, national_values

log = logging.getLogger("pipeline")

DESCRIPTIONS = {
    "region_stats": "Official statistics per region (both vintages) and year: population (persons), GRP "
                    "(million local currency and million USD, NBK rates), shares of the national totals (%), "
                    "GRP per capita index (national = 100), exports 2024 (million USD), industry, investment. "
                    "Sources: BNS, Rosstat, NSC Kyrgyzstan, NBS China (layers/stats/README.md).",
    "border_economy": "Economy of the border regions per border segment, side, vintage and year; zone "
                      "'border' = regions bordering the segment (whole), '100'/'150' = regions in the belt "
                      "weighted by their area share in it.",
    "trade_by_neighbour": "The focus country's goods trade with each neighbour per year (million USD; "
                          "BNS, WITS): exports, imports, turnover, balance, share of exports, per km of border "
                          "and per crossing.",
    "claims": "The paper's economic claims beside the figures computed from official statistics.",
    "national_totals": "National rows of the statistics tables (GRP also in USD), as the shares use them.",
    "trade_by_partner": "The focus country's goods trade with every partner of the table per year (million "
                        "USD) and the partner groups of layers/economy.yaml it belongs to.",
}


# --- values per region ------------------------------------------------------------------------------

def _wide(long: pd.DataFrame, index: list[str]) -> pd.DataFrame:
    w = long[long["period"] == "year"].pivot_table(index=index, columns="indicator", values="value",
                                                   aggfunc="first")
    w.columns.name = None
    h1 = long[(long["period"] == "jan_jun") & (long["indicator"] == "exports")]
    if len(h1):
        w = w.join(h1.set_index(index)["value"].rename("exports_jan_jun"), how="outer")
    return w.reset_index()


def region_table(units: gpd.GeoDataFrame, long: pd.DataFrame, national: pd.DataFrame, eco,
                 borders: pd.Series | None = None) -> gpd.GeoDataFrame:
    """``region_stats`` of one vintage: one feature per region and year with every indicator.

    Parameters
    ----------
    units
        Regions of the vintage (polygons, ``region_id``, ``iso_3166_2``, ``name_en``, ``country``, ``vintage``).
    long
        :func:`statistics.long_values` of the vintage.
    national
        :func:`statistics.national_values`.
    eco : EconomySection
        Currencies, base year.
    borders
        region_id → the border segments it borders (comma-separated), for the ``borders`` column.

    Returns
    -------
    GeoDataFrame
    """
    w = _wide(long, ["region_id", "year"])
    nat = _wide(national.rename(columns={"country": "region_id"}), ["region_id", "year"]) \
        .rename(columns={"region_id": "country"})
    u = units[["vintage", "region_id", "iso_3166_2", "name_en", "country", "geometry"]]
    t = u.merge(w, on="region_id", how="inner").merge(nat, on=["country", "year"], how="left",
                                                       suffixes=("", "_national"))
    col = lambda name: t[name] if name in t else pd.Series(np.nan, index=t.index)  # noqa: E731
    out = pd.DataFrame({"vintage": t["vintage"], "region_id": t["region_id"], "iso_3166_2": t["iso_3166_2"],
                        "name_en": t["name_en"], "country": t["country"], "year": t["year"].astype(int)})
    tyumen = (t["iso_3166_2"] == eco.tyumen_code) & eco.tyumen_with_okrugs
    out.loc[tyumen, "name_en"] = out.loc[tyumen, "name_en"] + " (with its okrugs)"
    out["borders"] = t["region_id"].map(borders).fillna("") if borders is not None else ""
    out["population"] = col("population")
    out["currency"] = t["country"].map(eco.currency_of)
    out["grp_lcu_mn"] = col("grp")
    out["grp_usd_mn"] = col("grp_usd")
    out["grp_per_capita_usd"] = out["grp_usd_mn"] * 1e6 / out["population"]
    out["population_share_pct"] = 100 * out["population"] / col("population_national")
    out["grp_share_pct"] = 100 * out["grp_lcu_mn"] / col("grp_national")
    out["grp_per_capita_index"] = 100 * (out["grp_lcu_mn"] / out["population"]) / (
        col("grp_national") / col("population_national"))
    out["exports_usd_mn"] = col("exports")
    out["exports_jan_jun_usd_mn"] = col("exports_jan_jun")
    out["exports_per_capita_usd"] = out["exports_usd_mn"] * 1e6 / out["population"]
    out["exports_share_of_grp_pct"] = 100 * out["exports_usd_mn"] / out["grp_usd_mn"]
    out["exports_share_national_pct"] = 100 * out["exports_usd_mn"] / col("exports_national")
    for sec in HS_SECTIONS:
        out[f"exports_hs_{sec}_pct"] = 100 * col(f"exports_hs_section_{sec}") / out["exports_usd_mn"]
    out["industrial_output_kzt_mn"] = col("industrial_output")
    out["industrial_output_per_capita_kzt"] = out["industrial_output_kzt_mn"] * 1e6 / out["population"]
    out["investment_kzt_mn"] = col("investment_fixed_capital")
    out["investment_per_capita_kzt"] = out["investment_kzt_mn"] * 1e6 / out["population"]
    out["mining_output_kzt_mn"] = col("gross_output_mining")
    out["manufacturing_output_kzt_mn"] = col("gross_output_manufacturing")
    for kind in ("mining", "manufacturing"):
        # Location quotient: the sector's output per unit of GRP, against the national ratio.
        out[f"lq_{kind}"] = (col(f"gross_output_{kind}") / out["grp_lcu_mn"]) / (
            col(f"gross_output_{kind}_national") / col("grp_national"))
    out["employment"] = col("employment")
    out["net_migration_rate"] = col("net_migration_rate")
    base = out[out["year"] == eco.base_year].set_index("region_id")
    for name, what in (("population_change_pct", "population"), ("grp_usd_change_pct", "grp_usd_mn")):
        out[name] = 100 * (out[what] / out["region_id"].map(base[what]) - 1)
    out = out.replace([np.inf, -np.inf], np.nan)
    return gpd.GeoDataFrame(out.assign(geometry=t["geometry"].values), geometry="geometry", crs=units.crs)


# --- border regions ---------------------------------------------------------------------------------

def border_sums(br: pd.DataFrame, stats: pd.DataFrame, national: pd.DataFrame, distances: tuple[float, ...]
                ) -> pd.DataFrame:
    """Population and GRP of the regions along each segment (whole) and in each belt (area-weighted).

    Parameters
    ----------
    br
        The border_regions layer (vintage, segment_id, side, country, region_id, borders,
        ``zone<d>_share``).
    stats
        ``region_stats`` of both vintages (region_id, vintage, year, population, grp_lcu_mn, grp_usd_mn).
    national
        :func:`statistics.national_values`.
    distances
        Belt distances (km).

    Returns
    -------
    DataFrame
        segment_id, side, country, vintage, year, zone, regions, regions_with_data, population,
        grp_lcu_mn, grp_usd_mn, population_share_pct, grp_share_pct, grp_per_capita_index. A sum with
        a region lacking data that year is left empty (NaN).
    """
    weights = [br.assign(zone="border", w=br["borders"].astype(float))]
    weights += [br.assign(zone=f"{d:g}", w=br[f"zone{d:g}_share"].astype(float)) for d in distances]
    w = pd.concat(weights, ignore_index=True)
    w = w[w["w"] > 0][["segment_id", "side", "country", "vintage", "region_id", "zone", "w"]]
    m = w.merge(stats[["vintage", "region_id", "year", "population", "grp_lcu_mn", "grp_usd_mn"]],
                on=["vintage", "region_id"], how="left")
    keys = ["segment_id", "side", "country", "vintage", "zone"]
    n = w.groupby(keys)["region_id"].nunique().rename("regions")
    out = []
    for what in ("population", "grp_lcu_mn", "grp_usd_mn"):
        have = m[m[what].notna()]
        s = have.assign(v=have[what] * have["w"]).groupby([*keys, "year"]).agg(
            **{what: ("v", "sum"), f"n_{what}": ("region_id", "nunique")})
        out.append(s)
    t = pd.concat(out, axis=1).reset_index().merge(n.reset_index(), on=keys)
    for what in ("population", "grp_lcu_mn", "grp_usd_mn"):
        t.loc[t[f"n_{what}"] != t["regions"], what] = np.nan
    t["regions_with_data"] = t[["n_population", "n_grp_lcu_mn"]].min(axis=1).fillna(0).astype(int)
    t = t.drop(columns=[c for c in t.columns if c.startswith("n_")])
    nat = national[national["period"] == "year"].pivot_table(index=["country", "year"], columns="indicator",
                                                             values="value").reset_index()
    t = t.merge(nat[["country", "year", *[c for c in ("population", "grp") if c in nat]]]
                .rename(columns={"population": "nat_pop", "grp": "nat_grp"}), on=["country", "year"], how="left")
    t["population_share_pct"] = 100 * t["population"] / t["nat_pop"]
    t["grp_share_pct"] = 100 * t["grp_lcu_mn"] / t["nat_grp"]
    t["grp_per_capita_index"] = 100 * (t["grp_lcu_mn"] / t["population"]) / (t["nat_grp"] / t["nat_pop"])
    t = t.drop(columns=["nat_pop", "nat_grp"]).replace([np.inf, -np.inf], np.nan)
    return t.sort_values([*keys, "year"]).reset_index(drop=True)


# --- the paper's claims -----------------------------------------------------------------------------

def claim_figures(claims: dict, sums: dict[str, pd.DataFrame], br: pd.DataFrame, segments: pd.DataFrame,
                  stats: pd.DataFrame, national: pd.DataFrame) -> pd.DataFrame:
    """Each claim's computed figure for every year the data allow, per Tyumen definition.

    Parameters
    ----------
    claims
        Claim name → :class:`~pipeline.config.economy.Claim`.
    sums
        Tyumen definition ('with okrugs' / 'without okrugs') → :func:`border_sums`.
    br
        The border_regions layer (which regions border which segment).
    segments
        Border segments (segment_id, segment_type, neighbour).
    stats
        region_stats (for exports; Tyumen plays no part in them).
    national
        :func:`statistics.national_values`.

    Returns
    -------
    DataFrame
        claim, text, paper, unit, comparison, vintage, tyumen, year, computed, difference_pct, reproduced.
    """
    rows = []
    for name, c in claims.items():
        seg = segments.loc[(segments["segment_type"] == "land") & (segments["neighbour"] == c.neighbour),
                           "segment_id"]
        if c.indicator == "exports_share":
            ids = set(br.loc[(br["vintage"] == c.vintage) & br["borders"] & br["segment_id"].isin(seg)
                             & br["country"].isin(c.countries), "region_id"])
            st = stats[(stats["vintage"] == c.vintage) & stats["region_id"].isin(ids)]
            nat = national[(national["indicator"] == "exports") & (national["period"] == "year")
                           & national["country"].isin(c.countries)].set_index("year")["value"]
            for year, g in st.groupby("year"):
                if year in nat.index and len(g) == len(ids) and g["exports_usd_mn"].notna().all():
                    value = float(100 * g["exports_usd_mn"].sum() / nat[year])
                    rows.append(_claim_row(name, c, f"{len(ids)} regions", int(year), value))
            continue
        for tyumen, s in sums.items():
            if tyumen != "with okrugs" and "RUS" not in c.countries:
                continue  # Tyumen plays no part
            mine = s[s["segment_id"].isin(seg) & (s["zone"] == "border") & (s["vintage"] == c.vintage)
                     & s["country"].isin(c.countries)]
            for year, g in mine.groupby("year"):
                if set(g["country"]) != set(c.countries):
                    continue  # one side has no figure that year
                if c.indicator == "population":
                    value = g["population"].sum(min_count=len(g))
                elif c.indicator == "grp_usd":
                    value = g["grp_usd_mn"].sum(min_count=len(g)) / 1000  # bn USD
                else:
                    value = g["grp_share_pct"].iloc[0] if len(g) == 1 else np.nan
                if np.isfinite(value):
                    label = tyumen if "RUS" in c.countries else "n/a"
                    rows.append(_claim_row(name, c, label, int(year), float(value)))
    return pd.DataFrame(rows, columns=["claim", "text", "paper", "unit", "comparison", "vintage", "tyumen",
                                       "year", "computed", "difference_pct", "reproduced"])


def _claim_row(name: str, c, tyumen: str, year: int, value: float) -> dict:
    diff = 100 * (value / c.figure - 1)
    ok = value > c.figure if c.comparison == "more_than" else abs(diff) <= c.tolerance_pct
    return {"claim": name, "text": c.text, "paper": c.figure, "unit": c.unit, "comparison": c.comparison,
            "vintage": c.vintage, "tyumen": tyumen, "year": year, "computed": value, "difference_pct": diff,
            "reproduced": bool(ok)}


# --- trade --------------------------------------------------------------------------------------------

def trade_table(trade: pd.DataFrame, national: pd.DataFrame, focus: str, base_year: int) -> pd.DataFrame:
    """Trade per partner and year: exports, imports, turnover, balance (million USD), share of the focus
    country's total exports (where the regional table has the total), change of turnover since the base year.

    Returns
    -------
    DataFrame
    """
    t = trade.rename(columns={"iso3": "partner", "exports_mln_usd": "exports_usd_mn",
                              "imports_mln_usd": "imports_usd_mn"}).copy()
    t["turnover_usd_mn"] = t["exports_usd_mn"] + t["imports_usd_mn"]
    t["balance_usd_mn"] = t["exports_usd_mn"] - t["imports_usd_mn"]
    total = national[(national["country"] == focus) & (national["indicator"] == "exports")
                     & (national["period"] == "year")].set_index("year")["value"]
    t["share_of_exports_pct"] = 100 * t["exports_usd_mn"] / t["year"].map(total)
    base = t[t["year"] == base_year].set_index("partner")["turnover_usd_mn"]
    t["turnover_change_pct"] = 100 * (t["turnover_usd_mn"] / t["partner"].map(base) - 1)
    return t.sort_values(["partner", "year"]).reset_index(drop=True)


def trade_groups(t: pd.DataFrame, groups: dict[str, list[str]]) -> pd.DataFrame:
    """Exports, imports and turnover of each partner group per year (partners of the table only)."""
    rows = []
    for g, members in groups.items():
        sub = t[t["partner"].isin(members)]
        for year, y in sub.groupby("year"):
            rows.append({"group": g, "year": int(year), "partners": ", ".join(sorted(y["partner"])),
                         "exports_usd_mn": y["exports_usd_mn"].sum(), "imports_usd_mn": y["imports_usd_mn"].sum(),
                         "turnover_usd_mn": y["turnover_usd_mn"].sum(),
                         "share_of_exports_pct": y["share_of_exports_pct"].sum(min_count=len(y))})
    return pd.DataFrame(rows)


def neighbour_trade(countries: gpd.GeoDataFrame, segments: pd.DataFrame, crossings: pd.DataFrame | None,
                    t: pd.DataFrame, focus: str) -> gpd.GeoDataFrame:
    """``trade_by_neighbour``: every land neighbour and Caspian riparian × year, with border km and
    crossings. Neighbours missing from the trade table are kept with empty figures (``in_table`` false).

    Returns
    -------
    GeoDataFrame (EPSG:4326)
    """
    land = segments[segments["segment_type"] == "land"].set_index("neighbour")["length_km"]
    sea = {c for n in segments.loc[segments["segment_type"] == "maritime", "neighbour"] for c in n.split(",")}
    sea -= {focus} | set(land.index)
    n_cross = crossings.groupby("neighbour").size() if crossings is not None else pd.Series(dtype=int)
    neighbours = [*land.index, *sorted(sea)]
    years = sorted(t["year"].unique())
    base = countries.set_index("country").loc[[c for c in neighbours if c in set(countries["country"])]]
    rows = []
    for c in base.index:
        for year in years:
            r = t[(t["partner"] == c) & (t["year"] == year)]
            row = {"country": c, "name": base.loc[c, "name"], "border": "land" if c in land.index else "Caspian",
                   "year": int(year), "in_table": bool(len(r)), "border_km": float(land.get(c, np.nan)),
                   "crossings": int(n_cross.get(c, 0)), "geometry": base.loc[c, "geometry"]}
            for col in ("exports_usd_mn", "imports_usd_mn", "turnover_usd_mn", "balance_usd_mn",
                        "share_of_exports_pct", "turnover_change_pct"):
                row[col] = float(r[col].iloc[0]) if len(r) else np.nan
            rows.append(row)
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=countries.crs)
    out["turnover_per_border_km_usd_mn"] = out["turnover_usd_mn"] / out["border_km"]
    out["turnover_per_crossing_usd_mn"] = out["turnover_usd_mn"] / out["crossings"].where(out["crossings"] > 0)
    return out


# --- growth poles by the paper's definition -----------------------------------------------------------

def pole_indicators(stats: pd.DataFrame, vintage: str, year: int, base_year: int) -> pd.DataFrame:
    """Per region of the focus vintage: the indicators of a propulsive, export-linked pole and ranks.

    Returns
    -------
    DataFrame
        name_en, iso_3166_2, grp_per_capita_usd, grp growth (nominal KZT, %), industrial output and
        investment per capita (KZT), mining share of B+C output (%), location quotients, exports share of
        GRP (%), each with its rank (1 = highest), and ``pole_support`` (how many of the five
        propulsive indicators rank in the top third).
    """
    s = stats[(stats["vintage"] == vintage)]
    cur = s[s["year"] == year].set_index("region_id")
    base = s[s["year"] == base_year].set_index("region_id")
    t = cur[["name_en", "iso_3166_2", "grp_per_capita_usd", "industrial_output_per_capita_kzt",
             "investment_per_capita_kzt", "lq_mining", "lq_manufacturing", "exports_share_of_grp_pct"]].copy()
    t["grp_growth_pct"] = 100 * (cur["grp_lcu_mn"] / base["grp_lcu_mn"].reindex(cur.index) - 1)
    b_c = cur["mining_output_kzt_mn"] + cur["manufacturing_output_kzt_mn"]
    t["mining_share_pct"] = 100 * cur["mining_output_kzt_mn"] / b_c
    ranked = ["grp_per_capita_usd", "industrial_output_per_capita_kzt", "investment_per_capita_kzt",
              "exports_share_of_grp_pct", "grp_growth_pct"]
    third = len(t) / 3
    t["pole_support"] = 0
    for col in ranked:
        r = t[col].rank(ascending=False, method="min")
        t[f"rank_{col}"] = r
        t["pole_support"] += (r <= third).astype(int)
    return t.sort_values(["pole_support", "grp_per_capita_usd"], ascending=False).reset_index()


# --- stage I/O ----------------------------------------------------------------------------------------

def run(cfg, stages, out: Path) -> None:
    """Join the statistics to the regions and write ``economy.gpkg``.

    Parameters
    ----------
    cfg : Config
        The run's configuration (``layers/economy.yaml`` is read).
    stages : Paths
        Stage files: ``ingest``, ``borders``, ``border_regions``, ``crossings`` (optional).
    out : Path
        ``economy.gpkg``: ``region_stats``, ``border_economy``, ``trade_by_neighbour``, ``claims``.
    """
    from .config import load_economy
    from .io import read_layer
    from .outputs import write_stage

    eco = load_economy(cfg.layers_dir)
    vintages = {"naturalearth": read_layer(stages.ingest, "regions")}
    vintages |= {v: read_layer(stages.ingest, f"regions_{v}") for v in cfg.vintages}
    known = {c for g in vintages.values() for c in g["iso_3166_2"]}
    tables = load_tables(cfg.layers_dir, eco, known)
    national = national_values(tables, eco)
    br = read_layer(stages.border_regions, "border_regions")
    segments = read_layer(stages.borders, "border_segments")
    stats, sums = {}, {}
    along = {v: br[(br["vintage"] == v) & br["borders"]].groupby("region_id")["segment_id"]
             .agg(lambda s: ",".join(sorted(set(s)))) for v in vintages}
    for tyumen in ("with okrugs", "without okrugs"):
        e = eco.model_copy(update={"tyumen_with_okrugs": tyumen == "with okrugs"})
        frames = [region_table(g, long_values(g, tables, e, v), national, e, along[v]) for v, g in vintages.items()]
        stats[tyumen] = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=cfg.output_crs)
        sums[tyumen] = border_sums(br, stats[tyumen], national, cfg.distances_km)
    chosen = "with okrugs" if eco.tyumen_with_okrugs else "without okrugs"
    # Belts are weighted by the area of the polygon: Tyumen without its okrugs (their people are not there).
    belts = sums["without okrugs"][sums["without okrugs"]["zone"] != "border"]
    border = pd.concat([sums[chosen][sums[chosen]["zone"] == "border"], belts], ignore_index=True)
    seg_geom = segments.set_index("segment_id")
    border = gpd.GeoDataFrame(border.assign(neighbour=border["segment_id"].map(seg_geom["neighbour"]),
                                            tyumen=np.where(border["zone"] == "border", chosen, "without okrugs")),
                              geometry=border["segment_id"].map(seg_geom.geometry).values, crs=segments.crs)
    claims = claim_figures(eco.claims, sums, br, segments, stats["with okrugs"], national)
    crossings = read_layer(stages.crossings, "crossings") if stages.crossings.is_file() else None
    t = trade_table(tables.trade, national, cfg.focus_country, eco.base_year)
    t["groups"] = t["partner"].map(lambda c: ",".join(g for g, m in eco.partner_groups.items() if c in m))
    stats[chosen]["pole"] = _poles_in(stats[chosen], cfg)
    trade = neighbour_trade(read_layer(stages.ingest, "countries"), segments, crossings, t, cfg.focus_country)
    write_stage(cfg, out, {"region_stats": stats[chosen], "border_economy": border, "trade_by_neighbour": trade,
                           "claims": _table_layer(claims),
                           "national_totals": _table_layer(national),
                           "trade_by_partner": _table_layer(t)},
                DESCRIPTIONS)


def _poles_in(stats: gpd.GeoDataFrame, cfg) -> pd.Series:
    """Names of the growth poles of ``layers/poles.yaml`` inside each region (comma-separated)."""
    from .poles import load_poles

    poles = load_poles(cfg.layers_dir, cfg.bbox)
    regions = stats.drop_duplicates(["vintage", "region_id"])[["vintage", "region_id", "geometry"]]
    hit = gpd.sjoin(poles[["name", "geometry"]], regions, predicate="within")
    names = hit.groupby(["vintage", "region_id"])["name"].agg(lambda s: ",".join(sorted(s)))
    return pd.Series([names.get((v, r), "") for v, r in zip(stats["vintage"], stats["region_id"])],
                     index=stats.index)


def _table_layer(frame: pd.DataFrame) -> pd.DataFrame:
    """A table without geometry, stored as a GeoPackage attribute table (QGIS opens it as a table)."""
    return pd.DataFrame(frame).reset_index(drop=True)


def report_section(cfg, economy_gpkg: Path) -> str:
    """The report's "Economy of the border regions" section, from ``economy.gpkg`` and the tables.

    Parameters
    ----------
    cfg : Config
        The run's configuration.
    economy_gpkg
        The economy stage's output.

    Returns
    -------
    str
        Markdown.
    """
    from .economy_report import render

    return render(cfg, economy_gpkg)
