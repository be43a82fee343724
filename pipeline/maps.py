"""Stage 6b, maps (publication maps): ``outputs/maps/<name>.png`` (300 dpi) and ``.pdf`` (vector).

Reads the output GeoPackages and GeoTIFFs. Every map is drawn in the equal-area conic of
``layers/study.yaml`` with a graticule (10°), a legend, a scale bar (true at the projection's
standard parallels; the Albers scale error across Kazakhstan is under 2 %), and the source credits.
Maps: cross-border zones and border regions; travel time to poles (current); barrier effect
(current − open); catchments and territories beyond influence; development axes.
"""

from __future__ import annotations

import logging

from pathlib import Path

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import rasterio  # noqa: E402
import shapely  # noqa: E402
from matplotlib.colors import BoundaryNorm, ListedColormap  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from pyproj import CRS  # noqa: E402

from .io import atomic_path  # noqa: E402
from .styles import BARRIER, HOURS  # noqa: E402

CREDIT = ("Data: Natural Earth (public domain); geokz, A. Rodionov (CC BY 4.0); GeoNames (CC BY 4.0). "
          "Crossing delays: ADB CAREC CPMM 2022. Lengths, areas and times computed by border-pipeline.")
MAPS = ("zones", "travel_time", "barrier", "influence", "axes", "economy", "trade", "population", "barrier_people")
STATS_CREDIT = ("Statistics: BNS Kazakhstan, Rosstat, NSC Kyrgyzstan, NBS China; trade: BNS, WITS; "
                "rates: National Bank of Kazakhstan.")


log = logging.getLogger("pipeline")

def _rgb(c: str) -> tuple[float, ...]:
    return tuple(int(v) / 255 for v in c.split(","))


def projection_name(crs: CRS) -> str:
    """E.g. 'Albers Equal Area, standard parallels 42°N and 52°N, central meridian 67°E, WGS 84'."""
    op = crs.coordinate_operation
    if op is None:
        return crs.name
    par = {p.name: p.value for p in op.params}
    parts = [op.method_name]
    lat1, lat2 = par.get("Latitude of 1st standard parallel"), par.get("Latitude of 2nd standard parallel")
    if lat1 is not None and lat2 is not None:
        parts.append(f"standard parallels {lat1:g}°N and {lat2:g}°N")
    lon0 = par.get("Longitude of false origin", par.get("Longitude of natural origin"))
    if lon0 is not None:
        parts.append(f"central meridian {lon0:g}°E")
    return ", ".join(parts + [crs.datum.name if crs.datum else ""]).rstrip(", ")


class Frame:
    """A map frame: basemap, graticule, scale bar, credits, in the equal-area CRS."""

    def __init__(self, title: str, countries: gpd.GeoDataFrame, focus: str, crs: CRS) -> None:
        self.crs = crs
        self.countries = countries.to_crs(crs)
        f = self.countries[self.countries["country"] == focus]
        minx, miny, maxx, maxy = f.total_bounds
        pad = 0.06 * max(maxx - minx, maxy - miny)
        self.extent = (minx - pad, maxx + pad, miny - pad, maxy + pad)
        self.fig, self.ax = plt.subplots(figsize=(11, 7.2))
        self.ax.set_facecolor("#dcebf5")  # sea
        self.countries.plot(ax=self.ax, color="#f2f0eb", edgecolor="none", zorder=0)
        self.ax.set_title(title, fontsize=13, loc="left")
        self.handles: list = []
        self.legend_loc = "lower left"

    def outline(self) -> None:
        self.countries.boundary.plot(ax=self.ax, color="#555555", linewidth=0.6, zorder=5)

    def crossings(self, outputs: Path, color: str) -> None:
        """The border crossings of the crossings stage as small squares, with their legend entry."""
        xs = gpd.read_file(outputs / "stages" / "crossings.gpkg", layer="crossings").to_crs(self.crs)
        self.ax.scatter(xs.geometry.x, xs.geometry.y, s=10, color=color, marker="s", zorder=14)
        self.handles.append(Line2D([], [], marker="s", linestyle="", color=color, markersize=3,
                                   label="border crossing"))

    def finish(self, out_dir: Path, name: str, legend_title: str = "") -> list[Path]:
        ax = self.ax
        ax.set_xlim(self.extent[0], self.extent[1])
        ax.set_ylim(self.extent[2], self.extent[3])
        self._graticule()
        self._scalebar()
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("")
        ax.set_ylabel("")
        if self.handles:
            leg = ax.legend(handles=self.handles, title=legend_title or None, loc=self.legend_loc, fontsize=7.5,
                            title_fontsize=8, framealpha=0.92)
            leg.set_zorder(1000)   # above pole markers and labels that fall under it
        self.fig.text(0.01, 0.032, f"Projection: {projection_name(self.crs)}. Scale bar true at the "
                      "standard parallels.", fontsize=6.2, color="#555555")
        self.fig.text(0.01, 0.01, CREDIT, fontsize=6.2, color="#444444")
        self.fig.tight_layout(rect=(0, 0.05, 1, 0.975))  # room for the title above the frame
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for ext, dpi in (("png", 300), ("pdf", None)):
            target = out_dir / f"{name}.{ext}"
            with atomic_path(target) as tmp:
                self.fig.savefig(tmp, dpi=dpi, format=ext)
            written.append(target)
        plt.close(self.fig)
        return written

    def _graticule(self) -> None:
        lines = [shapely.LineString([(lon, lat) for lat in np.linspace(25, 65, 81)])
                 for lon in range(30, 111, 10)]
        lines += [shapely.LineString([(lon, lat) for lon in np.linspace(30, 110, 161)])
                  for lat in range(30, 66, 10)]
        grat = gpd.GeoSeries(lines, crs="EPSG:4326").to_crs(self.crs)
        grat.plot(ax=self.ax, color="#9aa7b0", linewidth=0.35, linestyle=":", zorder=6)
        x0, x1, y0, y1 = self.extent
        for lon in range(30, 111, 10):
            g = grat.iloc[(lon - 30) // 10]
            hit = g.intersection(shapely.LineString([(x0, y0 + 1), (x1, y0 + 1)]))
            if not hit.is_empty:
                self.ax.text(hit.centroid.x, y0, f"{lon}°E", fontsize=6, ha="center", va="bottom",
                             color="#667")
        for i, lat in enumerate(range(30, 66, 10)):
            g = grat.iloc[9 + i]
            hit = g.intersection(shapely.LineString([(x0 + 1, y0), (x0 + 1, y1)]))
            if not hit.is_empty:
                self.ax.text(x0, hit.centroid.y, f"{lat}°N", fontsize=6, ha="left", va="center",
                             color="#667")

    def _scalebar(self) -> None:
        x0, x1, y0, y1 = self.extent
        length = 500_000.0  # 500 km
        bx, by = x1 - 0.04 * (x1 - x0) - length, y0 + 0.05 * (y1 - y0)
        for i in range(5):
            self.ax.add_patch(plt.Rectangle((bx + i * length / 5, by), length / 5, 0.008 * (y1 - y0),
                                            facecolor="black" if i % 2 == 0 else "white", edgecolor="black",
                                            linewidth=0.5, zorder=20))
        for km, x in ((0, bx), (250, bx + length / 2), (500, bx + length)):
            self.ax.text(x, by + 0.012 * (y1 - y0), f"{km}", fontsize=6.5, ha="center", zorder=20)
        self.ax.text(bx + length + 0.01 * (x1 - x0), by, "km", fontsize=6.5, va="bottom", zorder=20)

    def raster(self, path: Path, classes: list[tuple[float, float, str, str]], title: str) -> None:
        with rasterio.open(path) as src:
            data = src.read(1, masked=True)
            b = src.bounds
        bounds = [classes[0][0]] + [hi for _, hi, _, _ in classes]
        cmap = ListedColormap([_rgb(c) for *_, c in classes])
        norm = BoundaryNorm(bounds, cmap.N)
        below = data < bounds[0]  # e.g. no barrier loss: left uncoloured, never in the first class
        self.ax.imshow(np.ma.masked_where(below, data), extent=(b.left, b.right, b.bottom, b.top), cmap=cmap,
                       norm=norm, interpolation="nearest", zorder=1)
        self.handles += [Patch(facecolor=_rgb(c), edgecolor="#777", label=lab) for *_, lab, c in classes]
        if below.any():
            self.handles.insert(0, Patch(facecolor="#f2f0eb", edgecolor="#777",
                                         label=f"less than {bounds[0]:g} (no colour)"))
        self.handles.insert(0, Patch(facecolor="none", edgecolor="none", label=title))

    def poles(self, poles: gpd.GeoDataFrame, labels: bool = True) -> None:
        p = poles.to_crs(self.crs)
        style = {"national": ("#d73027", 70), "regional": ("#f46d43", 28), "cross_border": ("#762a83", 45)}
        for tier, (color, size) in style.items():
            sel = p[p["tier"] == tier]
            self.ax.scatter(sel.geometry.x, sel.geometry.y, s=size, color=color, edgecolor="white",
                            linewidth=0.6, zorder=15)
            self.handles.append(Line2D([], [], marker="o", linestyle="", color=color,
                                       markersize=np.sqrt(size), label=f"{tier.replace('_', '-')} pole"))
        if labels:
            x0, x1, y0, y1 = self.extent
            for r in p.itertuples():
                if x0 < r.geometry.x < x1 and y0 < r.geometry.y < y1:
                    self.ax.annotate(r.name, (r.geometry.x, r.geometry.y), xytext=(3, 3),
                                     textcoords="offset points", fontsize=6, zorder=16)


def draw_maps(outputs: Path, out_dir: Path, focus: str, crs: CRS, distances: tuple[float, ...],
              names: tuple[str, ...] = MAPS) -> list[Path]:
    """Draw the publication maps; return the files written."""
    borders, influence = outputs / "borders.gpkg", outputs / "influence.gpkg"
    countries = gpd.read_file(borders, layer="countries")
    poles = gpd.read_file(influence, layer="poles")
    written: list[Path] = []
    if "zones" in names:
        fr = Frame("Cross-border belts and border regions", countries, focus, crs)
        zones = gpd.read_file(borders, layer="zones").to_crs(crs)
        shades = {"focus": ["#fdae61", "#fee08b"], "neighbour": ["#74add1", "#abd9e9"]}
        for i, d in enumerate(sorted(distances, reverse=True)):
            for side in ("focus", "neighbour"):
                sel = zones[(zones["distance_km"] == d) & (zones["side"] == side)]
                color = shades[side][1] if i == 0 else shades[side][0]  # the wider belt lighter
                sel.plot(ax=fr.ax, color=color, alpha=0.55 if i == 0 else 0.9, edgecolor="none", zorder=2)
                fr.handles.append(Patch(facecolor=color, label=f"{side} side, within {d:g} km"))
        br = gpd.read_file(borders, layer="border_regions")
        br = br[(br["vintage"] == "naturalearth") & br["borders"]]
        br = br.drop_duplicates("region_id").to_crs(crs)
        br.boundary.plot(ax=fr.ax, color="#7f3b08", linewidth=0.5, zorder=4)
        fr.handles.append(Line2D([], [], color="#7f3b08", linewidth=0.8,
                                 label="region bordering a neighbour"))
        segs = gpd.read_file(borders, layer="border_segments").to_crs(crs)
        segs[segs["segment_type"] == "land"].plot(ax=fr.ax, color="#d73027", linewidth=1.4, zorder=7)
        segs[segs["segment_type"] == "maritime"].plot(ax=fr.ax, color="#4575b4", linewidth=1.2,
                                                      linestyle="--", zorder=7)
        fr.handles += [Line2D([], [], color="#d73027", linewidth=1.4, label="land border"),
                       Line2D([], [], color="#4575b4", linewidth=1.2, linestyle="--", label="Caspian shore")]
        fr.outline()
        written += fr.finish(out_dir, "zones")
    if "travel_time" in names:
        fr = Frame("Travel time to the nearest growth pole (current border delays)", countries, focus, crs)
        fr.raster(outputs / "rasters" / "access_current.tif", HOURS, "hours by road")
        fr.outline()
        fr.poles(poles)
        written += fr.finish(out_dir, "travel_time")
    if "barrier" in names:
        fr = Frame("Barrier effect of the borders: hours lost against open borders", countries, focus, crs)
        fr.raster(outputs / "rasters" / "barrier_current.tif", BARRIER[1:], "hours lost (current − open)")
        fr.outline()
        fr.crossings(outputs, "black")
        written += fr.finish(out_dir, "barrier")
    if "influence" in names:
        fr = Frame("Pole catchments and territories beyond 3 h of any pole", countries, focus, crs)
        catch = gpd.read_file(influence, layer="catchments")
        catch = catch[(catch["tier_set"] == "all") & (catch["scenario"] == "current")].to_crs(crs)
        palette = plt.get_cmap("tab20")
        catch.plot(ax=fr.ax, color=[palette(i % 20) for i in range(len(catch))], alpha=0.35,
                   edgecolor="white", linewidth=0.4, zorder=1)
        beyond = gpd.read_file(influence, layer="beyond_influence")
        beyond[beyond["tier_set"] == "all"].to_crs(crs).plot(
            ax=fr.ax, facecolor="none", edgecolor="#a50026", hatch="////", linewidth=0.3, zorder=3)
        fr.handles += [Patch(facecolor="#cccccc", alpha=0.5, label="catchment of a pole (colours)"),
                       Patch(facecolor="none", edgecolor="#a50026", hatch="////",
                             label="beyond 3 h of every pole")]
        fr.outline()
        fr.poles(poles, labels=False)
        written += fr.finish(out_dir, "influence")
    if "axes" in names:
        from .styles import AXIS_COLOURS

        fr = Frame("Development axes by road (solid, with corridors) and by rail (dashed)", countries, focus, crs)
        corr = gpd.read_file(influence, layer="axis_corridors").to_crs(crs)
        axes = gpd.read_file(influence, layer="axes").to_crs(crs)
        axes = axes[axes.geometry.notna()]
        modes = axes["mode"] if "mode" in axes else pd.Series("road", index=axes.index)
        for axis, rgba in AXIS_COLOURS.items():
            color = tuple(int(v) / 255 for v in rgba.split(","))
            corr[corr["axis"] == axis].plot(ax=fr.ax, color=color, alpha=0.15, zorder=1)
            axes[(axes["axis"] == axis) & (modes == "road")].plot(ax=fr.ax, color=color, linewidth=1.8, zorder=8)
            rail = axes[(axes["axis"] == axis) & (modes == "rail")]
            if len(rail):
                rail.plot(ax=fr.ax, color=color, linewidth=1.0, linestyle=(0, (4, 2)), zorder=9)
            fr.handles.append(Line2D([], [], color=color, linewidth=2, label=f"{axis} axis"))
        if (modes == "rail").any():
            fr.handles.append(Line2D([], [], color="#555555", linewidth=1.0, linestyle=(0, (4, 2)), label="by rail"))
        fr.outline()
        fr.poles(poles)
        written += fr.finish(out_dir, "axes")
    economy = outputs / "economy.gpkg"
    if "economy" in names and economy.is_file():
        written += economy_map(economy, countries, focus, crs, out_dir)
    if "trade" in names and economy.is_file():
        written += trade_map(economy, countries, focus, crs, out_dir)
    people = outputs / "population.gpkg"
    if "population" in names and people.is_file():
        written += population_map(outputs, countries, focus, crs, out_dir)
    lost = outputs / "rasters" / "person_hours_lost_current.tif"
    if "barrier_people" in names and lost.is_file():
        fr = Frame("Barrier effect weighted by people: person-hours lost per km² (current against open)",
                   countries, focus, crs)
        cmap = plt.get_cmap("magma_r")
        classes = [(lo, hi, lab, ",".join(str(int(255 * v)) for v in cmap(0.1 + 0.8 * i / 4)[:3]))
                   for i, (lo, hi, lab) in enumerate([(0.5, 10, "0.5–10"), (10, 100, "10–100"), (100, 1000, "100–1,000"),
                                                      (1000, 10000, "1,000–10,000"), (10000, 1e12, "10,000 and more")])]
        fr.raster(lost, classes, "person-hours lost per km²")
        fr.outline()
        fr.crossings(outputs, "#1b7837")
        written += fr.finish(out_dir, "barrier_people")
    return written


def population_map(outputs: Path, countries: gpd.GeoDataFrame, focus: str, crs: CRS, out_dir: Path) -> list[Path]:
    """People per km² (log classes) from ``rasters/population.tif``; countries without official regional
    totals hatched (settlements only); the land borders.

    Returns
    -------
    list of Path
    """
    cmap = plt.get_cmap("magma_r")
    edges = [0, 1, 10, 100, 1000, 1e12]
    labels = ["under 1", "1–10", "10–100", "100–1,000", "1,000 and more"]
    classes = [(lo, hi, lab, ",".join(str(int(255 * v)) for v in cmap(0.08 + 0.84 * i / 4)[:3]))
               for i, (lo, hi, lab) in enumerate(zip(edges[:-1], edges[1:], labels))]
    with rasterio.open(outputs / "rasters" / "population.tif") as src:
        year = src.tags().get("year", "")
    fr = Frame(f"People per km², {year} (official regional totals spread over settlements and land)",
               countries, focus, crs)
    fr.raster(outputs / "rasters" / "population.tif", classes, "people per km² (1 km cells)")
    totals = gpd.read_file(outputs / "population.gpkg", layer="region_totals")
    no_total = totals[~totals["has_total"].astype(bool)].dissolve("country").to_crs(crs)
    no_total.plot(ax=fr.ax, facecolor="none", edgecolor="#777777", hatch="////", linewidth=0.2, zorder=3)
    fr.handles.append(Patch(facecolor="none", edgecolor="#777777", hatch="////",
                            label="no official regional totals: settlements only"))
    segs = gpd.read_file(outputs / "borders.gpkg", layer="border_segments").to_crs(crs)
    # Near-black: a green line turns olive under deuteranopia and vanishes into the 1–10 class.
    segs[segs["segment_type"] == "land"].plot(ax=fr.ax, color="#111111", linewidth=1.2, zorder=7)
    fr.handles.append(Line2D([], [], color="#111111", linewidth=1.2, label="land border"))
    fr.outline()
    fr.fig.text(0.01, 0.054, "Population: BNS Kazakhstan, Rosstat (regional totals); GeoNames settlements (CC BY 4.0).",
                fontsize=6.2, color="#444444")
    return fr.finish(out_dir, "population")


#: GRP per capita classes (USD), a colour-blind-safe sequential ramp (viridis).
GRP_PC = [(0, 5000, "under 5,000"), (5000, 10000, "5,000–10,000"), (10000, 15000, "10,000–15,000"),
          (15000, 25000, "15,000–25,000"), (25000, np.inf, "25,000 and more")]


def economy_map(economy: Path, countries: gpd.GeoDataFrame, focus: str, crs: CRS, out_dir: Path) -> list[Path]:
    """GRP per capita by region on both sides of the border (headline year, USD), border regions outlined.

    Parameters
    ----------
    economy
        ``economy.gpkg`` (layer ``region_stats``).
    countries, focus, crs
        Base map, focus country, map CRS.
    out_dir
        Folder of ``economy.png`` / ``economy.pdf``.

    Returns
    -------
    list of Path
    """
    stats = gpd.read_file(economy, layer="region_stats")
    have = stats[stats["vintage"] == "naturalearth"].dropna(subset=["grp_per_capita_usd"])
    year = int(have.groupby("year")["country"].nunique().idxmax())  # the year with the most countries
    sel = stats[(stats["vintage"] == "naturalearth") & (stats["year"] == year)].to_crs(crs)
    fr = Frame(f"Gross regional product per capita, {year} (USD, current prices)", countries, focus, crs)
    cmap = plt.get_cmap("viridis")
    colours = [cmap(i / (len(GRP_PC) - 1)) for i in range(len(GRP_PC))]
    for (lo, hi, label), colour in zip(GRP_PC, colours):
        part = sel[(sel["grp_per_capita_usd"] >= lo) & (sel["grp_per_capita_usd"] < hi)]
        part.plot(ax=fr.ax, color=colour, edgecolor="white", linewidth=0.3, zorder=1)
        fr.handles.append(Patch(facecolor=colour, edgecolor="#777", label=label))
    nodata = sel[sel["grp_per_capita_usd"].isna()]
    nodata.plot(ax=fr.ax, facecolor="#e6e6e6", edgecolor="#bbbbbb", hatch="....", linewidth=0.3, zorder=1)
    fr.handles.append(Patch(facecolor="#e6e6e6", edgecolor="#999", hatch="....",
                            label="no regional population or GRP in USD"))
    border = sel[sel["borders"] != ""]
    border.boundary.plot(ax=fr.ax, color="#d95f02", linewidth=1.0, zorder=6)
    fr.handles.append(Line2D([], [], color="#d95f02", linewidth=1.2, label="border region"))
    fr.outline()
    fr.handles.insert(0, Patch(facecolor="none", edgecolor="none", label="USD per person"))
    fr.fig.text(0.01, 0.054, STATS_CREDIT + " Tyumen with its okrugs (statistical total).", fontsize=6.2,
                color="#444444")
    return fr.finish(out_dir, "economy")


def trade_map(economy: Path, countries: gpd.GeoDataFrame, focus: str, crs: CRS, out_dir: Path) -> list[Path]:
    """Trade with each neighbour: shaded by its share of the turnover with the table's partners, arrows
    for exports and imports scaled by value and labelled (million USD, latest year).

    Parameters
    ----------
    economy
        ``economy.gpkg`` (layers ``trade_by_neighbour``, ``trade_by_partner``).
    countries, focus, crs
        Base map, focus country, map CRS.
    out_dir
        Folder of ``trade.png`` / ``trade.pdf``.

    Returns
    -------
    list of Path
    """
    nb = gpd.read_file(economy, layer="trade_by_neighbour")
    partners = gpd.read_file(economy, layer="trade_by_partner")
    year = int(partners["year"].max())
    total = partners[partners["year"] == year]["turnover_usd_mn"].sum()
    sel = nb[(nb["year"] == year)].to_crs(crs)
    sel["share"] = 100 * sel["turnover_usd_mn"] / total
    fr = Frame(f"Kazakhstan's trade with its neighbours, {year} (million USD)", countries, focus, crs)
    classes = [(0, 2, "under 2 %"), (2, 5, "2–5 %"), (5, 15, "5–15 %"), (15, 25, "15–25 %"), (25, 101, "25 % and more")]
    cmap = plt.get_cmap("YlGn")  # not blue: the sea is blue
    for i, (lo, hi, label) in enumerate(classes):
        colour = cmap(0.15 + 0.6 * i / (len(classes) - 1))
        part = sel[(sel["share"] >= lo) & (sel["share"] < hi)]
        if len(part):   # every class stays in the legend (a classed map keys its whole scale)
            part.plot(ax=fr.ax, color=colour, edgecolor="white", linewidth=0.4, zorder=1)
        fr.handles.append(Patch(facecolor=colour, edgecolor="#777", label=label))
    missing = sel[sel["share"].isna()]
    fr.handles.insert(0, Patch(facecolor="none", edgecolor="none",
                               label=f"share of turnover with the {partners['partner'].nunique()} partners of the table"))
    if len(missing):
        missing.plot(ax=fr.ax, facecolor="#e6e6e6", hatch="....", edgecolor="#bbbbbb", zorder=1)
        fr.handles.append(Patch(facecolor="#e6e6e6", hatch="....", edgecolor="#999", label="not in the trade table"))
    home = countries.to_crs(crs).set_index("country").geometry[focus].representative_point()
    x0, x1, y0, y1 = fr.extent
    biggest = float(np.nanmax(np.r_[sel["exports_usd_mn"], sel["imports_usd_mn"]]))
    for r in sel.dropna(subset=["exports_usd_mn"]).itertuples():
        mx, my = 0.08 * (x1 - x0), 0.08 * (y1 - y0)  # labels stay clear of the frame
        target = r.geometry.intersection(shapely.box(x0 + mx, y0 + my, x1 - mx, y1 - my)).representative_point()
        dx, dy = target.x - home.x, target.y - home.y
        norm = np.hypot(dx, dy)
        off = np.array([-dy, dx]) / norm * 0.025 * (x1 - x0)  # exports and imports side by side
        for value, colour, (a, b) in ((r.exports_usd_mn, "#e66101", (home, target)),
                                      (r.imports_usd_mn, "#5e3c99", (target, home))):
            sign = 1 if colour == "#e66101" else -1
            start = np.array([a.x, a.y]) + sign * off + (np.array([dx, dy]) / norm * 0.12 * norm * (1 if a is home else -1))
            end = np.array([b.x, b.y]) + sign * off - (np.array([dx, dy]) / norm * 0.12 * norm * (1 if a is home else -1))
            width = 0.6 + 6.0 * value / biggest
            fr.ax.annotate("", xy=end, xytext=start, zorder=12,
                           arrowprops={"arrowstyle": "-|>", "color": colour, "lw": width, "mutation_scale": 8 + width * 2})
            mid = (start + end) / 2 + sign * off * 1.6
            fr.ax.text(mid[0], mid[1], f"{value:,.0f}", fontsize=6.5, color=colour, ha="center", va="center",
                       zorder=13, bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 0.5})
        fr.ax.text(target.x, target.y, f"{r.name}\n{r.share:.0f} % of turnover", fontsize=7, ha="center",
                   va="center", zorder=13, fontweight="bold", color="#222222")
    fr.handles += [Line2D([], [], color="#e66101", linewidth=2.5, label="Kazakhstan's exports (million USD)"),
                   Line2D([], [], color="#5e3c99", linewidth=2.5, label="Kazakhstan's imports (million USD)")]
    fr.outline()
    fr.legend_loc = "upper right"
    fr.fig.text(0.01, 0.054, STATS_CREDIT + " Azerbaijan and Iran (Caspian) are not in the trade table.",
                fontsize=6.2, color="#444444")
    return fr.finish(out_dir, "trade")


def run(cfg, outputs: Path, out_dir: Path) -> None:
    """Draw every publication map from the outputs into ``out_dir``.

    Parameters
    ----------
    cfg : Config
        Focus country, equal-area CRS, belt distances.
    outputs
        The output folder (``borders.gpkg``, ``accessibility.gpkg``, ``influence.gpkg``, ``rasters/``).
    out_dir
        Folder of the PNG and PDF files.
    """
    files = draw_maps(outputs, out_dir, cfg.focus_country, cfg.equal_area_crs, cfg.distances_km)
    log.info("wrote %d files in %s", len(files), out_dir)
