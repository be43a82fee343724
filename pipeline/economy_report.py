"""The report's section "Economy of the border regions", rendered from ``economy.gpkg``.

Every figure carries its year, unit and source; where the paper gives a figure, the computed one
stands beside it with the reason for any difference. Missing statistics are named, never filled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio

from .statistics import HS_SECTIONS


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _n(x: float, digits: int = 0) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:,.{digits}f}"


def _read(path: Path, layer: str) -> pd.DataFrame:
    return pyogrio.read_dataframe(path, layer=layer, read_geometry=False)


WHY = {
    "people": "The Natural Earth polygon of Tyumen is the oblast without its autonomous okrugs "
              "(Khanty-Mansi, Yamalo-Nenets, north of the study area); the paper's total needs them. The two "
              "Russian population series (2020 and 2022 estimates, 2023 after the 2021 census) are not chained",
    "grp": "Tyumen's okrugs hold most of its oil and gas GRP; GRP in current prices and USD moves with oil "
           "prices and the rouble (2020 was the pandemic year)",
    "kaz_share": "Nominal shares move with commodity prices: the border regions include the oil regions "
                 "(Atyrau, West Kazakhstan, Aktobe), and the share falls as Astana and Almaty grow",
    "rus_share": "The Russian total is the sum of the subjects' GRP (Rosstat's RUS row), not GDP",
    "exports_along_russia": "The 2024 vintage's regions along Russia, BNS customs statistics",
}


def render(cfg, path: Path) -> str:
    """The Markdown section.

    Parameters
    ----------
    cfg : Config
        The run's configuration (``layers/economy.yaml`` is read for the headline and base years).
    path
        ``economy.gpkg``.

    Returns
    -------
    str
    """
    from .config import load_economy

    eco = load_economy(cfg.layers_dir)
    claims = _read(path, "claims")
    border = _read(path, "border_economy")
    stats = _read(path, "region_stats")
    trade = _read(path, "trade_by_neighbour")
    national = _read(path, "national_totals")
    out = ["## Economy of the border regions", "",
           "Official statistics (`layers/stats/`, sources in `layers/stats/README.md`): population — BNS mean "
           "population of the year (Kazakhstan), Rosstat population on 1 January (Russia); GRP in current prices "
           "(BNS, Rosstat, NSC Kyrgyzstan, NBS China) converted to USD at the NBK annual mean rates (RUB and "
           "CNY through KZT). Natural Earth's older Kazakh units are sums of the 2024 units "
           "(`economy.crosswalk`). Computed in `outputs/economy.gpkg`.", ""]

    # The paper's claims.
    out += ["### The paper's claims", ""]
    rows = []
    for _, c in claims.sort_values(["claim", "tyumen", "year"]).iterrows():
        rows.append([c["text"], f"{_n(c['paper'])} {c['unit']}",
                     f"{_n(c['computed'], 1 if c['unit'] != 'persons' else 0)} {c['unit']}",
                     int(c["year"]), c["vintage"], c["tyumen"], f"{c['difference_pct']:+.1f} %",
                     "yes" if c["reproduced"] else "no"])
    out += [_table(["claim", "paper", "computed", "year", "regions", "Tyumen", "difference", "reproduced"],
                   rows), ""]
    for name, g in claims.groupby("claim", sort=False):
        yes = g[g["reproduced"]]
        label = (lambda r: f"{int(r.year)} ({r.tyumen})") if g["tyumen"].str.contains("okrugs").any() \
            else (lambda r: f"{int(r.year)}")
        verdict = f"reproduced in {', '.join(label(r) for r in yes.itertuples())}" if len(yes) else "not reproduced"
        lo, hi = g["computed"].min(), g["computed"].max()
        paper = g["paper"].iloc[0]
        where = "within" if lo <= paper <= hi else ("above" if paper > hi else "below")
        unit = g["unit"].iloc[0]
        span = "" if len(g) == 1 else (f" Computed {lo:,.1f}–{hi:,.1f} {unit} over the years and definitions; the "
                                       f"paper's {paper:,.0f} {unit} is {where} that range.")
        out.append(f"- **{name}**: {verdict}.{span} {WHY.get(name, '')}.")
    out.append("")

    # Border regions per segment and side.
    y = eco.headline_year
    b = border[(border["zone"] == "border") & (border["year"] == y)]
    out += [f"### Border regions per border, {y}", "",
            "Regions bordering each segment, whole (Tyumen "
            f"{'with' if eco.tyumen_with_okrugs else 'without'} its okrugs). Population in persons, GRP in "
            f"billion USD (current prices), shares of the national totals; per-capita index: national = 100. "
            "Russian population is not published for 1 January 2021 in the pack (– where a figure is missing).", ""]
    rows = [[r.segment_id, r.side, r.country, r.vintage, int(r.regions), _n(r.population), _n(r.grp_usd_mn / 1000, 1),
             _n(r.population_share_pct, 1), _n(r.grp_share_pct, 1), _n(r.grp_per_capita_index)]
            for r in b.itertuples()]
    out += [_table(["segment", "side", "country", "vintage", "regions", "population", "GRP bn USD",
                    "% of national population", "% of national GRP", "GRP per capita index"], rows), ""]
    # Changes since the base year.
    k = border[(border["zone"] == "border") & (border["country"] == cfg.focus_country)
               & (border["vintage"] == "naturalearth")]
    first = k[k["year"] == eco.base_year].set_index("segment_id")
    last_year = int(k.loc[k["grp_usd_mn"].notna(), "year"].max()) if len(k) else y
    last = k[k["year"] == last_year].set_index("segment_id")
    rows = [[s, _n(100 * (last.loc[s, "population"] / first.loc[s, "population"] - 1), 1),
             _n(100 * (last.loc[s, "grp_usd_mn"] / first.loc[s, "grp_usd_mn"] - 1), 1),
             _n(first.loc[s, "grp_share_pct"], 1), _n(last.loc[s, "grp_share_pct"], 1)]
            for s in first.index if s in last.index]
    out += [f"Change {eco.base_year}–{last_year}, Kazakh side (regions of the paper's vintage):", "",
            _table(["segment", "population %", "GRP in USD %", f"% of GRP {eco.base_year}",
                    f"% of GRP {last_year}"], rows), ""]
    # Belts.
    belts = border[(border["zone"] != "border") & (border["year"] == y) & (border["vintage"] == "naturalearth")]
    rows = [[r.segment_id, r.side, f"{r.zone} km", _n(r.population), _n(r.grp_usd_mn / 1000, 1)]
            for r in belts.itertuples()]
    out += [f"Regions in the belts, {y}, weighted by the share of their area inside (Tyumen without its okrugs; "
            "the People section gives the same weighted by the population surface):", "",
            _table(["segment", "side", "belt", "population", "GRP bn USD"], rows), ""]

    # Export potential, 2024.
    out += _exports(stats, border, cfg)
    out += _trade(trade, cfg, eco, national)
    out += _groups(_read(path, "trade_by_partner"), eco)
    out += _poles(stats, eco)
    out += _migration(stats, national)
    out += ["### Not in the data", "",
            "- Population by region of Kyrgyzstan, Uzbekistan and Turkmenistan, and of Xinjiang's prefectures: the "
            "neighbour side of those borders has no population, shares or per-capita figures.",
            "- GRP of Uzbekistan and Turkmenistan; no KGS exchange rate in the pack (Kyrgyz GRP stays in KGS).",
            "- Trade by Kazakh region and partner; regional exports before 2024; regional imports; trade with "
            "Azerbaijan and Iran (the Caspian partners) is not in the partner table.",
            "- Kazakh regional migration (only Russia's net migration rate by region is in the pack).", ""]
    return "\n".join(out)


def _exports(stats: pd.DataFrame, border: pd.DataFrame, cfg) -> list[str]:
    s = stats[(stats["vintage"] == "geokz_2024") & (stats["year"] == 2024)].sort_values(
        "exports_usd_mn", ascending=False)
    if s.empty:
        return []
    rows = [[r.name_en, _n(r.exports_usd_mn), _n(r.exports_per_capita_usd), _n(r.exports_share_of_grp_pct, 1),
             _n(r.exports_share_national_pct, 1), _n(r.exports_hs_V_pct, 1), _n(r.exports_hs_XV_pct, 1),
             _n(r.exports_hs_VI_pct, 1), _n(r.exports_hs_II_pct, 1), _n(r.exports_hs_XVI_pct, 1)]
            for r in s.itertuples()]
    head = ["region", "exports M USD", "per capita USD", "% of GRP", "% of national",
            *[f"{HS_SECTIONS[k]} (HS {k}) %" for k in ("V", "XV", "VI", "II", "XVI")]]
    return ["### Export potential, 2024", "",
            "Goods exports by region (BNS customs statistics, million USD, 2024; 2024 regions). Shares of the "
            "region's exports by HS section; per capita on the mean population of 2024.", "",
            _table(head, rows), ""]


def _groups(t: pd.DataFrame, eco) -> list[str]:
    if t.empty:
        return []
    from .economy import trade_groups

    last = int(t["year"].max())
    groups = {**eco.partner_groups, "Turkey": ["TUR"], "all partners of the table": sorted(t["partner"].unique())}
    per = trade_groups(t, groups).set_index(["group", "year"])
    rows = []
    for group, members in groups.items():
        mine = per.loc[group] if group in per.index.get_level_values("group") else per.iloc[:0]
        first, final = mine["turnover_usd_mn"].get(eco.base_year, np.nan), mine["turnover_usd_mn"].get(last, np.nan)
        share = mine["share_of_exports_pct"].get(2024, np.nan)
        present = sorted(set(t.loc[t["partner"].isin(members), "partner"]))
        rows.append([group, ", ".join(present), _n(first), _n(final), _n(100 * (final / first - 1), 0), _n(share, 1)])
    return ["Orientation by partner group (`economy.partner_groups`; Kyrgyzstan is in both the EAEU and Central "
            "Asia). The paper's claim that the economy is oriented towards Russia, China, Central Asia and Europe: "
            "each group's turnover and share of the 2024 exports below; partners outside the table (Belarus, the "
            "Netherlands, …) are not counted.", "",
            _table(["group", "partners in the table", f"turnover {eco.base_year}", f"turnover {last}",
                    "change %", "% of exports 2024"], rows), ""]


def _trade(trade: pd.DataFrame, cfg, eco, national: pd.DataFrame) -> list[str]:
    years = sorted(trade["year"].unique())
    if not years:
        return []
    last = max(years)
    t = trade[trade["year"].isin([eco.base_year, 2024, last])]
    rows = []
    for c, g in t.groupby("country", sort=False):
        g = g.set_index("year")
        r = g.loc[last]
        rows.append([f"{r['name']} ({c})", r["border"], _n(g.loc[eco.base_year, "turnover_usd_mn"]) if eco.base_year in g.index else "–",
                     _n(r["exports_usd_mn"]), _n(r["imports_usd_mn"]), _n(r["turnover_usd_mn"]), _n(r["balance_usd_mn"]),
                     _n(g.loc[2024, "share_of_exports_pct"], 1) if 2024 in g.index else "–",
                     _n(r["turnover_change_pct"], 0), _n(r["border_km"]), int(r["crossings"]),
                     _n(r["turnover_per_border_km_usd_mn"], 2), _n(r["turnover_per_crossing_usd_mn"], 0)])
    return [f"### Trade with the neighbours, {eco.base_year}–{last}", "",
            "Kazakhstan's goods trade by partner (million USD; WITS to 2019, BNS from 2020). Share of exports: of "
            f"Kazakhstan's 2024 goods exports (BNS, {_export_total(national, cfg.focus_country)}; the only year with "
            "the total in the pack). Per km "
            "of the land border of `borders.gpkg` and per crossing of the network (`crossings.gpkg`).", "",
            _table(["neighbour", "border", f"turnover {eco.base_year}", f"exports {last}", f"imports {last}",
                    f"turnover {last}", f"balance {last}", "% of exports 2024", f"turnover change since {eco.base_year} %",
                    "border km", "crossings", "turnover per border km", "turnover per crossing"], rows), ""]


def _export_total(national: pd.DataFrame, focus: str) -> str:
    x = national[(national["country"] == focus) & (national["indicator"] == "exports") & (national["period"] == "year")
                 & (national["year"] == 2024)]["value"]
    return f"{x.iloc[0] / 1000:,.1f} bn USD" if len(x) else "total not in the pack"


def _poles(stats: pd.DataFrame, eco) -> list[str]:
    from .economy import pole_indicators

    year = 2024
    t = pole_indicators(stats, "geokz_2024", year, eco.base_year)
    if t.empty:
        return []
    cur = stats[(stats["vintage"] == "geokz_2024") & (stats["year"] == year)].set_index("region_id")["pole"]
    t["pole"] = t["region_id"].map(cur).fillna("")
    rows = [[r.name_en, r.pole or "–", int(r.pole_support), _n(r.grp_per_capita_usd), _n(r.grp_growth_pct, 0),
             _n(r.industrial_output_per_capita_kzt / 1e3), _n(r.investment_per_capita_kzt / 1e3),
             _n(r.exports_share_of_grp_pct, 0), _n(r.mining_share_pct, 0), _n(r.lq_mining, 2), _n(r.lq_manufacturing, 2)]
            for r in t.itertuples()]
    strong = ", ".join(t.loc[t["pole_support"] >= 3, "name_en"])
    weak = t[(t["pole_support"] <= 1) & (t["pole"] != "")]
    weak_text = ", ".join(f"{p} ({r})" for p, r in zip(weak["pole"], weak["name_en"]))
    return [f"### Growth poles by the paper's definition, {year}", "",
            "Propulsive, export-linked industries rather than size: per region (2024 vintage) GRP per capita, "
            f"nominal GRP growth since {eco.base_year} (KZT; Abay, Zhetysu and Ulytau from 2021: –), industrial "
            "output and investment per capita (thousand KZT), exports as % of GRP, mining's share of mining + "
            "manufacturing gross output and location quotients (sector output per unit of GRP against the "
            "national ratio). *Support* counts the five ranked indicators (GRP per capita, growth, industry, "
            "investment, exports) in which the region is in the top third.", "",
            _table(["region", "poles in it", "support (of 5)", "GRP per capita USD", "GRP growth %", "industry per capita",
                    "investment per capita", "exports % of GRP", "mining % of B+C", "LQ mining",
                    "LQ manufacturing"], rows), "",
            f"The data support as propulsive poles (3 or more of 5): {strong or 'none'}. Poles of "
            f"`layers/poles.yaml` in regions that score 0–1: {weak_text or 'none'} — poles by size and "
            "administration rather than by the paper's definition.", ""]


def _migration(stats: pd.DataFrame, national: pd.DataFrame) -> list[str]:
    r = stats[(stats["country"] == "RUS") & stats["net_migration_rate"].notna() & (stats["borders"] != "")]
    if r.empty:
        return []
    year = int(r["year"].max())
    rate = national[(national["country"] == "RUS") & (national["indicator"] == "net_migration_rate")
                    & (national["year"] == year)]["value"]
    along = r[r["year"] == year].sort_values("net_migration_rate")
    rows = [[x.name_en, _n(x.net_migration_rate, 1)] for x in along.itertuples()]
    losing = int((along["net_migration_rate"] < 0).sum())
    return [f"### Net migration of the Russian border regions, {year}", "",
            "Rosstat net migration rate per 10,000 population (Russian Statistical Yearbook 2023, table 4.2), the "
            f"regions bordering Kazakhstan (Natural Earth vintage); Russia as a whole: {_n(rate.iloc[0], 1) if len(rate) else '–'}. "
            f"{losing} of {len(along)} lose people to migration, the paper's \"emigration\". Kazakh regional "
            "migration is not in the pack.", "",
            _table(["region", "net migration per 10,000"], rows), ""]
