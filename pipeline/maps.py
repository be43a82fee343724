"""Stage 6b, maps (publication maps): ``outputs/maps/<name>.png`` (300 dpi) and ``.pdf`` (vector).

Reads the output GeoPackages and GeoTIFFs; the border layers (countries, border segments, belts, border
regions) from the stage files that ``borders.gpkg`` copies (``outputs/stages/``), so that the maps are
drawn while publish writes it. Every map is drawn in the equal-area conic of
``layers/study.yaml`` with a graticule (10°), a legend, a scale bar (true at the projection's
standard parallels; the Albers scale error across Kazakhstan is under 2 %), and the source credits.
Every map labels the countries and the growth poles and has a locator globe. Maps: cross-border zones
and border regions; travel time to poles (current); barrier effect (current − open); catchments and
territories beyond influence, one tier set each (``influence``: all poles, ``influence_kazakh``: Kazakhstan's)
in the scenario of ``influence.beyond.scenario`` (``layers/influence.yaml``); development axes; GRP per
capita; trade with each neighbour; people per km²; person-hours lost.
"""

from __future__ import annotations

import logging

from pathlib import Path

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["hatch.linewidth"] = 0.5  # hatches that shade, not hide, what is under them
# zlib level 3 instead of 6 in the PDFs (and the PNGs, at savefig): the same pixels and vectors, written in
# two thirds of the time, files about a tenth larger
matplotlib.rcParams["pdf.compression"] = 3
PNG_OPTIONS = {"compress_level": 3}
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import rasterio  # noqa: E402
import shapely  # noqa: E402
import matplotlib.patheffects as pe  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from pyproj import CRS  # noqa: E402

from .io import atomic_path  # noqa: E402
from .progress import track  # noqa: E402
from .styles import BARRIER, CATCHMENT_COLOURS, HOURS, INFLUENCE_MAPS, economy_map_year  # noqa: E402

CREDIT = ("Data: Natural Earth (public domain); geokz, A. Rodionov (CC BY 4.0); GeoNames (CC BY 4.0). "
          "Crossing delays: ADB CAREC CPMM 2022. Lengths, areas and times computed by border-pipeline.")
MAPS = ("zones", "travel_time", "barrier", "influence", "influence_kazakh", "axes", "economy", "trade", "population",
        "barrier_people")
#: The maps drawn from the influence stage's layers (the others take the poles from accessibility.gpkg, the
#: same poles: ``pipeline maps --map zones`` draws before the influence stage has run).
INFLUENCE_STAGE_MAPS = ("influence", "influence_kazakh", "axes")
#: Maps drawn at once at most (a process drawing a raster map peaks at about 1 GB).
MAX_WORKERS = 4
STATS_CREDIT = ("Statistics: BNS Kazakhstan, Rosstat, NSC Kyrgyzstan, NBS China; trade: BNS, WITS; "
                "rates: National Bank of Kazakhstan.")


log = logging.getLogger("pipeline")

#: Growth poles by tier: face colour, edge colour, marker, size (points²).
POLE_STYLE = {"national": ("#111111", "white", "o", 64), "regional": ("white", "#111111", "o", 26),
              "cross_border": ("#777777", "white", "D", 24)}
#: A white halo under map labels, legible over any fill.
HALO = [pe.withStroke(linewidth=2.2, foreground="white", alpha=0.85)]
#: The locator's globe: an orthographic view centred on the study (a sphere, so the limb is a circle).
GLOBE_RADIUS = 6_371_008.8


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

    def __init__(self, title: str, countries: gpd.GeoDataFrame, focus: str, crs: CRS,
                 poles: gpd.GeoDataFrame | None = None) -> None:
        self.crs = crs
        self.pole_layer = poles  # drawn and labelled by finish() unless the map drew them itself
        self.countries = countries.to_crs(crs)
        f = self.countries[self.countries["country"] == focus]
        minx, miny, maxx, maxy = f.total_bounds
        pad = 0.06 * max(maxx - minx, maxy - miny)
        self.extent = (minx - pad, maxx + pad, miny - pad, maxy + pad)
        self.fig, self.ax = plt.subplots(figsize=(11, 7.2))
        # geopandas' plot() asks for a redraw of the whole figure after every layer (plt.draw): with an
        # 8-million-cell raster on it, six of the nine renderings of a map were such redraws. The figure is
        # drawn once per file, by savefig.
        self.fig.canvas.draw_idle = lambda *args, **kwargs: None
        self.ax.set_facecolor("#dcebf5")  # sea
        self.countries.plot(ax=self.ax, color="#f2f0eb", edgecolor="none", zorder=0)
        self.ax.set_title(title, fontsize=13, loc="left")
        self.handles: list = []
        self.legend_loc = "lower left"
        self.locator_loc = "upper right"
        self.focus = focus
        self.label_countries = True
        self.unlabelled: set[str] = set()  # countries the map names itself (e.g. the trade map)
        self._pole_points = np.array([], dtype=object)
        self._pole_names: list[tuple[float, float, str]] = []   # placed by finish() once the layout is known
        self._label_boxes: list = []

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
        if self.pole_layer is not None:
            self.poles(self.pole_layer)
        covered = [self._locator()]
        if self.handles:
            leg = ax.legend(handles=self.handles, title=legend_title or None, loc=self.legend_loc, fontsize=7.5,
                            title_fontsize=8, framealpha=0.92)
            leg.set_zorder(1000)   # above pole markers and labels that fall under it
            covered.append(leg)
        self.fig.text(0.01, 0.032, f"Projection: {projection_name(self.crs)}. Scale bar true at the "
                      "standard parallels.", fontsize=6.2, color="#555555")
        self.fig.text(0.01, 0.01, CREDIT, fontsize=6.2, color="#444444")
        self.fig.tight_layout(rect=(0, 0.05, 1, 0.975))  # room for the title above the frame
        # Laid out once, here: tight_layout leaves a placeholder layout engine behind, and with any engine
        # savefig draws the whole figure once more before drawing it into the file (twice per map's
        # rasters, a third of the stage's time).
        self.fig.set_layout_engine(None)
        renderer = self.fig.canvas.get_renderer()
        to_data = ax.transData.inverted()
        boxes = [shapely.box(*b[0], *b[1]) for b in (to_data.transform(a.get_window_extent(renderer))
                                                      for a in covered)] + [self._scalebar_box]
        self._place_pole_names(boxes)
        if self.label_countries:
            self._country_labels(boxes)
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for ext, dpi in (("png", 300), ("pdf", None)):
            target = out_dir / f"{name}.{ext}"
            with atomic_path(target) as tmp:
                self.fig.savefig(tmp, dpi=dpi, format=ext, **({"pil_kwargs": PNG_OPTIONS} if ext == "png" else {}))
            written.append(target)
        plt.close(self.fig)
        return written

    def _per_pt(self) -> float:
        """Map units per typographic point at the figure's final layout."""
        return (self.extent[1] - self.extent[0]) / (self.ax.get_window_extent().width * 72 / self.fig.dpi)

    def _place_pole_names(self, covered: list) -> None:
        """Each pole's name beside its marker, at the first of eight positions (right and above first)
        that stays inside the frame and clear of the names placed before, the markers, and the legend,
        the locator and the scale bar (``covered``); the largest poles are placed first."""
        x0, x1, y0, y1 = self.extent
        u = self._per_pt()
        size, gap = 6.0, 2.5
        xy = shapely.get_coordinates(self._pole_points)
        taken = list(shapely.buffer(shapely.points(xy), 2.5 * u)) if len(xy) else []
        placed_tree: list = list(covered)
        frame = shapely.box(x0, y0, x1, y1)
        for x, y, name in self._pole_names:
            w, h = 0.58 * size * len(name) * u, 1.15 * size * u
            d = gap * u
            spots = [(x + d, y + d, "left", "bottom"), (x + d, y - d, "left", "top"),
                     (x - d, y + d, "right", "bottom"), (x - d, y - d, "right", "top"),
                     (x, y + 2 * d, "center", "bottom"), (x, y - 2 * d, "center", "top"),
                     (x + 2 * d, y, "left", "center"), (x - 2 * d, y, "right", "center")]
            choice, fallback = None, None
            obstacles = placed_tree + [g for g in taken if not g.contains(shapely.Point(x, y))]   # not its own marker
            for tx, ty, ha, va in spots:
                bx0 = {"left": tx, "right": tx - w, "center": tx - w / 2}[ha]
                by0 = {"bottom": ty, "top": ty - h, "center": ty - h / 2}[va]
                box = shapely.box(bx0, by0, bx0 + w, by0 + h)
                if not frame.contains(box):
                    continue
                fallback = fallback or (tx, ty, ha, va, box)
                if not any(box.intersects(g) for g in obstacles):
                    choice = (tx, ty, ha, va, box)
                    break
            choice = choice or fallback
            if choice is None:
                continue
            tx, ty, ha, va, box = choice
            self.ax.text(tx, ty, name, fontsize=size, ha=ha, va=va, zorder=16, path_effects=HALO)
            placed_tree.append(box)
            self._label_boxes.append(box)

    def _country_labels(self, covered: list) -> None:
        """Country names in grey capitals, each where the whole name fits inside the frame and clear of
        the legend, the locator (``covered``: boxes in map units) and the poles' markers and names: at
        the centre of the widest open space of the country's largest free part."""
        x0, x1, y0, y1 = self.extent
        per_pt = self._per_pt()
        r = 4 * per_pt   # a pole's marker
        xy = shapely.get_coordinates(self._pole_points)
        obstacles = np.vstack([np.array([b.bounds for b in covered + self._label_boxes]).reshape(-1, 4),
                               np.c_[xy[:, 0] - r, xy[:, 1] - r, xy[:, 0] + r, xy[:, 1] + r]])
        for c in self.countries.itertuples():
            if c.country in self.unlabelled:
                continue
            focus = c.country == self.focus
            size = 9 if focus else 7
            text = str(c.name).upper()
            w, h = 0.35 * size * len(text) * per_pt, 0.7 * size * per_pt   # half the label's width, height
            room = shapely.box(x0 + w, y0 + h, x1 - w, y1 - h).difference(shapely.union_all(
                shapely.box(obstacles[:, 0] - w, obstacles[:, 1] - h, obstacles[:, 2] + w, obstacles[:, 3] + h)))
            part = c.geometry.intersection(room)
            if part.is_empty or part.area < 0.002 * (x1 - x0) * (y1 - y0):
                continue
            biggest = max(getattr(part, "geoms", [part]), key=lambda g: g.area)
            at = shapely.maximum_inscribed_circle(biggest, tolerance=5000).coords[0]
            self.ax.text(at[0], at[1], text, fontsize=size, color="#4d4d4d", alpha=0.9, ha="center", va="center",
                         fontstyle="italic", zorder=17, fontweight="bold" if focus else "normal",
                         path_effects=HALO)

    def _locator(self):
        """A small globe in a corner: the map's frame (red) on an orthographic view centred on the focus
        country (dark); only the study area's countries are drawn, in grey, with a 30° graticule."""
        import pyproj

        x0, x1, y0, y1 = self.extent
        frame = gpd.GeoSeries([shapely.box(x0, y0, x1, y1)], crs=self.crs).segmentize(20_000)
        lon0, lat0 = frame.to_crs("EPSG:4326").iloc[0].centroid.coords[0]
        ortho = CRS.from_proj4(f"+proj=ortho +lat_0={lat0:.1f} +lon_0={lon0:.1f} +R={GLOBE_RADIUS} +units=m")
        loc = {"upper right": [0.80, 0.745, 0.19, 0.24], "upper left": [0.01, 0.745, 0.19, 0.24]}[self.locator_loc]
        inset = self.ax.inset_axes(loc, zorder=900)
        inset.set_aspect("equal")
        inset.add_patch(plt.Circle((0, 0), GLOBE_RADIUS, facecolor="white", edgecolor="#555555", linewidth=0.6))
        to = pyproj.Transformer.from_crs("EPSG:4326", ortho, always_xy=True)
        for lon in range(-180, 180, 30):
            lat = np.linspace(-90, 90, 181)
            self._globe_line(inset, *to.transform(np.full_like(lat, lon), lat))
        for lat in range(-60, 90, 30):
            lon = np.linspace(-180, 180, 361)
            self._globe_line(inset, *to.transform(lon, np.full_like(lon, lat)))
        land = self.countries.to_crs(ortho)
        land.plot(ax=inset, color="#c8c8c8", edgecolor="none")
        land[land["country"] == self.focus].plot(ax=inset, color="#555555", edgecolor="none")
        frame.to_crs(ortho).boundary.plot(ax=inset, color="#d7191c", linewidth=0.9)
        inset.set_xlim(-1.02 * GLOBE_RADIUS, 1.02 * GLOBE_RADIUS)
        inset.set_ylim(-1.02 * GLOBE_RADIUS, 1.02 * GLOBE_RADIUS)
        inset.axis("off")
        return inset

    @staticmethod
    def _globe_line(ax, x, y) -> None:
        """One graticule line on the globe, cut where it goes behind the limb (non-finite points)."""
        ok = np.isfinite(x) & np.isfinite(y)
        for run in np.split(np.arange(len(x)), np.flatnonzero(np.diff(ok.astype(int))) + 1):
            if ok[run[0]] and len(run) > 1:
                ax.plot(x[run], y[run], color="#b0b8bf", linewidth=0.3)

    def _graticule(self) -> None:
        lines = [shapely.LineString([(lon, lat) for lat in np.linspace(25, 65, 81)])
                 for lon in range(30, 111, 10)]
        lines += [shapely.LineString([(lon, lat) for lon in np.linspace(30, 110, 161)])
                  for lat in range(30, 66, 10)]
        grat = gpd.GeoSeries(lines, crs="EPSG:4326").to_crs(self.crs)
        grat.plot(ax=self.ax, color="#6f7f8c", linewidth=0.45, linestyle=":", alpha=0.85, zorder=6)
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
        self.ax.add_patch(plt.Rectangle((bx - 0.012 * (x1 - x0), by - 0.012 * (y1 - y0)), length + 0.045 * (x1 - x0),
                                        0.05 * (y1 - y0), facecolor="white", alpha=0.8, edgecolor="none", zorder=19))
        for i in range(5):
            self.ax.add_patch(plt.Rectangle((bx + i * length / 5, by), length / 5, 0.008 * (y1 - y0),
                                            facecolor="black" if i % 2 == 0 else "white", edgecolor="black",
                                            linewidth=0.5, zorder=20))
        for km, x in ((0, bx), (250, bx + length / 2), (500, bx + length)):
            self.ax.text(x, by + 0.012 * (y1 - y0), f"{km}", fontsize=6.5, ha="center", zorder=20)
        self.ax.text(bx + length + 0.01 * (x1 - x0), by, "km", fontsize=6.5, va="bottom", zorder=20)
        self._scalebar_box = shapely.box(bx - 0.01 * (x1 - x0), by, bx + length + 0.03 * (x1 - x0), by + 0.04 * (y1 - y0))

    def raster(self, path: Path, classes: list[tuple[float, float, str, str]], title: str) -> None:
        with rasterio.open(path) as src:
            values = src.read(1)
            nodata = src.nodata
            b = src.bounds
        if nodata is not None:   # nodata: NaN (a plain array: numpy.ma's masked copies took 0.4 s a map)
            values = np.where(values == nodata, np.nan, values)
        bounds = [classes[0][0]] + [hi for _, hi, _, _ in classes]
        cmap = ListedColormap([_rgb(c) for *_, c in classes])
        below = values < bounds[0]  # e.g. no barrier loss: left uncoloured, never in the first class
        # Classified here into an 8-bit RGBA image (what BoundaryNorm and the colour map would give:
        # [lo, hi) per class, above the last bound the last class; nodata and below transparent): matplotlib
        # then only resamples 4 bytes per cell, not its float64 copies of 8 million values (1.5 GB a map).
        lut = np.zeros((cmap.N + 1, 4), dtype=np.uint8)
        lut[1:] = cmap(np.arange(cmap.N), bytes=True)
        index = np.searchsorted(np.asarray(bounds, dtype=np.float64), values, side="right")
        index = np.minimum(index, cmap.N).astype(np.uint8)            # above the last bound: the last class
        index[~(values >= bounds[0])] = 0                              # NaN or below the first bound
        # "none": the PDF embeds the raster as it is, every cell the frame shows (3,316 × 2,009 at 1 km), not
        # resampled to the figure's 100 dpi (1,044 × 633, three cells a pixel), and skips that resampling; the
        # PNG is pixel-identical to "nearest".
        self.ax.imshow(lut[index], extent=(b.left, b.right, b.bottom, b.top), interpolation="none", zorder=1)
        self.handles += [Patch(facecolor=_rgb(c), edgecolor="#777", label=lab) for *_, lab, c in classes]
        if below.any():
            self.handles.insert(0, Patch(facecolor="#f2f0eb", edgecolor="#777",
                                         label=f"less than {bounds[0]:g} (no colour)"))
        self.handles.insert(0, Patch(facecolor="none", edgecolor="none", label=title))

    def poles(self, poles: gpd.GeoDataFrame, labels: bool = True) -> None:
        """The growth poles by tier (national, regional, cross-border), named, with their legend entries."""
        self.pole_layer = None
        p = poles.to_crs(self.crs)
        self._pole_points = np.concatenate([self._pole_points, p.geometry.values])
        # Tiers told apart by shape and lightness, not hue: legible over every map's colours and under
        # colour-blindness (black disc, white disc, grey diamond).
        for tier, (face, edge, marker, size) in POLE_STYLE.items():
            sel = p[p["tier"] == tier]
            self.ax.scatter(sel.geometry.x, sel.geometry.y, s=size, color=face, edgecolor=edge, marker=marker,
                            linewidth=0.8, zorder=15)
            self.handles.append(Line2D([], [], marker=marker, linestyle="", markerfacecolor=face,
                                       markeredgecolor=edge, markersize=np.sqrt(size),
                                       label=f"{tier.replace('_', '-')} pole"))
        if labels:
            x0, x1, y0, y1 = self.extent
            inside = p[(p.geometry.x > x0) & (p.geometry.x < x1) & (p.geometry.y > y0) & (p.geometry.y < y1)]
            rank = inside["tier"].map({"national": 0, "regional": 1}).fillna(2)
            if "population" in inside:
                inside = inside.assign(_r=rank, _p=-inside["population"].fillna(0)).sort_values(["_r", "_p"])
            self._pole_names += [(g.x, g.y, n) for g, n in zip(inside.geometry, inside["name"])]


#: The maps drawn over a full-resolution raster.
RASTER_MAPS = ("travel_time", "barrier", "population", "barrier_people")


def border_layer(outputs: Path, layer: str) -> gpd.GeoDataFrame:
    """A layer of ``borders.gpkg`` read from the stage file publish copies it from (the same features).

    Parameters
    ----------
    outputs
        The output folder (its ``stages/`` holds the stage files).
    layer
        ``countries`` (ingest), ``border_segments`` (borders), ``zones`` (zones) or ``border_regions``.

    Returns
    -------
    GeoDataFrame
        The layer, in the CRS it was written in.
    """
    from .paths import Paths

    p = Paths(out=outputs)
    source = {"countries": p.ingest, "border_segments": p.borders, "zones": p.zones,
              "border_regions": p.border_regions}[layer]
    return gpd.read_file(source, layer=layer)


def draw_maps(outputs: Path, out_dir: Path, focus: str, crs: CRS, distances: tuple[float, ...],
              names: tuple[str, ...] = MAPS, scenario: str = "current", workers: int | None = None) -> list[Path]:
    """Draw the publication maps.

    Parameters
    ----------
    outputs
        The output folder (GeoPackages, ``rasters/``, ``stages/``: the border layers and the crossings).
    out_dir
        Folder of the PNG and PDF files.
    focus, crs
        Focus country (ISO alpha-3) and the equal-area map CRS.
    distances
        Belt widths (km) of the zones map.
    names
        The maps to draw (a subset of ``MAPS``).
    scenario
        Border scenario of the influence maps (that of the territories beyond influence).
    workers
        Processes drawing maps at once (default: one per core, at most ``MAX_WORKERS``).

    Returns
    -------
    list of Path
        The files written.
    """
    import os

    workers = min(len(names), os.cpu_count() or 1, MAX_WORKERS) if workers is None else workers
    if workers > 1:
        # One process per map at a time (matplotlib draws on one core): forked workers write temporaries
        # that this stage renames with its other outputs, all or nothing.
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        from .io import adopt, in_worker

        written = []
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            # the maps over a raster (about twice as long) first: the workers end together
            order = sorted(names, key=lambda n: n not in RASTER_MAPS)
            jobs = [pool.submit(in_worker, draw_maps, outputs, out_dir, focus, crs, distances, (n,), scenario, 1)
                    for n in order]
            for job in track(as_completed(jobs), "maps", total=len(jobs)):   # a progress bar on a terminal
                files, pairs = job.result()
                adopt(pairs)
                written += files
        return sorted(written)
    influence = outputs / "influence.gpkg"
    countries = border_layer(outputs, "countries")
    poles = gpd.read_file(influence if set(names) & set(INFLUENCE_STAGE_MAPS) else outputs / "accessibility.gpkg",
                          layer="poles")
    written: list[Path] = []
    for name in track(names, "maps") if len(names) > 1 else names:
        if name == "zones":
            fr = Frame("Cross-border belts and border regions", countries, focus, crs, poles)
            zones = border_layer(outputs, "zones").to_crs(crs)
            shades = {"focus": ["#fdae61", "#fee08b"], "neighbour": ["#74add1", "#abd9e9"]}
            for i, d in enumerate(sorted(distances, reverse=True)):
                for side in ("focus", "neighbour"):
                    sel = zones[(zones["distance_km"] == d) & (zones["side"] == side)]
                    color = shades[side][1] if i == 0 else shades[side][0]  # the wider belt lighter
                    sel.plot(ax=fr.ax, color=color, alpha=0.55 if i == 0 else 0.9, edgecolor="none", zorder=2)
                    fr.handles.append(Patch(facecolor=color, label=f"{side} side, within {d:g} km"))
            br = border_layer(outputs, "border_regions")
            br = br[(br["vintage"] == "naturalearth") & br["borders"]]
            br = br.drop_duplicates("region_id").to_crs(crs)
            br.boundary.plot(ax=fr.ax, color="#7f3b08", linewidth=0.5, zorder=4)
            fr.handles.append(Line2D([], [], color="#7f3b08", linewidth=0.8,
                                     label="region bordering a neighbour"))
            segs = border_layer(outputs, "border_segments").to_crs(crs)
            segs[segs["segment_type"] == "land"].plot(ax=fr.ax, color="#d73027", linewidth=1.4, zorder=7)
            segs[segs["segment_type"] == "maritime"].plot(ax=fr.ax, color="#4575b4", linewidth=1.2,
                                                          linestyle="--", zorder=7)
            fr.handles += [Line2D([], [], color="#d73027", linewidth=1.4, label="land border"),
                           Line2D([], [], color="#4575b4", linewidth=1.2, linestyle="--", label="Caspian shore")]
            fr.outline()
            written += fr.finish(out_dir, "zones")
        if name == "travel_time":
            fr = Frame("Travel time to the nearest growth pole (current border delays)", countries, focus, crs)
            fr.raster(outputs / "rasters" / "access_current.tif", HOURS, "hours by road")
            fr.outline()
            fr.poles(poles)
            written += fr.finish(out_dir, "travel_time")
        if name == "barrier":
            fr = Frame("Barrier effect of the borders: hours lost against open borders", countries, focus, crs, poles)
            fr.raster(outputs / "rasters" / "barrier_current.tif", BARRIER[1:], "hours lost (current − open)")
            fr.outline()
            fr.crossings(outputs, "black")
            written += fr.finish(out_dir, "barrier")
        if name in INFLUENCE_MAPS:
            written += influence_map(outputs, countries, poles, focus, crs, out_dir, name, INFLUENCE_MAPS[name], scenario)
        if name == "axes":
            from .styles import AXIS_COLOURS

            fr = Frame("Development axes by road (solid, with corridors) and by rail (dashed)", countries, focus, crs)
            corr = gpd.read_file(influence, layer="axis_corridors").to_crs(crs)
            axes = gpd.read_file(influence, layer="axes").to_crs(crs)
            axes = axes[axes.geometry.notna()]
            modes = axes["mode"] if "mode" in axes else pd.Series("road", index=axes.index)
            # Where axes share a road (Atyrau–Aktau: northern and southern), each stays visible: the first axis
            # widest underneath, the next narrower on top, like a cased line.
            widths = dict(zip(AXIS_COLOURS, (3.4, 2.1, 1.0)))
            for i, (axis, rgba) in enumerate(AXIS_COLOURS.items()):
                color = tuple(int(v) / 255 for v in rgba.split(","))
                corr[corr["axis"] == axis].plot(ax=fr.ax, color=color, alpha=0.15, zorder=1)
                axes[(axes["axis"] == axis) & (modes == "road")].plot(ax=fr.ax, color=color, linewidth=widths[axis],
                                                                     zorder=8 + i)
                rail = axes[(axes["axis"] == axis) & (modes == "rail")]
                if len(rail):
                    rail.plot(ax=fr.ax, color=color, linewidth=1.0, linestyle=(0, (4, 2)), zorder=12)
                fr.handles.append(Line2D([], [], color=color, linewidth=widths[axis], label=f"{axis} axis"))
            if (modes == "rail").any():
                fr.handles.append(Line2D([], [], color="#555555", linewidth=1.0, linestyle=(0, (4, 2)), label="by rail"))
            # The axes' end stops that are not poles (border crossings, places): a square, named.
            road = axes[modes == "road"]
            ends = pd.concat([
                pd.DataFrame({"name": road["from_stop"], "xy": [g.coords[0] for g in shapely.get_geometry(
                    road.geometry.line_merge().values, 0)]}),
                pd.DataFrame({"name": road["to_stop"], "xy": [g.coords[-1] for g in shapely.get_geometry(
                    road.geometry.line_merge().values, -1)]})]).drop_duplicates("name")
            ends = ends[~ends["name"].isin(poles["name"])]
            if len(ends):
                xy = np.array(ends["xy"].tolist())
                fr.ax.scatter(xy[:, 0], xy[:, 1], s=22, marker="s", color="white", edgecolor="#111111", linewidth=0.8,
                              zorder=15)
                fr.handles.append(Line2D([], [], marker="s", linestyle="", markerfacecolor="white",
                                         markeredgecolor="#111111", markersize=4.5,
                                         label="axis end: border crossing or place"))
                fr._pole_names += [(x, y, n) for (x, y), n in zip(xy, ends["name"])]
                fr._pole_points = np.concatenate([fr._pole_points, shapely.points(xy)])
            fr.outline()
            fr.poles(poles)
            written += fr.finish(out_dir, "axes")
        economy = outputs / "economy.gpkg"
        if name == "economy" and economy.is_file():
            written += economy_map(economy, countries, focus, crs, out_dir, poles)
        if name == "trade" and economy.is_file():
            written += trade_map(economy, countries, focus, crs, out_dir, poles)
        people = outputs / "population.gpkg"
        if name == "population" and people.is_file():
            written += population_map(outputs, countries, focus, crs, out_dir, poles)
        lost = outputs / "rasters" / "person_hours_lost_current.tif"
        if name == "barrier_people" and lost.is_file():
            fr = Frame("Barrier effect weighted by people: person-hours lost per km² (current against open)",
                       countries, focus, crs, poles)
            cmap = plt.get_cmap("magma_r")
            classes = [(lo, hi, lab, ",".join(str(int(255 * v)) for v in cmap(0.1 + 0.8 * i / 4)[:3]))
                       for i, (lo, hi, lab) in enumerate([(0.5, 10, "0.5–10"), (10, 100, "10–100"), (100, 1000, "100–1,000"),
                                                          (1000, 10000, "1,000–10,000"), (10000, 1e12, "10,000 and more")])]
            fr.raster(lost, classes, "person-hours lost per km²")
            fr.outline()
            fr.crossings(outputs, "#1b7837")
            written += fr.finish(out_dir, "barrier_people")
    return written


def influence_map(outputs: Path, countries: gpd.GeoDataFrame, poles: gpd.GeoDataFrame, focus: str, crs: CRS,
                  out_dir: Path, name: str, tier_set: str, scenario: str) -> list[Path]:
    """The catchments of one tier set's poles in one border scenario, each labelled with its pole's name,
    and the territories beyond a few hours of every pole of the set (hatched).

    Parameters
    ----------
    outputs
        The output folder (``influence.gpkg``).
    countries, poles, focus, crs
        Base map, growth poles, focus country, map CRS.
    out_dir
        Folder of ``<name>.png`` / ``<name>.pdf``.
    name
        The map's file name.
    tier_set, scenario
        Which catchments (``layers/influence.yaml``).

    Returns
    -------
    list of Path
    """
    influence = outputs / "influence.gpkg"
    catch = gpd.read_file(influence, layer="catchments")
    catch = catch[(catch["tier_set"] == tier_set) & (catch["scenario"] == scenario)].to_crs(crs)
    if catch.empty:
        from .errors import PipelineError

        raise PipelineError(f"{influence}: no catchments of tier set '{tier_set}' in scenario '{scenario}' "
                            f"for map {name}; the tier sets of layers/influence.yaml must include it")
    beyond = gpd.read_file(influence, layer="beyond_influence")
    beyond = beyond[beyond["tier_set"] == tier_set].to_crs(crs)
    hours = float(beyond["hours"].iloc[0]) if len(beyond) else float("nan")
    tiers = sorted(set(catch["tier"]), key=["national", "regional", "cross_border"].index)
    what = ", ".join(t.replace("_", "-") for t in tiers)
    fr = Frame(f"Catchments of {len(catch)} growth poles ({what}; tier set '{tier_set}'), {scenario} border "
               f"delays", countries, focus, crs)
    palette = [CATCHMENT_COLOURS[c % len(CATCHMENT_COLOURS)] for c in catch["map_colour"]]
    catch.plot(ax=fr.ax, color=palette, alpha=0.55, edgecolor="white", linewidth=0.6, zorder=1)
    if len(beyond):
        beyond.plot(ax=fr.ax, facecolor="none", edgecolor="#67001f", hatch="///", linewidth=0.5, zorder=3)
    fr.handles += [Patch(facecolor=CATCHMENT_COLOURS[0], alpha=0.55, edgecolor="white",
                         label="catchment: fastest pole by road, named on the map"),
                   Patch(facecolor="none", edgecolor="#67001f", hatch="///",
                         label=f"more than {hours:g} h from every pole of the set")]
    fr.outline()
    shown = poles[poles["pole_id"].isin(catch["pole_id"])]
    fr.poles(shown)
    # Catchments whose pole lies outside the frame: the pole's name in italics inside its catchment.
    x0, x1, y0, y1 = fr.extent
    inner = shapely.box(x0, y0, x1, y1).buffer(-0.04 * (x1 - x0))
    at = shown.set_index("pole_id").to_crs(crs).geometry
    for r in catch.itertuples():
        if shapely.box(x0, y0, x1, y1).contains(at[r.pole_id]):   # named by fr.poles
            continue
        part = r.geometry.intersection(inner)
        if part.area > 0.002 * inner.area:
            pt = part.representative_point()
            fr.ax.text(pt.x, pt.y, r.name, fontsize=6, fontstyle="italic", ha="center", va="center", zorder=16,
                       color="#333333", path_effects=HALO)
    return fr.finish(out_dir, name)


def population_map(outputs: Path, countries: gpd.GeoDataFrame, focus: str, crs: CRS, out_dir: Path,
                   poles: gpd.GeoDataFrame | None = None) -> list[Path]:
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
               countries, focus, crs, poles)
    fr.raster(outputs / "rasters" / "population.tif", classes, "people per km² (1 km cells)")
    totals = gpd.read_file(outputs / "population.gpkg", layer="region_totals")
    no_total = totals[~totals["has_total"].astype(bool)].dissolve("country").to_crs(crs)
    no_total.plot(ax=fr.ax, facecolor="none", edgecolor="#777777", hatch="////", linewidth=0.2, zorder=3)
    fr.handles.append(Patch(facecolor="none", edgecolor="#777777", hatch="////",
                            label="no official regional totals: settlements only"))
    segs = border_layer(outputs, "border_segments").to_crs(crs)
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


def economy_map(economy: Path, countries: gpd.GeoDataFrame, focus: str, crs: CRS, out_dir: Path,
                poles: gpd.GeoDataFrame | None = None) -> list[Path]:
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
    year = economy_map_year(stats)
    sel = stats[(stats["vintage"] == "naturalearth") & (stats["year"] == year)].to_crs(crs)
    fr = Frame(f"Gross regional product per capita, {year} (USD, current prices)", countries, focus, crs, poles)
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


def trade_map(economy: Path, countries: gpd.GeoDataFrame, focus: str, crs: CRS, out_dir: Path,
              poles: gpd.GeoDataFrame | None = None) -> list[Path]:
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
    fr = Frame(f"Kazakhstan's trade with its neighbours, {year} (million USD)", countries, focus, crs,
               None if poles is None else poles[poles["tier"] != "cross_border"])  # the focus country's poles
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
    fr.unlabelled = set(sel["country"])  # named with their share beside the arrows
    fr.legend_loc = "upper right"
    fr.locator_loc = "upper left"
    fr.fig.text(0.01, 0.054, STATS_CREDIT + " Azerbaijan and Iran (Caspian) are not in the trade table.",
                fontsize=6.2, color="#444444")
    return fr.finish(out_dir, "trade")


def run(cfg, outputs: Path, out_dir: Path, names: tuple[str, ...] = ()) -> None:
    """Draw the publication maps (``names``, default every map) from the outputs into ``out_dir``.

    Parameters
    ----------
    cfg : Config
        Focus country, equal-area CRS, belt distances.
    outputs
        The output folder (``stages/``, ``accessibility.gpkg``, ``influence.gpkg``, ``economy.gpkg``,
        ``population.gpkg``, ``rasters/``).
    out_dir
        Folder of the PNG and PDF files.
    names
        Maps of :data:`MAPS` (``--map``; an unknown name is an error).
    """
    from .config import load_influence
    from .errors import PipelineError

    if unknown := [n for n in names if n not in MAPS]:
        raise PipelineError(f"unknown map(s) {', '.join(map(repr, unknown))}: the maps are {', '.join(MAPS)}")
    scenario = load_influence(cfg.layers_dir).beyond.scenario
    files = draw_maps(outputs, out_dir, cfg.focus_country, cfg.equal_area_crs, cfg.distances_km,
                      tuple(names) or MAPS, scenario=scenario)
    log.info("wrote %d files in %s", len(files), out_dir)
