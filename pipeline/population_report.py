"""The report's section "People in the border regions", rendered from ``population.gpkg`` and
``people_influence.gpkg``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio

from .economy_report import _n, _table


def render(cfg, path: Path, people_influence: Path | None = None) -> str:
    """The Markdown section.

    Parameters
    ----------
    cfg : Config
        The run's configuration (``layers/population.yaml`` is read).
    path
        ``population.gpkg``.
    people_influence
        ``people_influence.gpkg`` (stage 5c); None or missing: the section leaves out the people in the areas
        of influence.

    Returns
    -------
    str
    """
    from .config import load_population

    conf = load_population(cfg.layers_dir)
    read = lambda layer: pyogrio.read_dataframe(path, layer=layer, read_geometry=False)  # noqa: E731
    totals, belts, districts = read("region_totals"), read("belt_population"), read("district_typology")
    access, beyond = read("access_by_people"), read("people_beyond")
    near = read("people_near_crossings")
    if people_influence is not None and people_influence.is_file():
        read_pi = lambda layer: pyogrio.read_dataframe(people_influence, layer=layer, read_geometry=False)  # noqa: E731
        abroad, infl, across = read_pi("people_pole_abroad"), read_pi("influence_people"), read_pi("people_across")
    else:
        abroad = infl = across = pd.DataFrame()
    focus = totals[totals["country"] == cfg.focus_country]
    missing = totals[~totals["has_total"] & (totals["grid"] > 0)].groupby("country")["grid"].agg(["size", "sum"])
    out = ["## People in the border regions", "",
           f"A population surface on the 1 km equal-area grid (`outputs/rasters/population.tif`, persons per cell, "
           f"{conf.year}): each region's official total (BNS mean population of the year; Rosstat 1 January) goes "
           "first to its GeoNames settlements (never more than the total), the rest over its land cells weighted by "
           f"nearness to roads and settlements ({conf.ancillary.floor:g} + exp(−d_road/{conf.ancillary.road_decay_km:g} km) "
           f"+ exp(−d_settlement/{conf.ancillary.settlement_decay_km:g} km)). The Kazakh cells hold "
           f"{_n(focus['grid'].sum())} people against the BNS total of {_n(focus['total'].sum())} "
           f"({100 * (focus['grid'].sum() / focus['total'].sum() - 1):+.4f} %). Russian regions the grid cuts keep the "
           "share of their people on it (their settlements there, and the rest by area). A city's people sit in the "
           "cell of its GeoNames point: figures for districts inside a city (Almaty's, Astana's) are not meaningful.",
           "",
           "Settlements only (no official regional total in the pack): "
           + "; ".join(f"{c} ({int(r['size'])} regions, {_n(r['sum'])} people in settlements on the grid)"
                       for c, r in missing.iterrows())
           + ". Figures on those sides of the border count settlements of "
           f"{conf.settlements_min_population:,}+ people only and are lower bounds.", ""]
    land = belts[belts["segment_type"] == "land"]
    rows = []
    for seg, g in land.groupby("segment_id", sort=False):
        for side, h in g.groupby("side", sort=False):
            by = h.set_index("distance_km")["population"]
            rows.append([seg, side, h["country"].iloc[0], *[_n(by.get(d, np.nan)) for d in conf.belts_km]])
    out += ["### People near each border", "",
            f"People ({conf.year}, persons, from the surface above) living within each distance of each land border "
            "(geodesic belts), per side.", "",
            _table(["border", "side", "country", *[f"within {d:g} km" for d in conf.belts_km]], rows), ""]
    layers = {str(n) for n in pyogrio.list_layers(path)[:, 0]}
    if "belt_economy" in layers:
        be = read("belt_economy")
        be = be[be["distance_km"].isin([100.0, 150.0])]
        gy = int(be["grp_year"].iloc[0]) if len(be) else 0
        rows = [[r.segment_id, r.side, f"{r.distance_km:g} km",
                 "–" if np.isnan(r.grp_usd_mn) else _n(r.grp_usd_mn / 1000, 1),
                 str(int(r.regions_without_grp)) if r.regions_without_grp else ""] for r in be.itertuples()]
        out += [f"GRP in the 100 and 150 km belts weighted by people: each region's GRP of {gy} (bn USD, Tyumen "
                f"without its okrugs) times the share of its {conf.year} people inside the belt (the economy section "
                "weights by area). Regions with people in the belt but no GRP in USD or no official population (Kyrgyz GRP "
                "has no KGS rate; no Uzbek or Turkmen figures; Xinjiang's population is of 2018 only) are counted in "
                "the last column, not summed:", "",
                _table(["border", "side", "belt", "GRP bn USD", "regions without GRP"], rows), ""]
    nb = districts[districts["border_district"]]
    out += ["### Border districts (Eurostat-style typology)", "",
            f"A district of 2024 (geokz, {len(districts)} districts) is a border district when at least "
            f"{100 * conf.border_district_share:g} % of its people live within {conf.border_district_km:g} km of a "
            f"land border: {len(nb)} districts with {_n(nb['population'].sum())} people "
            f"({100 * nb['population'].sum() / max(districts['population'].sum(), 1):.1f} % of Kazakhstan's).", "",
            _table(["district", "region", "people", f"within {conf.border_district_km:g} km", "share %"],
                   [[r.district, r.region, _n(r.population), _n(r.population_near_border),
                     _n(100 * r.share_near_border, 0)] for r in nb.sort_values("population", ascending=False).itertuples()]),
            ""]
    b = beyond.pivot_table(index="hours", columns="scenario", values="people_beyond")
    b = b[[c for c in ("open", "current", "closed") if c in b.columns]]
    out += ["### Travel time weighted by people", "",
            f"People of {cfg.focus_country} ({conf.year}) beyond each travel time by road of every growth pole "
            "(`layers/poles.yaml`; the area-weighted figures of "
            "the influence section count land, not people):", "",
            _table(["beyond", *[f"{s} (people)" for s in b.columns], *[f"{s} %" for s in b.columns]],
                   [[f"{h:g} h", *[_n(b.loc[h, s]) for s in b.columns],
                     *[_n(beyond[(beyond["hours"] == h) & (beyond["scenario"] == s)]["share_pct"].iloc[0], 1)
                       for s in b.columns]] for h in b.index]), ""]
    belt = access[(access["kind"] == "belt")]
    rows = [[r.name, _n(r.population), _n(r.mean_h_open, 2), _n(r.mean_h_current, 2),
             _n(r.person_hours_lost_current), _n(r.people_cut_off_closed)] for r in belt.itertuples()]
    out += ["Per belt: population-weighted mean hours to the nearest pole, person-hours lost in the current "
            "scenario against open borders, and people cut off from every pole when the borders close:", "",
            _table(["belt", "people", "mean h, open", "mean h, current", "person-hours lost (current)",
                    "people cut off (closed)"], rows), ""]
    if len(abroad):
        a = abroad.set_index("side")["people_fastest_pole_abroad"]
        out += [f"People whose fastest pole lies across the border with open borders (and who lose it when the "
                f"border closes): {_n(a.get('focus', np.nan))} in {cfg.focus_country}, {_n(a.get('neighbours', np.nan))} "
                "in the neighbouring countries (the latter a lower bound where only settlements are mapped).", ""]
    if len(near):
        t = near.pivot_table(index="country", columns="within_min", values="people", sort=False)
        sh = near.pivot_table(index="country", columns="within_min", values="share_pct", sort=False)
        out += [f"People ({conf.year}) within reach of a road border crossing (open borders: the time to reach the crossing, by "
                "the off-network leg and the road network; share of the country's people on the grid, a lower "
                "bound where only settlements are mapped):", "",
                _table(["country", *[f"within {m:g} min" for m in t.columns]],
                       [[c, *[f"{_n(t.loc[c, m])} ({_n(sh.loc[c, m], 1)} %)" for m in t.columns]] for c in t.index]),
                ""]
    cols = [c for c in ("people_share_across_open_pct", "people_share_across_current_pct",
                        "people_share_across_closed_pct") if c in across]
    if cols:
        rows = [[r["name"], _n(r["population"]), *[_n(r[c], 1) for c in cols]]
                for _, r in across[across["kind"] == "belt"].iterrows()]
        out += ["Cross-border influence by people: share of each belt's people whose fastest pole (all tiers) lies "
                "in another country, per scenario (the influence section gives the same by area and by "
                "settlements):", "",
                _table(["belt", "people", *[f"% across, {c.split('_')[3]}" for c in cols]], rows), ""]
    if len(infl):
        h = infl[infl["kind"] == "huff_market_area"].sort_values("people", ascending=False)
        out += ["People in each pole's Huff market area (the dominant pole; the surface beside the settlements "
                "of 5,000+ the influence layers count). Poles at the edge of the study window (Saratov, "
                "Astrakhan, Samara, Tashkent …) gather everyone beyond it, as there are no poles farther out: "
                "their figures are edge effects, not influence:", "",
                _table(["pole", "people (surface)", "people in settlements 5,000+"],
                       [[r.pole, _n(r.people), _n(r.settlement_population)] for r in h.head(15).itertuples()]),
                ""]
        v = infl[infl["kind"] == "huff_variant"].pivot_table(index="pole", columns="tier_set",
                                                              values="people_focus", aggfunc="sum")
        if {"population_grp_poles", "grp"} <= set(v.columns):
            v = v.assign(change=v["grp"].fillna(0) - v["population_grp_poles"].fillna(0))
            v = v.reindex(v["change"].abs().sort_values(ascending=False).index).head(12)
            out += [f"People of {cfg.focus_country} in the Huff market areas when the poles attract by GRP instead "
                    "of population (the same poles, those with a regional GRP per capita; the influence section "
                    "names those without and gives the areas):", "",
                    _table(["pole", "people, population attraction", "people, GRP attraction", "change"],
                           [[n, _n(r["population_grp_poles"]), _n(r["grp"]), f"{r['change']:+,.0f}"]
                            for n, r in v.iterrows()]), ""]
        out += ["Catchment populations from the surface, per tier set and scenario: table `influence_people` "
                "of `outputs/people_influence.gpkg`.", ""]
    return "\n".join(out)
