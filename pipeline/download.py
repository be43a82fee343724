"""``make data``: download the canonical sources into the data directory.

Reads ``layers/sources.yaml``. For each source it fetches ``url`` over HTTP(S) (a Natural Earth zip,
or a shapefile and its sidecar files for geokz), checks the SHA-256 when one is pinned (and prints
the digest when none is, so it can be pinned), then writes ``<data dir>/<file>``: a GeoPackage whose
layer is the file stem, EPSG:4326, geometries clipped to the study bbox, polygons as MultiPolygon and
lines as LineString, columns lower-cased or reduced as configured: the layout of the data pack.
Files already present are kept unless ``force``. Every write is atomic.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import geopandas as gpd
import shapely
from pyproj import CRS

from .config import Config, Source
from .errors import DataError, PipelineError
from .io import _short, read_layer, to_crs, write_layers
from .progress import byte_bar
from .topology import polygonal

log = logging.getLogger("pipeline")

SHAPEFILE_SIDECARS = (".shx", ".dbf", ".prj", ".cpg")
TIMEOUT_S = 120
WGS84 = CRS.from_epsg(4326)


def fetch(url: str, dest: Path, *, optional: bool = False) -> str | None:
    """Download ``url`` to ``dest``; return its SHA-256 (None if optional and absent)."""
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp, dest.open("wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            with byte_bar(url.rsplit("/", 1)[-1], total) as advance:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    h.update(chunk)
                    done += len(chunk)
                    advance(len(chunk))
            log.info("  %s: %.1f MB%s", url, done / 1e6, f" of {total / 1e6:.1f}" if total else "")
    except urllib.error.HTTPError as exc:
        if optional and exc.code == 404:
            return None
        raise DataError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"download of {url} failed ({reason}); is this machine online? Offline, "
                        "point DATA_DIR at a copy of the data pack instead") from None
    return h.hexdigest()


def _check_digest(src: Source, digest: str) -> None:
    if src.sha256 and digest != src.sha256:
        raise DataError(f"{src.url}: SHA-256 {digest} does not match the pinned {src.sha256} "
                        f"(layers/sources.yaml: sources.{src.key}.sha256); the file changed upstream "
                        "or the download is corrupt")
    if not src.sha256:
        log.info("  %s sha256 %s (not pinned; add it to layers/sources.yaml to pin)", src.key, digest)


def fetch_source(src: Source, workdir: Path) -> str:
    """Fetch one source into ``workdir``; return the path OGR should read."""
    name = src.url.rsplit("/", 1)[-1]
    local = workdir / name
    digest = fetch(src.url, local)
    assert digest is not None
    _check_digest(src, digest)
    if name.lower().endswith(".zip"):
        member = src.member or f"{Path(name).stem}.shp"
        try:
            with zipfile.ZipFile(local) as z:
                names = z.namelist()
                broken = z.testzip()
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError(f"{src.url}: the downloaded file cannot be read as a zip archive ({exc}); "
                            "try `make data` again") from None
        if broken is not None:
            raise DataError(f"{src.url}: the downloaded zip is corrupt (member {broken} fails its CRC); "
                            "try `make data` again")
        if member not in names:
            raise DataError(f"{src.url}: the zip has no {member} (layers/sources.yaml: "
                            f"sources.{src.key}.member); it has {', '.join(names[:8])}")
        return f"/vsizip/{local}/{member}"
    if name.lower().endswith(".shp"):
        base = src.url[: -len(".shp")]
        for ext in SHAPEFILE_SIDECARS:
            fetch(base + ext, local.with_suffix(ext), optional=ext == ".cpg")
    return str(local)


def normalise(gdf: gpd.GeoDataFrame, src: Source, bbox: tuple[float, float, float, float]
              ) -> gpd.GeoDataFrame:
    """Clip to ``bbox``, unify geometry types, select and rename columns as the data pack has them."""
    gdf = to_crs(gdf, WGS84, src.key)
    if src.lowercase_columns:
        gdf = gdf.rename(columns={c: c.lower() for c in gdf.columns if c != gdf.geometry.name})
    if src.columns:
        missing = [c for c in src.columns if c not in gdf.columns]
        if missing:
            raise DataError(f"{src.url}: missing column(s) {', '.join(missing)}")
        gdf = gdf[[*src.columns, gdf.geometry.name]]
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    gdf = gdf.iloc[gdf.sindex.query(shapely.box(*bbox), predicate="intersects")].sort_index()
    clipped = shapely.clip_by_rect(shapely.make_valid(gdf.geometry.values), *bbox)
    kinds = set(gdf.geom_type)
    if kinds & {"Polygon", "MultiPolygon"}:
        clipped = [polygonal(g) for g in clipped]
    gdf = gdf.set_geometry(gpd.GeoSeries(clipped, index=gdf.index, crs=gdf.crs))
    gdf = gdf[~gdf.geometry.is_empty]
    if kinds & {"LineString", "MultiLineString"}:
        gdf = gdf.explode(index_parts=False)
        gdf = gdf[gdf.geom_type == "LineString"]
    return gdf.reset_index(drop=True)


def download_sources(cfg: Config, keys: list[str], *, force: bool = False) -> None:
    """Download each source named in ``keys`` into ``cfg.data_dir``."""
    for key in keys:
        src = cfg.source(key)
        target = cfg.data_dir / src.file
        if target.is_file() and not force:
            log.info("%s: %s present, kept (use --force to download again)", key, target)
            continue
        log.info("%s: downloading %s", key, src.title)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PipelineError(f"cannot write to the data directory {cfg.data_dir}: {exc}") from None
        workdir = Path(tempfile.mkdtemp(prefix="pipeline-download-"))
        try:
            path = fetch_source(src, workdir)
            gdf = normalise(read_layer(path), src, cfg.bbox)
            if gdf.empty:   # checked before it replaces anything
                raise DataError(f"{src.url}: no feature of {src.key} inside the study area {cfg.bbox}; the "
                                "download is not the expected layer (layers/sources.yaml: "
                                f"sources.{src.key}); nothing was replaced")
            write_layers(target, {src.layer: gdf})
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def source_lines(cfg, stages: list[str], under: str = "", make: bool = False) -> list[str]:
    """The data files each stage reads, for Make: relative to the current folder, or below ``under``.

    Parameters
    ----------
    cfg : Config
        The run's configuration.
    stages
        ``ingest`` and/or ``network``.
    under
        Prefix of each file (a link to the data directory), instead of the path relative to here.
    make
        One Make assignment per stage (``SOURCES_INGEST := a b``) instead of one file per line.

    Returns
    -------
    list of str
        The lines to print.
    """
    import os

    lines = []
    for name in stages:
        files = [f"{under}/{os.path.relpath(path, cfg.data_dir)}" if under else os.path.relpath(path)
                 for path in stage_sources(cfg, name)]
        lines += [f"SOURCES_{name.upper()} := {' '.join(files)}"] if make else files
    return lines


def write_source_lists(config, path: Path, under: str = "") -> bool:
    """The Makefile's source lists (:func:`source_lines` of both stages, ``make=True``) written to ``path``,
    before the configuration is checked: nothing is written when the configuration cannot be loaded
    (the check that follows reports why, with every other problem).

    Parameters
    ----------
    config
        Called without arguments, returns the run's Config (or raises a PipelineError).
    path
        The file to write (the Makefile writes a temporary it renames).
    under
        As for :func:`source_lines`.

    Returns
    -------
    bool
        Whether the lists were written.
    """
    from .errors import PipelineError

    try:
        lines = source_lines(config(), ["ingest", "network"], under, make=True)
    except PipelineError:
        return False
    Path(path).write_text("\n".join(lines) + "\n")
    return True


def stage_sources(cfg, stage: str) -> list:
    """The data files a stage reads (Make's prerequisites): ``ingest`` or ``network``.

    Parameters
    ----------
    cfg : Config
        The run's configuration.
    stage
        ``ingest`` (admin-1 and the focus country's vintages) or ``network`` (line layers and local
        OpenStreetMap files; an osmnx download has none).

    Returns
    -------
    list of Path
    """
    if stage == "ingest":
        return [cfg.data_dir / cfg.source(k).file for k in (cfg.regions_source, *cfg.vintages.values())]
    from .config import load_network

    return [cfg.data_dir / (m.osm_pbf or m.osm_xml or cfg.source(m.source).file)
            for m in load_network(cfg.layers_dir, cfg.sources).modes if m.osmnx_bbox is None]


def source_problem(path: Path, src) -> str | None:
    """What is wrong with a present source file, or None: it must open as a vector dataset with the
    source's layer, a CRS, at least one feature and the columns the source keeps.

    Parameters
    ----------
    path
        The file in the data directory.
    src : Source
        Its entry of layers/sources.yaml.

    Returns
    -------
    str or None
    """
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    try:
        layers = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except (DataSourceError, DataLayerError, OSError) as exc:
        return f"cannot be opened as a vector dataset ({_short(exc)}); download it again (make data)"
    if src.layer not in layers:
        return f"has no layer '{src.layer}' (layers: {', '.join(layers) or 'none'})"
    try:
        info = pyogrio.read_info(path, layer=src.layer)
    except (DataSourceError, DataLayerError, OSError) as exc:
        return f"layer '{src.layer}' cannot be read ({_short(exc)}); download it again (make data)"
    if not info.get("crs"):
        return f"layer '{src.layer}' has no CRS"
    if not info.get("features"):
        return f"layer '{src.layer}' has no features"
    fields = {str(f).lower() for f in info.get("fields", [])}
    lacking = [c for c in (src.columns or ()) if c.lower() not in fields]
    if lacking:
        return f"layer '{src.layer}' lacks column(s) {', '.join(lacking)}"
    return None


def check_data(cfg, say) -> None:
    """Say for every source file whether it is in the data directory and readable: a layer, a CRS,
    features, the columns kept (:func:`source_problem`). Every problem is reported, then one error.

    Parameters
    ----------
    cfg : Config
        The run's configuration.
    say : callable
        Prints one line.
    """
    missing = [k for k in cfg.sources if not (cfg.data_dir / cfg.sources[k].file).is_file()]
    bad = {}
    for key in cfg.sources:
        path = cfg.data_dir / cfg.sources[key].file
        if key in missing:
            say(f"{'missing':8} {path}")
            continue
        problem = source_problem(path, cfg.sources[key])
        if problem:
            bad[key] = f"{path}: {problem}"
        say(f"{'bad' if problem else 'ok':8} {path}{': ' + problem if problem else ''}")
    if missing:
        cfg.source_path(missing[0])  # raises the explanatory error
    if bad:
        raise DataError(f"{len(bad)} source file(s) unreadable — " + "; ".join(bad.values()))


# --- WorldPop ----------------------------------------------------------------------------------------

def worldpop_url(template: str, iso3: str, year: int) -> str:
    """WorldPop's URL of one country's file, from the template of ``layers/population.yaml``.

    Parameters
    ----------
    template
        With ``{year}``, ``{ISO3}`` and ``{iso3}``.
    iso3
        ISO 3166-1 alpha-3 code.
    year
        Year of the counts.

    Returns
    -------
    str
    """
    return template.format(year=year, ISO3=iso3.upper(), iso3=iso3.lower())


def grid_countries(cfg: Config) -> list[str]:
    """ISO3 codes of the countries on the study grid (the focus country first, then by area on the grid):
    the countries whose admin-1 units reach the focus country's bounds widened by the accessibility
    stage's ``extent_buffer_km``.

    Parameters
    ----------
    cfg : Config
        The run's configuration (the admin-1 source must be in the data directory).

    Returns
    -------
    list of str
    """
    from .config import load_accessibility

    acc = load_accessibility(cfg.layers_dir)
    admin1 = read_layer(cfg.source_path(cfg.regions_source), columns=["adm0_a3"]).to_crs(cfg.equal_area_crs)
    focus = admin1[admin1["adm0_a3"] == cfg.focus_country]
    if focus.empty:
        raise DataError(f"{cfg.source_path(cfg.regions_source)}: no admin-1 unit of {cfg.focus_country}")
    extent = shapely.box(*focus.buffer(acc.extent_buffer_km * 1000).total_bounds)
    hit = admin1[admin1.intersects(extent)]
    area = hit.geometry.intersection(extent).area.groupby(hit["adm0_a3"]).sum().sort_values(ascending=False)
    return [cfg.focus_country, *[c for c in area.index if c != cfg.focus_country]]


def clip_raster(src_path: Path, dest: Path, bbox: tuple[float, float, float, float]) -> float:
    """Write the part of a lon/lat raster inside ``bbox`` as a compressed GeoTIFF (atomically).

    Parameters
    ----------
    src_path
        The downloaded GeoTIFF (any CRS; the bbox is transformed to it).
    dest
        The clipped file.
    bbox
        (min_lon, min_lat, max_lon, max_lat), EPSG:4326.

    Returns
    -------
    float
        Persons in the clipped file (sum of valid cells).
    """
    import numpy as np
    import rasterio
    from rasterio.warp import transform_bounds
    from rasterio.windows import from_bounds

    from .io import atomic_path

    try:
        src = rasterio.open(src_path)
    except rasterio.errors.RasterioIOError as exc:
        raise DataError(f"{src_path}: the download cannot be read as a raster ({str(exc).splitlines()[0]}); "
                        "try again") from None
    with src:
        if src.crs is None:
            raise DataError(f"{src_path}: the download has no CRS")
        bounds = transform_bounds(WGS84, src.crs, *bbox, densify_pts=21)
        window = from_bounds(*bounds, transform=src.transform).round_offsets().round_lengths()
        window = window.intersection(rasterio.windows.Window(0, 0, src.width, src.height))
        data = src.read(1, window=window, masked=True)
        profile = src.profile | {"driver": "GTiff", "width": window.width, "height": window.height,
                                 "transform": src.window_transform(window), "compress": "deflate",
                                 "predictor": 3 if data.dtype.kind == "f" else 2, "tiled": True,
                                 "blockxsize": 256, "blockysize": 256}
        tags = src.tags()
    with atomic_path(dest) as tmp, rasterio.open(tmp, "w", **profile) as out:
        out.write(data.filled(profile.get("nodata") if profile.get("nodata") is not None else 0), 1)
        out.update_tags(**tags, clipped_to_bbox=",".join(f"{v:g}" for v in bbox))
    return float(np.ma.sum(data)) if data.count() else 0.0


def download_worldpop(cfg: Config, *, force: bool = False, countries: list[str] | None = None) -> list[Path]:
    """Download WorldPop's 1 km counts of the countries on the study grid into ``<data dir>/<folder>/``,
    clipped to the study bbox.

    Parameters
    ----------
    cfg : Config
        The run's configuration (``layers/population.yaml``: ``worldpop``).
    force
        Download files already present again.
    countries
        ISO3 codes; default :func:`grid_countries`.

    Returns
    -------
    list of Path
        The files (present or downloaded).
    """
    from .config import load_population

    wp = load_population(cfg.layers_dir).worldpop
    folder = cfg.data_dir / wp.folder
    codes = countries or grid_countries(cfg)
    log.info("WorldPop %d, 1 km: %s into %s", wp.year, ", ".join(codes), folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PipelineError(f"cannot write to the data directory {cfg.data_dir}: {exc}") from None
    files = []
    for i, iso3 in enumerate(codes, 1):
        url = worldpop_url(wp.url, iso3, wp.year)
        target = folder / url.rsplit("/", 1)[-1]
        files.append(target)
        if target.is_file() and not force:
            log.info("[%d/%d] %s: %s present, kept (use --force to download again)", i, len(codes), iso3, target)
            continue
        log.info("[%d/%d] %s: downloading %s", i, len(codes), iso3, url)
        workdir = Path(tempfile.mkdtemp(prefix="pipeline-worldpop-"))
        try:
            local = workdir / target.name
            if fetch(url, local, optional=True) is None:   # e.g. KAB, Natural Earth's Baikonur: in KAZ's file
                log.warning("  %s: WorldPop has no file (HTTP 404); Natural Earth units that are not ISO "
                            "countries are inside their country's file", iso3)
                files.pop()
                continue
            people = clip_raster(local, target, cfg.bbox)
            log.info("  %s: %s persons inside the study bbox", target.name, f"{people:,.0f}")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    log.info("to use them: population_raster: %s   (layers/population.yaml)", wp.folder)
    return files
