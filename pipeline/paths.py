"""Every file the pipeline writes, and the one numbering of its stages.

The Makefile names the same files (a test keeps the two in agreement); the command line's defaults,
the README's data-flow picture and the module docstrings use :data:`STAGES`.

All paths are relative to the output folder ``OUT`` (Make variable, default ``outputs``)::

    1  ingest          → stages/ingest.gpkg
    2a borders         → stages/borders.gpkg
    2b zones           → stages/zones.gpkg
    2c border-regions  → stages/border_regions.gpkg
    3a network         → stages/network.gpkg
    3b crossings       → stages/crossings.gpkg
    3c link            → stages/linked.arrays
    3d accessibility   → accessibility.gpkg, rasters/access_*.tif, rasters/barrier_*.tif, stages/crossing_hours.tif
    4  influence       → influence.gpkg, rasters/huff_probability.tif, stages/catchment_poles.tif,
                         stages/market_poles.tif
    5a economy         → economy.gpkg
    5b population      → population.gpkg, rasters/population.tif, stages/population_surface.tif
    5c people-influence → people_influence.gpkg
    6a publish         → borders.gpkg, REPORT.md, border_regions.qgs
    6b maps            → maps/*.png, maps/*.pdf
    6c validate        → VALIDATION.md
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple


class Stage(NamedTuple):
    number: str
    command: str
    module: str
    config: tuple[str, ...]  # its own files of layers/ (besides the core files every stage reads)
    summary: str


#: The stages in order: number, command, module of pipeline/, its own configuration files, summary.
STAGES: tuple[Stage, ...] = (
    Stage("1", "ingest", "ingest", (), "admin-1 regions of every country, countries, focus-country vintages"),
    Stage("2a", "borders", "borders", (), "the focus country's border split per neighbour and sea shore"),
    Stage("2b", "zones", "zones", (), "cross-border belts of every distance on both sides"),
    Stage("2c", "border-regions", "border_regions", (), "regions along each border and in each belt"),
    Stage("3a", "network", "network", ("network.yaml",), "travel-time graph per mode"),
    Stage("3b", "crossings", "crossings", ("network.yaml", "checkpoints.yaml"),
          "border crossings with delays per scenario"),
    Stage("3c", "link", "link", ("network.yaml", "accessibility.yaml", "poles.yaml"),
          "the grid's cells and the poles joined to the road network (for 3d and 4)"),
    Stage("3d", "accessibility", "accessibility", ("network.yaml", "accessibility.yaml", "poles.yaml"),
          "hours to the nearest growth pole per cell and scenario"),
    Stage("4", "influence", "influence",
          ("network.yaml", "accessibility.yaml", "poles.yaml", "influence.yaml", "checkpoints.yaml"),
          "catchments, Huff market areas, beyond influence, cross-border influence, axes"),
    Stage("5a", "economy", "economy", ("economy.yaml", "poles.yaml"),
          "official statistics joined to the regions; the paper's economic claims; trade"),
    Stage("5b", "population", "population", ("population.yaml", "economy.yaml", "accessibility.yaml",
                                              "network.yaml", "poles.yaml"),
          "population surface; people in the belts; people-weighted accessibility"),
    Stage("5c", "people-influence", "people_influence", ("influence.yaml", "accessibility.yaml"),
          "people in the catchments and market areas; people whose fastest pole is abroad"),
    Stage("6a", "publish", "publish", ("official_borders.yaml", "influence.yaml", "economy.yaml"),
          "borders.gpkg, REPORT.md and the QGIS project"),
    Stage("6b", "maps", "maps", (), "publication maps (PNG and PDF)"),
    Stage("6c", "validate", "validate", (), "checks of every output (VALIDATION.md)"),
)


def command_of(argv: list[str] | None) -> str:
    """The stage command of a command line (``sys.argv[1:]`` when None), or "pipeline"."""
    import sys

    words = [a for a in (argv if argv is not None else sys.argv[1:]) if not a.startswith("-")]
    return next((w for w in words if w in {s.command for s in STAGES}), "pipeline")


def stage(command: str) -> Stage:
    """The stage run by ``command``."""
    return next(s for s in STAGES if s.command == command)


@dataclass(frozen=True)
class Paths:
    """The files of one run, below its output folder."""

    out: Path = Path("outputs")
    #: Folder of the stage files when it is not ``out/stages`` (the command line's ``--stages``).
    stages_dir: Path | None = None

    @property
    def stages(self) -> Path:
        return self.stages_dir if self.stages_dir is not None else self.out / "stages"

    @property
    def ingest(self) -> Path:
        return self.stages / "ingest.gpkg"

    @property
    def borders(self) -> Path:
        return self.stages / "borders.gpkg"

    @property
    def zones(self) -> Path:
        return self.stages / "zones.gpkg"

    @property
    def border_regions(self) -> Path:
        return self.stages / "border_regions.gpkg"

    @property
    def network(self) -> Path:
        return self.stages / "network.gpkg"

    @property
    def crossings(self) -> Path:
        return self.stages / "crossings.gpkg"

    @property
    def linked(self) -> Path:
        return self.stages / "linked.arrays"

    @property
    def accessibility(self) -> Path:
        return self.out / "accessibility.gpkg"

    @property
    def influence(self) -> Path:
        return self.out / "influence.gpkg"

    @property
    def economy(self) -> Path:
        return self.out / "economy.gpkg"

    @property
    def population(self) -> Path:
        return self.out / "population.gpkg"

    @property
    def crossing_hours(self) -> Path:
        return self.stages / "crossing_hours.tif"

    @property
    def population_surface(self) -> Path:
        return self.stages / "population_surface.tif"

    @property
    def catchment_poles(self) -> Path:
        return self.stages / "catchment_poles.tif"

    @property
    def market_poles(self) -> Path:
        return self.stages / "market_poles.tif"

    @property
    def people_influence(self) -> Path:
        return self.out / "people_influence.gpkg"

    @property
    def rasters(self) -> Path:
        return self.out / "rasters"

    @property
    def borders_gpkg(self) -> Path:
        return self.out / "borders.gpkg"

    @property
    def report(self) -> Path:
        return self.out / "REPORT.md"

    @property
    def project(self) -> Path:
        return self.out / "border_regions.qgs"

    @property
    def maps(self) -> Path:
        return self.out / "maps"

    @property
    def validation(self) -> Path:
        return self.out / "VALIDATION.md"


#: Default paths (OUT=outputs), used as the command line's defaults.
DEFAULT = Paths()
