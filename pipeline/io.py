"""Reading and writing layers, at the edges of the pipeline.

Reading turns every GDAL/OGR failure into one :class:`~pipeline.errors.DataError` that names the
file and the problem. Writing is atomic: a GeoPackage is written to a temporary file beside the
target and renamed over it, so an interrupted run never leaves a half-written output.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS

from .errors import DataError, DataMissingError

log = logging.getLogger("pipeline")

# Temporary files being written now, so that a termination signal can remove them (see cli.main).
_ACTIVE: set[Path] = set()
# Inside all_or_nothing(): finished temporaries and their targets, renamed into place together at the end.
_PENDING: list[tuple[Path, Path]] | None = None


@contextmanager
def all_or_nothing() -> Iterator[None]:
    """Outputs written inside the block replace their targets only when the whole block succeeds.

    A stage that fails or is killed half-way leaves every previous output as it was (none replaced,
    none deleted), never a mix of new and old files. Nested blocks join the outermost one.
    """
    global _PENDING
    if _PENDING is not None:
        yield
        return
    _PENDING = []
    try:
        yield
        for tmp, target in _PENDING:
            os.replace(tmp, target)
    finally:
        for tmp, _ in _PENDING:
            _ACTIVE.discard(tmp)
            _remove_temporary(tmp)
        _PENDING = None


def in_worker(fn, *args, **kwargs) -> tuple[object, list[tuple[Path, Path]]]:
    """Run ``fn`` in a worker process of a stage (forked): its outputs stay temporaries, returned with the
    result so that the stage's :func:`adopt` renames them with its other outputs (all or nothing).

    Returns
    -------
    tuple
        ``fn``'s result and the (temporary, target) pairs it wrote.
    """
    global _PENDING
    _PENDING = []   # this job's outputs (the worker's earlier jobs' stay in _ACTIVE until the stage ends)
    try:
        return fn(*args, **kwargs), list(_PENDING)
    except BaseException:
        for tmp, _ in _PENDING:
            _remove_temporary(tmp)
        raise


def forked(fn, *args, **kwargs) -> Callable[[], object]:
    """Start ``fn(*args, **kwargs)`` in a forked worker process of the stage, beside what the stage does next.

    The worker starts from a copy of this process's memory (nothing is pickled on the way in; only the
    result is, on the way out: keep it small). Its outputs, if any, it writes under :func:`in_worker` and
    returns for the stage to :func:`adopt`. Fork before this process runs a compiled parallel kernel: a fork
    copies none of its threads (GNU OpenMP, numba's threading layer here), and the worker would wait on them
    forever. The stage's SIGTERM handling (:func:`leave_on_sigterm`) ends it; it is in the stage's process
    group.

    Parameters
    ----------
    fn
        The work.
    args, kwargs
        Its arguments.

    Returns
    -------
    callable
        Waits for the worker and returns ``fn``'s result, or raises its exception (a PipelineError keeps its
        message and exit code). Its ``cancel()`` ends the worker at once (SIGKILL) instead: for a stage that
        fails before it needs the result.
    """
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def work() -> None:
        try:
            outcome = ("ok", fn(*args, **kwargs))
        except BaseException as exc:   # noqa: BLE001 - raised again in the stage
            outcome = ("error", exc)
        try:
            send.send(outcome)
        except Exception as exc:   # noqa: BLE001 - an exception that does not pickle: its text
            send.send(("error", RuntimeError(f"{type(outcome[1]).__name__}: {outcome[1]} ({exc})")))

    proc = ctx.Process(target=work, daemon=True)
    proc.start()
    send.close()

    def result() -> object:
        try:
            kind, value = receive.recv()
        except EOFError:
            proc.join()
            raise RuntimeError(f"the stage's worker process ended without a result (exit code {proc.exitcode})")\
                from None
        proc.join()
        if kind == "error":
            raise value
        return value

    def cancel() -> None:
        if proc.is_alive():
            proc.kill()
        proc.join()

    result.cancel = cancel
    return result


def adopt(pairs: list[tuple[Path, Path]]) -> None:
    """Take over the finished temporaries of a worker (see :func:`in_worker`)."""
    for tmp, target in pairs:
        _ACTIVE.add(tmp)
        if _PENDING is not None:
            _PENDING.append((tmp, target))
        else:
            os.replace(tmp, target)
            _ACTIVE.discard(tmp)


def pending_or_current(path: Path | str) -> Path:
    """Where to read ``path`` now: its finished temporary when the current :func:`all_or_nothing`
    block has written it, else the file itself."""
    path = Path(path)
    for tmp, target in _PENDING or []:
        if target.resolve() == path.resolve():
            return tmp
    return path


def _remove_temporary(tmp: Path) -> None:
    """Delete a temporary output and the SQLite side files a GeoPackage writer may leave beside it."""
    for leftover in (tmp, Path(f"{tmp}-journal"), Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)


def remove_active_temporaries() -> None:
    """Delete every temporary output still being written (the targets themselves are untouched)."""
    for tmp in list(_ACTIVE):
        _remove_temporary(tmp)


def read_layer(path: Path | str, layer: str | None = None, *,
               columns: list[str] | None = None, required: tuple[str, ...] = ()) -> gpd.GeoDataFrame:
    """Read one vector layer; check it has a CRS, coordinates that fit it, and the required columns."""
    # GDAL virtual paths (/vsizip//tmp/x.zip/x.shp) stay strings: Path would fold their '//'.
    path = path if isinstance(path, str) and path.startswith("/vsi") else Path(path)
    if isinstance(path, Path) and not path.is_file():
        raise DataMissingError(f"{path}: file not found")
    try:
        layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise DataError(f"{path}: cannot be opened as a vector dataset ({_short(exc)})") from None
    if layer is None:
        if not layers:
            raise DataError(f"{path}: contains no layer")
        layer = layers[0]
    elif layer not in layers:
        raise DataError(f"{path}: has no layer '{layer}' (layers: {', '.join(layers) or 'none'})")
    try:
        gdf = gpd.read_file(path, layer=layer, columns=columns, engine="pyogrio")
    except (DataSourceError, DataLayerError, OSError, ValueError) as exc:
        raise DataError(f"{path} (layer {layer}): cannot be read ({_short(exc)})") from None
    missing = [c for c in required if c not in gdf.columns]
    if missing:
        raise DataError(f"{path} (layer {layer}): missing column(s) {', '.join(missing)}")
    if not isinstance(gdf, gpd.GeoDataFrame):   # an attribute table: no geometry, no CRS to check
        return gdf
    if gdf.crs is None:
        raise DataError(f"{path} (layer {layer}): has no CRS; assign one (e.g. with ogr2ogr -a_srs)")
    if len(gdf) and gdf.crs.is_geographic:
        minx, miny, maxx, maxy = gdf.total_bounds
        if not (-180.5 <= minx <= maxx <= 360.5 and -90.5 <= miny <= maxy <= 90.5):
            raise DataError(
                f"{path} (layer {layer}): coordinates ({minx:.0f}, {miny:.0f}, {maxx:.0f}, {maxy:.0f}) "
                f"do not fit its geographic CRS {gdf.crs.to_string()}: the CRS is wrong"
            )
    return gdf


def to_crs(gdf: gpd.GeoDataFrame, crs: CRS, name: str) -> gpd.GeoDataFrame:
    """Reproject to ``crs`` if needed, saying so."""
    if gdf.crs is not None and CRS.from_user_input(gdf.crs) == crs:
        return gdf
    log.info("%s: reprojecting from %s to %s", name, gdf.crs.to_string(), crs.to_string())
    return gdf.to_crs(crs)


def remove_stale_temporaries(target: Path, suffix: str) -> list[Path]:
    """Delete the temporaries of ``target`` that a killed run left beside it (``.<stem>.<8 random
    characters><suffix>``, with a GeoPackage's SQLite side files), except those this process is writing.

    Safe because a stage holds its lock (:func:`stage_lock`) while it writes: no other process writes
    the same target at the same time. A SIGKILL leaves no chance to clean up, so the next run does.

    Parameters
    ----------
    target
        The output about to be written.
    suffix
        Its temporaries' suffix (e.g. ``.tif``).

    Returns
    -------
    list of Path
        The files deleted.
    """
    pattern = re.compile(re.escape(f".{target.stem}.") + r"[a-z0-9_]{8}" + re.escape(suffix)
                         + r"(-journal|-wal|-shm)?")
    gone = []
    for p in target.parent.iterdir() if target.parent.is_dir() else []:
        if pattern.fullmatch(p.name) and Path(re.sub(r"-(journal|wal|shm)$", "", str(p))) not in _ACTIVE:
            p.unlink(missing_ok=True)
            gone.append(p)
    if gone:
        log.info("removed %d temporary file(s) of %s left by an interrupted run", len(gone), target.name)
    return gone


@contextmanager
def atomic_path(target: Path | str, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` only on success (first
    removing the temporaries of ``target`` an interrupted run left)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target, suffix or target.suffix)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=suffix or target.suffix,
                                    dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # let the writer create it (GDAL refuses to open an empty file as a GeoPackage)
    _ACTIVE.add(tmp)
    deferred = False
    try:
        yield tmp
        if _PENDING is not None:  # renamed with the stage's other outputs (all_or_nothing)
            _PENDING.append((tmp, target))
            deferred = True
        else:
            os.replace(tmp, target)
    finally:
        if not deferred:
            _ACTIVE.discard(tmp)
            _remove_temporary(tmp)


@contextmanager
def _write_errors(target: Path) -> Iterator[None]:
    """GDAL's write failures (disk full, file size limit, I/O error) as one clear WriteError."""
    from .errors import WriteError

    try:
        yield
    except (DataSourceError, DataLayerError, pyogrio.errors.FieldError, pyogrio.errors.GeometryError) as exc:
        raise WriteError(f"cannot write {target}: {_short(exc)} (disk full, or a file size limit: ulimit -f?); "
                         "previous outputs are left as they were") from None


def write_layers(target: Path | str, layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame],
                 descriptions: Mapping[str, str] | None = None, *,
                 styles: Mapping[str, str] | None = None,
                 metadata: Mapping[str, str] | None = None,
                 layer_metadata: Mapping[str, Mapping[str, str]] | None = None) -> Path:
    """Write GeoDataFrames as layers of one GeoPackage, atomically. Every spatial layer must have a CRS;
    a plain DataFrame becomes an attribute table (no geometry).

    ``descriptions`` become the layers' GeoPackage descriptions (shown by QGIS as the abstract);
    ``styles`` (QML per layer) go into ``layer_styles`` as default styles; ``metadata`` (dataset) and
    ``layer_metadata`` (per layer) into the GeoPackage metadata tables.
    """
    descriptions = descriptions or {}
    target = Path(target)
    for name, gdf in layers.items():
        if isinstance(gdf, gpd.GeoDataFrame) and gdf.crs is None:
            raise ValueError(f"layer {name} has no CRS; refusing to write {target}")
    with atomic_path(target) as tmp, _write_errors(target):
        for name, gdf in layers.items():
            options = {"DESCRIPTION": descriptions[name]} if name in descriptions else {}
            md = (layer_metadata or {}).get(name, {})
            if md.get("TITLE"):
                # GeoPackage identifier = title, and the abstract carries source and licence: QGIS's
                # metadata panel shows both for a layer opened from the file alone.
                options["IDENTIFIER"] = md["TITLE"]
            credits = [f"{label}: {md[key]}." for key, label in (("SOURCE", "Source"), ("LICENCE", "Licence"))
                       if md.get(key)]
            if credits:
                options["DESCRIPTION"] = " ".join([options["DESCRIPTION"], *credits] if "DESCRIPTION" in options
                                                  else credits)
            if isinstance(gdf, gpd.GeoDataFrame):
                gdf = without_repeated_vertices(gdf)
            extra = {}
            if metadata:
                extra["dataset_metadata"] = dict(metadata)
            if layer_metadata and name in layer_metadata:
                extra["layer_metadata"] = dict(layer_metadata[name])
            if not isinstance(gdf, gpd.GeoDataFrame):
                # A plain table (statistics): a GeoPackage attributes table, which QGIS opens as a table.
                pyogrio.write_dataframe(gdf, tmp, layer=name, driver="GPKG", layer_options=options,
                                        dataset_options={"VERSION": "1.2"}, **extra)
                continue
            # GeoPackage 1.2: readable by the GDAL of older QGIS releases (3.22 warns on 1.4).
            gdf.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio", layer_options=options,
                        dataset_options={"VERSION": "1.2"}, **extra)
        if styles:
            from .styles import store_styles

            store_styles(tmp, styles)
    log.info("wrote %s (%s)", target, ", ".join(f"{n}: {len(g)}" for n, g in layers.items()))
    return target


#: Consecutive vertices closer than this (in the layer's units) are one: QGIS's validity check calls
#: vertices equal within 1e-8 on each axis "duplicate nodes" (√2 · 1e-8 apart at most).
REPEATED_VERTEX = 1.5e-8


def without_repeated_vertices(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The layer with consecutive repeated vertices (within ``REPEATED_VERTEX``) removed from its lines and
    polygons; a polygon made invalid by the removal (a ring collapsing) is repaired.

    Parameters
    ----------
    gdf
        Any layer; points and empty geometries are left as they are.

    Returns
    -------
    geopandas.GeoDataFrame
        The same rows and columns (a copy only when a geometry changed).
    """
    geoms = gdf.geometry.values
    kinds = shapely.get_type_id(geoms)
    todo = np.flatnonzero(np.isin(kinds, (1, 2, 3, 5, 6)))   # lines, rings, polygons and their multis
    if not len(todo):
        return gdf
    before = shapely.get_num_coordinates(geoms[todo])
    cleaned = shapely.remove_repeated_points(geoms[todo], tolerance=REPEATED_VERTEX)
    changed = shapely.get_num_coordinates(cleaned) != before
    if not changed.any():
        return gdf
    fixed = cleaned[changed]
    polygonal = np.isin(shapely.get_type_id(fixed), (3, 6))
    broken = polygonal & ~shapely.is_valid(fixed)
    if broken.any():
        fixed[broken] = shapely.make_valid(fixed[broken], method="structure", keep_collapsed=False)
    out = geoms.copy()
    out[todo[changed]] = fixed
    result = gdf.copy()
    result[gdf.geometry.name] = gpd.GeoSeries(out, index=gdf.index, crs=gdf.crs)
    return result


def write_text(target: Path | str, text: str) -> Path:
    target = Path(target)
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    log.info("wrote %s", target)
    return target


def _short(exc: BaseException) -> str:
    """GDAL's message in one line, in words a user can act on (SQLite's internals mean a damaged file)."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    low = first.lower()
    if "sqlite" in low or "database disk image is malformed" in low:
        return "damaged or truncated: its database cannot be read"
    if "not recognized as being in a supported file format" in low:
        return "not in a format GDAL reads: not a GeoPackage, or damaged"
    return first


def check_writable(command: str, paths: list[Path]) -> None:
    """Before any work: every output file's folder (a path with a suffix) and output folder can be
    written, or one error naming each that cannot (read-only, not a folder).

    Parameters
    ----------
    command
        The stage, for the message.
    paths
        The stage's path arguments: a path with a suffix is a file (its folder is checked), else a folder.

    Raises
    ------
    WriteError
        Naming every folder that cannot be written.
    """
    problems = []
    for p in paths:
        folder = p.parent if p.suffix else p
        probe = folder
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not probe.is_dir():
            problems.append(f"{folder}: {probe} is a file, not a folder")
        elif not os.access(probe, os.W_OK | os.X_OK):
            problems.append(f"{folder}: cannot write there (read-only, or no permission)")
    if problems:
        from .errors import WriteError

        raise WriteError(f"{command}: cannot write its outputs — " + "; ".join(dict.fromkeys(problems))
                         + ". Choose a writable OUT (make all OUT=...) or fix the folder's permissions; nothing "
                         "was changed")


def leave_on_sigterm(say: Callable[[str], object]) -> None:
    """On SIGTERM, leave at once (unwinding through native worker threads can crash): stop the stage's
    workers (they remove their own temporaries), remove what this process is writing, say so, exit 130.
    Finished outputs were renamed into place and are kept; the rest is untouched.

    Parameters
    ----------
    say
        Prints the one-line message (e.g. a rich console's ``print``).
    """
    import multiprocessing
    import signal

    def terminated(signum: int, _frame: object) -> None:
        for child in multiprocessing.active_children():
            child.terminate()
            child.join(5)
        remove_active_temporaries()
        say(f"interrupted (signal {signum}): previous outputs are left as they were")
        os._exit(130)

    signal.signal(signal.SIGTERM, terminated)


@contextmanager
def stage_lock(command: str, paths: list[Path], detail: str = "") -> Iterator[None]:
    """One run of a stage on the same files at a time: an exclusive lock named after the stage and its
    paths (in the system's temporary folder, so nothing is left beside the outputs; the kernel releases it
    when the process ends, even killed), or one "already running" error (another ``make all`` in the same
    folder) — never two runs writing the same files. Different stages never wait for each other.

    Parameters
    ----------
    command
        The stage, for the message.
    paths
        The stage's path arguments (inputs and outputs); the last is named in the message.
    detail
        Its other arguments (e.g. the maps to draw: two runs drawing different maps into one folder do not
        exclude each other).

    Raises
    ------
    AlreadyRunningError
        Exit code 75 when another process holds the lock (its process id is named).
    """
    import fcntl
    import hashlib
    import tempfile

    if not paths:
        yield
        return
    target = paths[-1]
    key = command + "|" + detail + "|" + "|".join(sorted(str(p.resolve()) for p in paths))   # on these files
    folder = Path(tempfile.gettempdir()) / "border-pipeline-locks"
    folder.mkdir(exist_ok=True)
    lock = folder / (hashlib.sha1(key.encode()).hexdigest()[:16] + ".lock")
    with open(lock, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            from .errors import AlreadyRunningError

            fh.seek(0)
            who = fh.read().strip() or "another process"
            raise AlreadyRunningError(f"{command} is already running on {target} ({who}); wait for it to finish "
                                      "(two `make all` in one folder at once) — nothing was changed") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"process {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
