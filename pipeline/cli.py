"""Command line: ``pipeline <stage>``. It only dispatches: each command loads the configuration and
calls its stage module's ``run()``, which reads the stage's inputs and writes its outputs atomically.
A :class:`~pipeline.errors.PipelineError` is printed as one line (``error: ...``) with a non-zero exit
code and no traceback. Stage numbers and files: :mod:`pipeline.paths`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.logging import RichHandler

from .config import DATA_DIR_ENV, FOCUS_ENV, Config, load_config
from .errors import PipelineError
from .paths import DEFAULT, STAGES, Paths, command_of, stage

log = logging.getLogger("pipeline")
err_console = Console(stderr=True)

# typer 0.2x carries its own copy of click, whose usage errors are not click's: both caught, no traceback.
_CLICK_ERRORS = tuple({click.ClickException, *(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")})
_EXITS, _ABORTS = tuple({click.exceptions.Exit, typer.Exit}), tuple({click.exceptions.Abort, typer.Abort})

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="GIS pipeline for border regions, usually run through `make all`. Stages: "
                       + "; ".join(f"{s.number} {s.command}" for s in STAGES) + ".")

File = Annotated[Path, typer.Option(dir_okay=False, help="output file")]
Folder = Annotated[Path, typer.Option(file_okay=False, help="folder")]


def _in(name: str, what: str):  # a typer option type: --<name>, a GeoPackage
    return Annotated[Path, typer.Option(f"--{name}", dir_okay=False, help=f"{what} GeoPackage")]


@app.callback()
def _main(ctx: typer.Context,
          layers: Annotated[Path, typer.Option(help="configuration folder")] = Path("layers"),
          data_dir: Annotated[Path | None, typer.Option(
              envvar=DATA_DIR_ENV, help=f"data directory (env {DATA_DIR_ENV}; default ./data)")] = None,
          focus: Annotated[str | None, typer.Option(
              envvar=FOCUS_ENV, help="focus country of this run, ISO alpha-3 (env "
                                     f"{FOCUS_ENV}; default: the first of study.focus_countries)")] = None,
          quiet: Annotated[bool, typer.Option("--quiet", "-q", help="only warnings and errors")] = False,
          ) -> None:
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(message)s", datefmt="[%X]",
                        handlers=[RichHandler(console=err_console, show_path=False)], force=True)
    logging.getLogger("pyogrio").setLevel(logging.WARNING)
    ctx.obj = {"layers": layers, "data_dir": data_dir, "focus": focus}


def _config(ctx: typer.Context) -> Config:
    return load_config(ctx.obj["layers"], ctx.obj["data_dir"], ctx.obj["focus"])


def _go(ctx: typer.Context, command: str, *args: object, **kwargs: object) -> None:
    """Load the configuration and call ``run(cfg, *args, **kwargs)`` of the stage's module."""
    import importlib

    from .io import all_or_nothing, check_writable, stage_lock
    from .progress import announced

    cfg, s = _config(ctx), stage(command)
    paths = [a for a in (*args, *kwargs.values()) if isinstance(a, Path)]
    check_writable(command, paths)
    detail = " ".join(str(a) for a in (*args, *kwargs.values()) if not isinstance(a, Path))   # e.g. the maps
    with announced(command, s.number), stage_lock(command, paths, detail), all_or_nothing():
        importlib.import_module(f"pipeline.{s.module}").run(cfg, *args, **kwargs)


def _stages_at(stages: Path, out: Path | None = None) -> Paths:
    """Paths whose stage files are in ``stages`` (and outputs beside ``out``, default its parent)."""
    return Paths(out=out.parent if out is not None else stages.parent, stages_dir=stages)


# --- stages ---------------------------------------------------------------------------------------

@app.command()
def ingest(ctx: typer.Context, out: File = DEFAULT.ingest) -> None:
    """1 ingest: regions of every country, countries (dissolve by sovereignty), focus-country vintages."""
    _go(ctx, "ingest", out)


@app.command()
def borders(ctx: typer.Context, ingest_gpkg: _in("ingest", "ingest stage") = DEFAULT.ingest,
            out: File = DEFAULT.borders) -> None:
    """2a borders: the focus country's border, one segment per neighbour and sea shore, geodesic km."""
    _go(ctx, "borders", ingest_gpkg, out)


@app.command()
def zones(ctx: typer.Context, ingest_gpkg: _in("ingest", "ingest stage") = DEFAULT.ingest,
          borders_gpkg: _in("borders", "borders stage") = DEFAULT.borders, out: File = DEFAULT.zones) -> None:
    """2b zones: cross-border belts of every configured distance on both sides of each segment."""
    _go(ctx, "zones", ingest_gpkg, borders_gpkg, out)


@app.command("border-regions")
def border_regions(ctx: typer.Context, ingest_gpkg: _in("ingest", "ingest stage") = DEFAULT.ingest,
                   borders_gpkg: _in("borders", "borders stage") = DEFAULT.borders,
                   zones_gpkg: _in("zones", "zones stage") = DEFAULT.zones,
                   out: File = DEFAULT.border_regions) -> None:
    """2c border-regions: admin-1 regions bordering each segment or inside its belts, every vintage."""
    _go(ctx, "border-regions", ingest_gpkg, borders_gpkg, zones_gpkg, out)


@app.command()
def network(ctx: typer.Context, ingest_gpkg: _in("ingest", "ingest stage") = DEFAULT.ingest,
            out: File = DEFAULT.network) -> None:
    """3a network: travel-time graph per mode (roads with ferries, rail), snapped, noded, gaps bridged."""
    _go(ctx, "network", ingest_gpkg, out)


@app.command()
def crossings(ctx: typer.Context, network_gpkg: _in("network", "network stage") = DEFAULT.network,
              borders_gpkg: _in("borders", "borders stage") = DEFAULT.borders,
              out: File = DEFAULT.crossings) -> None:
    """3b crossings: where the network crosses the land border; edges split there, minutes per scenario."""
    _go(ctx, "crossings", network_gpkg, borders_gpkg, out)


@app.command()
def link(ctx: typer.Context, stages: Folder = DEFAULT.stages) -> None:
    """3c link: the grid's cells and the poles joined to the road network (STAGES/linked.arrays)."""
    _go(ctx, "link", (p := _stages_at(stages)), p.linked)


@app.command()
def accessibility(ctx: typer.Context, stages: Folder = DEFAULT.stages, out: File = DEFAULT.accessibility,
                  rasters: Folder = DEFAULT.rasters) -> None:
    """3d accessibility: hours to the nearest pole per cell and scenario, isochrones, means."""
    _go(ctx, "accessibility", _stages_at(stages, out), out, rasters)


@app.command()
def influence(ctx: typer.Context, stages: Folder = DEFAULT.stages, out: File = DEFAULT.influence,
              rasters: Folder = DEFAULT.rasters) -> None:
    """4 influence: catchments, Huff market areas, beyond influence, cross-border influence, axes."""
    _go(ctx, "influence", _stages_at(stages, out), out, rasters)


@app.command()
def economy(ctx: typer.Context, stages: Folder = DEFAULT.stages, out: File = DEFAULT.economy) -> None:
    """5 economy: official statistics joined to the regions, border-region economy, claims, trade."""
    _go(ctx, "economy", _stages_at(stages, out), out)


@app.command()
def population(ctx: typer.Context, stages: Folder = DEFAULT.stages, out: File = DEFAULT.population,
               rasters: Folder = DEFAULT.rasters) -> None:
    """5b population: population surface, people in the belts, people-weighted accessibility."""
    _go(ctx, "population", _stages_at(stages, out), out, rasters)


@app.command("people-influence")
def people_influence(ctx: typer.Context, stages: Folder = DEFAULT.stages, out: File = DEFAULT.people_influence) -> None:
    """5c people-influence: people in the catchments and market areas, people whose fastest pole is abroad."""
    _go(ctx, "people-influence", _stages_at(stages, out), out)


@app.command()
def publish(ctx: typer.Context, stages: Folder = DEFAULT.stages, out: File = DEFAULT.borders_gpkg,
            report: File = DEFAULT.report,
            full: Annotated[bool, typer.Option(help="also report accessibility, influence and economy "
                                                    "and write the QGIS project")] = False,
            project: File = DEFAULT.project, rasters: Folder = DEFAULT.rasters) -> None:
    """6a publish: outputs/borders.gpkg, REPORT.md and (--full) the QGIS project."""
    _go(ctx, "publish", _stages_at(stages, out), out, report, full=full, project=project, rasters=rasters)


@app.command()
def maps(ctx: typer.Context, outputs: Folder = DEFAULT.out, out_dir: Annotated[
        Path, typer.Option("--out", file_okay=False)] = DEFAULT.maps, names: Annotated[list[str] | None, typer.Option(
        "--map", help="draw only this map (repeatable; default every map)")] = None) -> None:
    """6b maps: publication maps (PNG 300 dpi and vector PDF) from the outputs."""
    _go(ctx, "maps", outputs, out_dir, names=tuple(names or ()))


@app.command()
def validate(ctx: typer.Context, outputs: Folder = DEFAULT.out, out: File = DEFAULT.validation) -> None:
    """6c validate: every output layer has a CRS, valid geometries, no empty layer; belt overlaps."""
    _go(ctx, "validate", outputs, out)


# --- tools ----------------------------------------------------------------------------------------

@app.command("check-config")
def check_config(ctx: typer.Context, make_sources: Annotated[Path | None, typer.Option(
                     help="first write the Makefile's source lists here (as `sources --make`, both stages)")] = None,
                 under: Annotated[str, typer.Option(help="with --make-sources: as `sources --under`")] = "") -> None:
    """Validate every file of the configuration folder and the checks that span files (with
    ``--make-sources``, the Makefile's first step: its source lists and the check in one Python start)."""
    from .config import check_config as check
    from .download import write_source_lists

    if make_sources is not None:
        write_source_lists(lambda: _config(ctx), make_sources, under)
    for line in check(ctx.obj["layers"], ctx.obj["data_dir"], ctx.obj["focus"]):
        log.info(line)


@app.command("config-docs")
def config_docs(out: File = Path("docs/configuration.md")) -> None:
    """Write the configuration reference (docs/configuration.md) from the typed models."""
    from .config.docs import write

    write(out)


@app.command()
def download(ctx: typer.Context,
             only: Annotated[list[str] | None, typer.Option(help="source name(s); default all")] = None,
             force: Annotated[bool, typer.Option(help="download even if the file exists")] = False,
             worldpop: Annotated[bool, typer.Option(help="WorldPop 1 km of the grid's countries")] = False) -> None:
    """Download the canonical sources (or WorldPop's counts) into the data directory (needs the internet)."""
    from .download import download_sources, download_worldpop

    cfg = _config(ctx)
    _ = download_worldpop(cfg, force=force, countries=only) if worldpop else \
        download_sources(cfg, only or list(cfg.sources), force=force)


@app.command()
def sources(ctx: typer.Context,
            stage_names: Annotated[list[str], typer.Option("--stage", help="ingest or network (repeatable)")] = ["ingest"],
            under: Annotated[str, typer.Option(help="print each as UNDER/<path in the data directory>")] = "",
            make: Annotated[bool, typer.Option("--make", help="one Make assignment per stage: "
                                               "SOURCES_<STAGE> := <files>")] = False) -> None:
    """Print the data files a stage reads (for Make's prerequisites), one per line: relative to the
    current folder, or below ``--under`` (a link to the data directory: Make splits names on spaces).
    With ``--make``, one line ``SOURCES_INGEST := …`` per stage (the Makefile's list, in one Python start)."""
    from .download import source_lines

    if bad := [n for n in stage_names if n not in ("ingest", "network")]:
        raise typer.BadParameter(f"unknown stage {bad[0]!r}: ingest or network", param_hint="--stage")
    typer.echo("\n".join(source_lines(_config(ctx), stage_names, under, make)))


@app.command()
def studies(ctx: typer.Context) -> None:
    """Print the study's focus countries (layers/study.yaml: study.focus_countries), one per line."""
    typer.echo("\n".join(_config(ctx).focus_countries))


@app.command("check-data")
def check_data(ctx: typer.Context) -> None:
    """Check that every source file is in the data directory; say how to get the missing ones."""
    from .download import check_data as check

    check(_config(ctx), err_console.print)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning user-facing errors into one line and an exit code."""
    t0 = time.perf_counter()
    code = _run(argv)
    from .progress import log_stage_run

    names = {c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands}  # type: ignore[union-attr]
    log_stage_run(argv, names, time.perf_counter() - t0, code)
    return code


def _run(argv: list[str] | None) -> int:
    import os

    # No GDAL .aux.xml sidecars next to the outputs: metadata lives inside the GeoPackages/GeoTIFFs.
    os.environ.setdefault("GDAL_PAM_ENABLED", "NO")

    from .io import leave_on_sigterm

    leave_on_sigterm(err_console.print)
    try:
        app(args=argv, standalone_mode=False)
    except PipelineError as exc:
        err_console.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except (MemoryError, OSError) as exc:
        from .errors import resource_failure

        found = resource_failure(exc, command_of(argv))
        if found is None:
            raise
        err_console.print(f"[bold red]error:[/bold red] {found[0]}", highlight=False, soft_wrap=True)
        return found[1]
    except _EXITS as exc:
        return exc.exit_code
    except _CLICK_ERRORS as exc:
        exc.show()
        return exc.exit_code
    except (*_ABORTS, KeyboardInterrupt):
        err_console.print("interrupted: previous outputs are left as they were")
        return 130
    return 0
