"""Part of stage 6a (publish), report: ``outputs/REPORT.md`` rendered from the output layers.

Every figure is computed from the layers passed in; nothing is typed by hand. Reference lengths come
from ``layers/official_borders.yaml`` with their sources. The text carries no run date, so two runs on
the same inputs give the same report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd


def _table(header: Sequence[str], rows: Iterable[Sequence[object]], align: str | None = None) -> str:
    align = align or "l" * len(header)
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks[a] for a in align) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _km(x: float) -> str:
    return f"{x:,.0f}"


def border_length_table(segments: gpd.GeoDataFrame, official: Mapping) -> str:
    sources = official.get("sources", {})
    land_ref = official.get("land", {}) or {}
    sea_ref = official.get("maritime", {}) or {}
    rows = []
    for s in segments.itertuples(index=False):
        ref = land_ref.get(s.neighbour) if s.segment_type == "land" else sea_ref.get(s.neighbour_name)
        name = s.neighbour_name if s.segment_type == "land" else f"{s.neighbour_name} shore"
        if ref:
            alt = (f"{_km(ref['alt_km'])} ({ref.get('alt_source', '')})" if ref.get("alt_km") else "")
            rows.append((name, s.segment_type, _km(s.length_km), f"{_km(ref['km'])} ({ref['source']})",
                         f"{s.length_km / ref['km']:.1%}", alt))
        else:
            rows.append((name, s.segment_type, _km(s.length_km), "–", "–", ""))
    land = segments[segments.segment_type == "land"]
    land_total_ref = sum(v["km"] for k, v in land_ref.items() if k in set(land.neighbour))
    if land_total_ref:
        rows.append(("**all land borders**", "land", f"**{_km(land.length_km.sum())}**",
                     f"**{_km(land_total_ref)}**", f"**{land.length_km.sum() / land_total_ref:.1%}**", ""))
    text = _table(["border", "type", "computed km", "official km", "computed / official", "other figure"],
                  rows, "llrrrl")
    notes = "\n".join(f"- *{k}*: {v}" for k, v in sources.items())
    return text + ("\n\nSources of the official figures:\n" + notes if notes else "")


def zone_area_table(zones: gpd.GeoDataFrame) -> str:
    piv = zones.pivot_table(index=["segment_id", "country", "side"], columns="distance_km",
                            values="area_km2", aggfunc="sum")
    dists = list(piv.columns)
    rows = [(seg, country, side, *(_km(piv.loc[(seg, country, side), d]) if pd.notna(
        piv.loc[(seg, country, side), d]) else "–" for d in dists))
        for seg, country, side in piv.index]
    return _table(["border segment", "country", "side", *(f"within {d:g} km (km²)" for d in dists)],
                  rows, "lll" + "r" * len(dists))


def bordering_table(br: gpd.GeoDataFrame, segments: gpd.GeoDataFrame, vintages: Sequence[str]) -> str:
    rows = []
    b = br[br["borders"]]
    for s in segments.itertuples(index=False):
        here = b[b.segment_id == s.segment_id]
        for vintage in vintages:
            for country in [s.focus, *sorted(set(here["country"]) - {s.focus})]:
                grp = here[(here.vintage == vintage) & (here.country == country)]
                if grp.empty:
                    continue
                grp = grp.sort_values("shared_border_km", ascending=False)
                names = "; ".join(f"{r.name_en} ({r.iso_3166_2}, {_km(r.shared_border_km)} km)"
                                  for r in grp.itertuples(index=False))
                rows.append((s.segment_id, vintage, country, len(grp), names))
    return _table(["border segment", "vintage", "country", "regions", "regions (ISO 3166-2, km of border)"],
                  rows, "lllrl")


def tolerance_lines(sens: pd.DataFrame, configured: float, vintage: str = "naturalearth") -> list[str]:
    """The report's table of how the regions bordering each land segment change with the tolerance.

    Parameters
    ----------
    sens
        ``tolerance_sensitivity`` of the border-regions stage.
    configured
        The configured tolerance (km): the names gained or lost are relative to it.
    vintage
        The vintage shown.

    Returns
    -------
    list of str
        Markdown lines.
    """
    s = sens[sens["vintage"] == vintage]
    if s.empty:
        return []
    s = s.assign(name_en=s["name_en"] + " (" + s["region_id"].str.split("|").str[0] + ")")  # two Tashkents
    tols = sorted(s["tolerance_km"].unique())
    rows = []
    for seg, g in s.groupby("segment_id", sort=False):
        base = set(g.loc[g["tolerance_km"] == configured, "name_en"])
        for t in tols:
            names = set(g.loc[g["tolerance_km"] == t, "name_en"])
            counts = g[g["tolerance_km"] == t].groupby("country").size()
            delta = [f"+{n}" for n in sorted(names - base)] + [f"−{n}" for n in sorted(base - names)]
            rows.append([seg, f"{t:g}", " / ".join(f"{c} {k}" for c, k in counts.items()),
                         ", ".join(delta) or ("(configured)" if t == configured else "same")])
    return [f"How the regions bordering each land border ({vintage}) change with the tolerance within which "
            f"{'a region must run along the segment'} (configured: {configured:g} km; names gained (+) or lost "
            "(−) against it):", "", _table(["segment", "tolerance (km)", "regions per country", "change"], rows,
                                           "lrll"), ""]


def vintage_changes(br: gpd.GeoDataFrame, focus: str, base: str, vintages: Iterable[str]) -> list[str]:
    """Sentences on how the focus country's bordering regions change between vintages."""
    out = []
    b = br[br["borders"] & (br["country"] == focus)]
    for v in vintages:
        for seg in sorted(set(b["segment_id"])):
            old = set(b[(b.vintage == base) & (b.segment_id == seg)]["iso_3166_2"])
            new_rows = b[(b.vintage == v) & (b.segment_id == seg)]
            new = set(new_rows["iso_3166_2"])
            names = dict(zip(new_rows["iso_3166_2"], new_rows["name_en"]))
            if new - old:
                joined = ", ".join(f"{names[c]} ({c})" for c in sorted(new - old))
                out.append(f"- {seg}: {len(old)} regions in *{base}*, {len(new)} in *{v}*; "
                           f"joining: {joined}"
                           + (f"; gone: {', '.join(sorted(old - new))}" if old - new else "") + ".")
    return out


def zone_share_table(br: gpd.GeoDataFrame, distances: tuple[float, ...], vintage: str,
                     side: str) -> str:
    sel = br[(br.vintage == vintage) & (br.side == side)]
    rows = []
    for r in sel.sort_values(["segment_id", "country", "iso_3166_2"]).itertuples(index=False):
        vals = []
        for d in distances:
            vals += [_km(getattr(r, f"zone{d:g}_km2")), f"{getattr(r, f'zone{d:g}_share'):.1%}"]
        rows.append((r.segment_id, r.country, f"{r.name_en} ({r.iso_3166_2})", "yes" if r.borders else "",
                     *vals))
    head = [h for d in distances for h in (f"in {d:g} km belt (km²)", f"share {d:g} km")]
    return _table(["border segment", "country", "region", "borders", *head], rows,
                  "lllc" + "r" * len(head))


def render_report(*, study: str, focus: str, countries: gpd.GeoDataFrame,
                  segments: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, br: gpd.GeoDataFrame,
                  distances: tuple[float, ...], official: Mapping, vintages: Sequence[str],
                  provenance: Mapping[str, str], tolerance: pd.DataFrame | None = None,
                  tolerance_km: float = 5.0) -> str:
    fc = countries.set_index("country").loc[focus]
    land = segments[segments.segment_type == "land"]
    neighbours = ", ".join(f"{n} ({c})" for c, n in zip(land.neighbour, land.neighbour_name))
    parts = [
        f"# {study}: border regions report",
        "",
        "Generated by `make all`; every figure below is computed from the layers in "
        "`outputs/borders.gpkg`. Lengths and areas are geodesic (WGS84 ellipsoid).",
        "",
        f"Focus country: **{fc['name']}** ({focus}), {_km(fc['area_km2'])} km² "
        f"(Natural Earth units merged: {fc['units']}). "
        f"Land neighbours derived from geometry: {neighbours}.",
        "",
        "## Border length per neighbour",
        "",
        border_length_table(segments, official),
        "",
        ("Computed lengths are shorter than the official ones because Natural Earth 1:10m lines are "
         "generalised: at that scale a vertex every few km cuts the corners of a boundary that follows "
         "rivers (Ural, Irtysh, Ili) and mountain crests, and a line's measured length keeps growing "
         "with the detail it is drawn at (the coastline paradox). The shortfall is largest where the "
         "border is most sinuous. The ratio, not the absolute figure, is what to compare across "
         "neighbours." if official.get("land") else
         f"layers/official_borders.yaml has no official lengths for {focus}'s borders; Natural Earth "
         "1:10m lines are generalised, so measured lengths fall short of official ones."),
        "",
        "## Cross-border belts",
        "",
        f"Belts of {', '.join(f'{d:g}' for d in distances)} km on both sides of each border segment, "
        "clipped to each country's land (layer `zones`). A belt contains every point of its country "
        "within that geodesic distance of the segment; belts of two neighbours overlap near triple points.",
        "",
        zone_area_table(zones),
        "",
        "## Regions bordering each segment",
        "",
        "Admin-1 regions whose outline runs along the segment (at least the configured length within the "
        "configured tolerance, which absorbs generalisation and the offsets between vintages: a region "
        "that only touches the border at 1:10m, such as Samara on the Kazakh–Russian border, still "
        "counts when its outline runs within the tolerance for the minimum length). Vintage "
        "*naturalearth* is Natural Earth v5 (for Kazakhstan, the units before the 2022 reform); further "
        "vintages cover the focus country only.",
        "",
        bordering_table(br, segments, vintages),
        "",
    ]
    changes = vintage_changes(br, focus, "naturalearth", [v for v in vintages if v != "naturalearth"])
    if changes:
        parts += ["Changes between vintages:", "", *changes, ""]
    if tolerance is not None:
        parts += tolerance_lines(tolerance, tolerance_km)
    for vintage in vintages:
        for side in ("focus", "neighbour"):
            if not ((br.vintage == vintage) & (br.side == side)).any():
                continue
            parts += [f"## Regions in the belts: {vintage}, {side} side", "",
                      zone_share_table(br, distances, vintage, side), ""]
    parts += ["## Provenance", "", *(f"- {k}: {v}" for k, v in provenance.items()), ""]
    return "\n".join(parts)


def accessibility_section(zone_access: gpd.GeoDataFrame, region_access: gpd.GeoDataFrame,
                          crossings: gpd.GeoDataFrame, distance: float) -> str:
    """Crossings per neighbour; mean hours to the nearest pole and barrier effect per belt and region."""
    scen = [c.removeprefix("mean_h_") for c in zone_access.columns if c.startswith("mean_h_")]
    bar = [s for s in scen if f"barrier_h_{s}" in zone_access.columns]
    counts = crossings.groupby(["neighbour", "mode"]).size().unstack(fill_value=0)
    xs = _table(["neighbour", *counts.columns], ([n, *(int(v) for v in r)] for n, r in counts.iterrows()),
                "l" + "r" * len(counts.columns))
    head = [*(f"mean h, {s}" for s in scen), *(f"barrier h, {s}" for s in bar)]
    z = zone_access[zone_access["distance_km"] == distance].sort_values(["segment_id", "side"])
    zt = _table(["belt", "country", "side", *head],
                ([r.segment_id, r.country, r.side, *(f"{getattr(r, f'mean_h_{s}'):.2f}" for s in scen),
                  *(f"{getattr(r, f'barrier_h_{s}'):+.2f}" for s in bar)] for r in z.itertuples()),
                "lll" + "r" * len(head))
    rg = region_access.drop_duplicates(["vintage", "region_id", "segment_id"])
    rg = rg[rg["segment_id"].isin(set(z["segment_id"]))].sort_values(
        [f"barrier_h_{bar[-1]}" if bar else f"mean_h_{scen[0]}"], ascending=False)
    rt = _table(["vintage", "border", "country", "region", *head],
                ([r.vintage, r.segment_id, r.country, f"{r.name_en} ({r.iso_3166_2})",
                  *(f"{getattr(r, f'mean_h_{s}'):.2f}" for s in scen),
                  *(f"{getattr(r, f'barrier_h_{s}'):+.2f}" for s in bar)] for r in rg.head(25).itertuples()),
                "llll" + "r" * len(head))
    return "\n".join([
        "## Accessibility and the border as a barrier", "",
        "Hours from each 1 km cell to the nearest growth pole by road (`outputs/rasters/access_*.tif`), "
        "area-weighted means. Scenarios: *open* (crossings without delay), *current* (delays of "
        "`layers/network.yaml`), *closed* (no crossing). Barrier = scenario − open.", "",
        "Points where the network crosses the focus country's land border:", "", xs, "",
        f"Per {distance:g} km belt:", "", zt, "",
        "Border regions with the largest barrier effect (first 25):", "", rt, ""])


def huff_attraction_table(variants: gpd.GeoDataFrame, changes: pd.DataFrame, poles: gpd.GeoDataFrame
                          ) -> list[str]:
    """Lines of the report comparing the Huff market areas by population and by GRP attraction.

    Parameters
    ----------
    variants
        ``huff_variants`` of ``influence.gpkg`` (variant, name, area_km2).
    changes
        ``huff_changes`` (from_variant, to_variant, changed_km2, changed_share_pct, grp_year, country, …).
    poles
        ``poles`` with ``grp_per_capita_usd`` (NaN: no regional GRP that year).

    Returns
    -------
    list of str
        Markdown lines (a paragraph and a table).
    """
    ch = changes.set_index(["from_variant", "to_variant"])
    year, country = int(changes["grp_year"].iloc[0]), changes["country"].iloc[0]
    same, attr = ch.loc[("population", "population_grp_poles")], ch.loc[("population_grp_poles", "grp")]
    gone = poles[poles["grp_per_capita_usd"].isna()]
    missing = gone["name"].tolist()
    by_country = ", ".join(f"{c} ({', '.join(g['name'])})" for c, g in gone.groupby("country"))
    col = "belt_km2" if "belt_km2" in variants else "area_km2"
    area = variants.pivot_table(index="name", columns="variant", values=col, aggfunc="sum")
    area = area.reindex(columns=["population", "population_grp_poles", "grp"])
    area = area[area[["population_grp_poles", "grp"]].notna().any(axis=1)]
    area = area.assign(change=area["grp"].fillna(0) - area["population_grp_poles"].fillna(0))
    area = area.reindex(area["change"].abs().sort_values(ascending=False).index)
    rows = ([n, *("–" if pd.isna(r[c]) else _km(r[c]) for c in ("population", "population_grp_poles", "grp")),
             f"{r['change']:+,.0f}"] for n, r in area.iterrows())
    return [
        f"Huff attraction, population against GRP ({year}): a pole's economic mass is its GeoNames population × "
        "the GRP per capita (USD) of the region it lies in (Tyumen without its okrugs). "
        f"{len(missing)} poles have no regional GRP and population for {year} in the statistics, by country "
        f"(GeoNames ISO code): {by_country}. The pack has no regional statistics of Uzbekistan, Turkmenistan, "
        "Tajikistan, Azerbaijan or Iran; Kyrgyz GRP has no KGS rate and no population; Xinjiang's population is "
        "of 2018 only. They leave the GRP model. "
        f"Leaving them out alone moves the dominant pole of {_km(same['changed_km2'])} km² of {country} "
        f"({same['changed_share_pct']:.1f} % of its cells); weighting the remaining poles by GRP instead of "
        f"population moves {_km(attr['changed_km2'])} km² ({attr['changed_share_pct']:.1f} %). Market areas (km², "
        + ("inside the cross-border belts" if col == "belt_km2" else "whole study window")
        + ") sorted by the change due to attraction:", "",
        _table(["pole", "population, all poles", "population, poles with GRP", "GRP", "change (km²)"], rows,
               "lrrrr"), ""]


def axes_lines(a: pd.DataFrame, max_access_km: float) -> list[str]:
    """The report's lines on the development axes: each leg by each mode, the legs that leave the country and
    why, and the stops far from a mode's network.

    Parameters
    ----------
    a
        ``axes`` of ``influence.gpkg`` (axis, mode, from_stop, to_stop, length_km, minutes, outside_km,
        from_access_km, to_access_km, route).
    max_access_km
        Access legs longer than this are listed.

    Returns
    -------
    list of str
        Markdown lines.
    """
    modes = list(dict.fromkeys(a["mode"]))
    key = ["axis", "branch", "leg"]
    w = a.set_index([*key, "mode"]).unstack("mode")
    first = a[a["mode"] == modes[0]].set_index(key)

    def cell(r, m: str) -> str:
        if pd.isna(r[("minutes", m)]):
            return "–"
        out = f"{_km(r[('length_km', m)])} km, {r[('minutes', m)] / 60:.1f} h"
        return out + (f", {_km(r[('outside_km', m)])} abroad" if r[("outside_km", m)] >= 1 else "")

    rows = [[i[0], f"{first.loc[i, 'from_stop']} → {first.loc[i, 'to_stop']}", *(cell(r, m) for m in modes)]
            for i, r in w.iterrows()]
    lines = ["Development axes, each leg routed by " + " and by ".join(modes) + " (Natural Earth 1:10m). A stop "
             "joins the nearest point of the mode's network and its straight access leg, at the off-network "
             "speed, is counted in the leg; a leg between two Kazakh stops stays in Kazakhstan unless the "
             "network has no domestic link:", "",
             _table(["axis", "leg", *modes], rows, "ll" + "r" * len(modes)), ""]
    gone = a[a["outside_km"] >= 1]
    if len(gone):
        lines += ["Legs that leave the country (≥ 1 km abroad on the network, access legs excluded):", ""]
        lines += [f"- {r.mode}, {r.from_stop} → {r.to_stop}: {_km(r.outside_km)} km abroad; "
                  + ("both stops are Kazakh and the source network has no route inside Kazakhstan between them"
                     if r.route.startswith("abroad") else "a stop lies abroad or at the border")
                  for r in gone.itertuples()]
        lines.append("")
    far = pd.concat([a[["mode", "from_stop", "from_access_km"]].set_axis(["mode", "stop", "km"], axis=1),
                     a[["mode", "to_stop", "to_access_km"]].set_axis(["mode", "stop", "km"], axis=1)])
    far = far[far["km"] > max_access_km].drop_duplicates(["mode", "stop"])
    if len(far):
        lines += [f"Stops more than {max_access_km:g} km from the mode's network (a missing line in the source "
                  "data; the straight access leg is counted): "
                  + "; ".join(f"{r.stop} ({r.mode}, {_km(r.km)} km)" for r in far.itertuples()) + ".", ""]
    return lines


def sensitivity_lines(t: pd.DataFrame, beyond_hours: float, distance: float) -> list[str]:
    """The report's sensitivity table: each headline figure under each variant.

    Parameters
    ----------
    t
        ``sensitivity`` of ``influence.gpkg`` (variant, metric, target, value, unit).
    beyond_hours
        The configured threshold (h).
    distance
        The belt distance shown (km).

    Returns
    -------
    list of str
        Markdown lines.
    """
    if t.empty:
        return []
    variants = list(dict.fromkeys(t["variant"]))
    w = t.pivot_table(index=["metric", "target"], columns="variant", values="value", sort=False)
    w = w.reindex(columns=variants)
    label = {"beyond_share_pct": f"KAZ beyond {beyond_hours:g} h of every pole (%)",
             "pole_abroad_share_pct": "KAZ whose fastest pole is abroad (%)"}
    rows = []
    for (metric, target), r in w.iterrows():
        if metric == "beyond_share_pct" and target:
            continue
        if metric == "barrier_h" and f"/{distance:g}km/" not in target:
            continue
        name = label.get(metric) or (f"barrier, {target} (h)" if metric == "barrier_h" else f"{target} (h)")
        scale = 1 / 60 if metric == "leg_min" else 1.0
        vals = r.to_numpy(dtype=float) * scale
        fmt = "{:.1f}" if metric != "barrier_h" else "{:.2f}"
        rows.append([name, *("–" if np.isnan(v) else fmt.format(v) for v in vals),
                     f"{np.nanmin(vals) - vals[0]:+.2f} / {np.nanmax(vals) - vals[0]:+.2f}"
                     if metric == "barrier_h" else f"{np.nanmin(vals) - vals[0]:+.1f} / {np.nanmax(vals) - vals[0]:+.1f}"])
    th = w.loc["beyond_share_pct"].drop(index="", errors="ignore")["base"]
    return ["Sensitivity: the headline figures with each uncalibrated parameter varied on its own (current "
            "scenario, every pole; road axis legs by road; `sensitivity` in `influence.gpkg`). The last column "
            "is the spread against the base run:", "",
            _table(["figure", *variants, "range"], rows, "l" + "r" * (len(variants) + 1)), "",
            "Share of KAZ beyond every pole by threshold (base run): "
            + ", ".join(f"{k}: {v:.1f} %" for k, v in th.items()) + ".", ""]


def influence_section(layers: Mapping[str, gpd.GeoDataFrame], *, scenario: str, tier_set: str,
                      beyond_hours: float, distance: float, max_access_km: float = 25.0) -> str:
    """Catchments per pole, territories beyond influence per region, cross-border influence, axes."""
    c = layers["catchments"]
    c = c[(c["scenario"] == scenario) & (c["tier_set"] == tier_set)]
    if "belt_km2" in c:   # reported inside the belts: beyond them the window's edge distorts the catchments
        c = c[c["belt_km2"] > 0.5].sort_values("belt_km2", ascending=False)
        ct = _table(["pole", "tier", "country", "in the belts (km²)", "settlements in the belts",
                     "whole catchment (km²)"],
                    ([r.name, r.tier, r.country, _km(r.belt_km2), _km(r.belt_population), _km(r.area_km2)]
                     for r in c.itertuples()), "lllrrr")
    else:
        c = c.sort_values("area_km2", ascending=False)
        ct = _table(["pole", "tier", "country", "catchment km²", "settlement population"],
                    ([r.name, r.tier, r.country, _km(r.area_km2), _km(r.population)] for r in c.itertuples()),
                    "lllrr")
    b = layers["beyond_influence"]
    bt = _table(["tier set", f"area beyond {beyond_hours:g} h (km²)", "settlement population"],
                ([r.tier_set, _km(r.area_km2), _km(r.population)] for r in b.itertuples()), "lrr")
    rb = layers["region_beyond"]
    sets = [col.removeprefix("beyond_share_") for col in rb.columns if col.startswith("beyond_share_")]
    rbt = _table(["vintage", "region", *(f"beyond, {s} (km² / share)" for s in sets)],
                 ([r.vintage, f"{r.name_en} ({r.iso_3166_2})",
                   *(f"{_km(getattr(r, f'beyond_km2_{s}'))} / {getattr(r, f'beyond_share_{s}'):.0%}"
                     for s in sets)] for r in rb.sort_values(["vintage", "name_en"]).itertuples()),
                 "ll" + "r" * len(sets))
    x = layers["cross_border_influence"]
    xz = x[(x["kind"] == "zone") & x["name"].str.contains(f"/{distance:g}km/")]
    piv = xz.pivot_table(index="name", columns="scenario", values="area_share_across", dropna=False)
    popv = xz.pivot_table(index="name", columns="scenario", values="population_share_across",
                          dropna=False).reindex(index=piv.index, columns=piv.columns)
    scen = list(piv.columns)
    xt = _table(["belt", *(f"area across, {s}" for s in scen), *(f"population across, {s}" for s in scen)],
                ([n, *("–" if pd.isna(piv.loc[n, s]) else f"{piv.loc[n, s]:.0%}" for s in scen),
                  *("–" if pd.isna(popv.loc[n, s]) else f"{popv.loc[n, s]:.0%}" for s in scen)]
                 for n in piv.index), "l" + "r" * 2 * len(scen))
    edge_lines = []
    if "edge_effect" in layers and len(layers["edge_effect"]):
        e = layers["edge_effect"].iloc[0]
        xz_e = x[(x["kind"] == "zone") & (x["scenario"] == x["scenario"].iloc[0])
                 & x["name"].str.contains(f"/{distance:g}km/")] if "edge_flag_share" in x else x.iloc[:0]
        listed = layers["poles"]["listed"] if "listed" in layers["poles"] else pd.Series(True, index=layers["poles"].index)
        edge_lines = [
            f"Edge effects. The poles abroad are completed from GeoNames ({int((~listed.astype(bool)).sum())} cities "
            "added to those listed, `complete:` in `layers/poles.yaml`). Land where a city outside the study grid "
            f"could still be faster than every pole inside — a straight road at the network's top speed "
            f"({e['vmax_kmh']:g} km/h) would beat the fastest pole inside — is flagged (layer `edge_effect`): "
            f"{_km(e['area_km2'])} km² in all, {_km(e['focus_km2'])} km² of the focus country. "
            "It is a loose bound (no road is straight), so a flagged cell may well be right; its catchment and Huff "
            "figures are the ones to doubt. Share of each belt flagged: "
            + ", ".join(f"{r.name} {r.edge_flag_share:.0%}" for r in xz_e.itertuples() if r.edge_flag_share > 0.005)
            + ".", ""]
    huff = huff_attraction_table(layers["huff_variants"], layers["huff_changes"], layers["poles"]) \
        if "huff_variants" in layers else []
    at = axes_lines(layers["axes"], max_access_km)
    if "sensitivity" in layers:
        at += sensitivity_lines(layers["sensitivity"], beyond_hours, distance)
    return "\n".join([
        "## Growth poles and their influence", "",
        f"Catchments: every cell to its fastest pole (tier set *{tier_set}*, scenario *{scenario}*), computed over "
        "the whole study window and reported inside the cross-border belts (100 and 150 km, both sides), where the "
        "window's edge does not reach; settlements = GeoNames settlements of 5,000 or more (people of the "
        "population surface per catchment: the People section).", "",
        ct, "",
        f"Territories of the focus country farther than {beyond_hours:g} h from every pole of a tier set:",
        "", bt, "", "Per region:", "", rbt, "",
        "Cross-border influence: share of each belt whose fastest pole lies in another country:", "",
        xt, "", *edge_lines, *huff,
        *at])
