"""The study's core configuration, read by every stage.

Models of ``layers/study.yaml`` (what to compute), ``layers/sources.yaml`` (where the inputs are),
``layers/official_borders.yaml`` (reference figures) and ``layers/region_fixes.yaml`` (corrections
of source attributes), and :func:`load_config`, which validates them and resolves the run's focus
country and data directory into one :class:`Config`.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import RootModel, field_validator, model_validator
from pyproj import CRS
from pyproj.exceptions import CRSError

from ..errors import ConfigError, DataMissingError
from .base import ISO3, F, Strict, validate_file

DATA_DIR_ENV = "PIPELINE_DATA_DIR"
# Selects which of the study's focus countries a run computes (Make variable FOCUS); default: the first.
FOCUS_ENV = "PIPELINE_FOCUS"
DEFAULT_LAYERS_DIR = Path("layers")
DEFAULT_DATA_DIR = Path("data")
MAX_DISTANCE_KM = 2000.0


# --- layers/study.yaml ------------------------------------------------------------------------------

class SeaSpec(Strict):
    name: str = F(..., "name of the sea, e.g. Caspian Sea", min_length=1)
    point: list[float] = F(..., "a point inside the sea, [lon, lat]; the sea is the hole in the land "
                           "that contains it", unit="degrees", min_length=2, max_length=2)


class StudySection(Strict):
    """The focus countries and the study area."""

    name: str = F("Study", "title of the study, shown in the report, the maps and the QGIS project")
    focus_countries: list[ISO3] | None = F(
        None, "focus countries, ISO alpha-3; each is an independent study of its borders, `make all` "
        "computes the first (FOCUS= picks another)", min_length=1)
    focus_country: ISO3 | None = F(None, "older single-country form of focus_countries")
    bbox: list[float] = F(..., "study area [min_lon, min_lat, max_lon, max_lat]; the downloader clips "
                          "sources to it", unit="degrees", min_length=4, max_length=4)
    seas: list[SeaSpec] = F([], "inland seas whose shore is a maritime border")

    @field_validator("bbox")
    @classmethod
    def _bbox(cls, v: list[float]) -> list[float]:
        if not (-180 <= v[0] < v[2] <= 180 and -90 <= v[1] < v[3] <= 90):
            raise ValueError(f"{v!r} is not [min_lon, min_lat, max_lon, max_lat] in degrees")
        return v

    @field_validator("focus_countries")
    @classmethod
    def _unique(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(set(v)) != len(v):
            raise ValueError(f"{v} lists a country twice")
        return v

    @model_validator(mode="after")
    def _one_form(self) -> StudySection:
        if self.focus_countries is None and self.focus_country is None:
            raise ValueError("give focus_countries, e.g. [KAZ]")
        return self

    @property
    def focus_list(self) -> list[str]:
        return list(self.focus_countries or [self.focus_country])  # type: ignore[list-item]


class ZonesSection(Strict):
    """Cross-border belts on both sides of every border segment."""

    distances_km: list[float] = F(..., "widths of the cross-border belts on each side of every "
                                  "border segment", unit="km", min_length=1)
    maritime: bool = F(True, "also build belts along sea shores (maritime segments)")

    @field_validator("distances_km")
    @classmethod
    def _distances(cls, v: list[float]) -> list[float]:
        for d in v:
            if d <= 0:
                raise ValueError(f"{d:g} km: distances must be positive")
            if d > MAX_DISTANCE_KM:
                raise ValueError(f"{d:g} km is absurd for a cross-border belt (max {MAX_DISTANCE_KM:g} km)")
        if len(set(v)) != len(v):
            raise ValueError(f"duplicate distances in {v}")
        return sorted(float(d) for d in v)


class BorderRegionsSection(Strict):
    """When a region counts as bordering a segment or lying in a belt."""

    tolerance_km: float = F(5.0, "a region borders a segment when min_shared_km of the segment lies "
                            "within this distance of it (absorbs outline differences between vintages)",
                            unit="km", ge=0, le=100)
    min_shared_km: float = F(10.0, "length of segment that must lie within tolerance_km of a region",
                             unit="km", ge=0, le=1000)
    min_zone_share: float = F(0.0001, "a region is in a belt when at least this share of its area lies "
                              "inside", unit="share 0–1", ge=0, le=1)
    tolerance_sensitivity_km: list[float] = F([1.0, 2.0, 5.0, 10.0], "tolerances the report compares: which "
                                              "regions border each segment under each", unit="km")

    @field_validator("tolerance_sensitivity_km")
    @classmethod
    def _tolerances(cls, v: list[float]) -> list[float]:
        bad = [t for t in v if not 0 <= t <= 100]
        if bad:
            raise ValueError(f"tolerances must lie in 0–100 km (got {', '.join(f'{t:g}' for t in bad)})")
        return sorted(set(v))


class CrsSection(Strict):
    """Coordinate reference systems."""

    output: str = F(..., "CRS of every output layer (EPSG code, WKT or PROJ string)")
    equal_area: str = F(..., "equal-area working CRS for metric operations, rasters and maps")
    equal_area_name: str | None = F(None, "name given to the equal-area CRS when it has none (a PROJ string "
                                    "is 'unknown' in QGIS), e.g. Kazakhstan Albers Equal Area")

    @field_validator("output", "equal_area")
    @classmethod
    def _crs(cls, v: str) -> str:
        try:
            CRS.from_user_input(v)
        except CRSError as exc:
            raise ValueError(f"not a valid CRS ({v!r}): {exc}") from None
        return v


class GeodesySection(Strict):
    """Geodesic computations."""

    ellipsoid: str = F("WGS84", "ellipsoid of every geodesic length and area (a pyproj ellipsoid name)")
    buffer_piece_km: float = F(250.0, "geodesic buffers are built in azimuthal equidistant projections "
                               "centred on border pieces at most this long", unit="km", ge=10, le=1000)
    densify_km: float = F(2.0, "vertex spacing of buffer outlines brought back to lon/lat", unit="km",
                          gt=0.01, le=50)

    @field_validator("ellipsoid")
    @classmethod
    def _ellps(cls, v: str) -> str:
        from pyproj import Geod

        try:
            Geod(ellps=v)
        except Exception:  # noqa: BLE001 - pyproj raises several types for an unknown name
            raise ValueError(f"{v!r} is not an ellipsoid pyproj knows (e.g. WGS84, GRS80)") from None
        return v


class StudyFile(Strict):
    """layers/study.yaml: what the pipeline computes."""

    study: StudySection
    zones: ZonesSection
    border_regions: BorderRegionsSection = BorderRegionsSection()
    crs: CrsSection
    geodesy: GeodesySection = GeodesySection()


# --- layers/sources.yaml ----------------------------------------------------------------------------

class SourceSpec(Strict):
    file: str = F(..., "path of the file in the data directory (GeoPackage, layer = file stem)",
                  min_length=1)
    url: str = F(..., "canonical download address used by `make data`", min_length=1)
    title: str = F(..., "title, shown in metadata and credits", min_length=1)
    licence: str = F(..., "licence of the data", min_length=1)
    credit: str = F(..., "credit line for maps and publications", min_length=1)
    member: str | None = F(None, "file inside the downloaded zip archive")
    lowercase_columns: bool = F(False, "lower-case the column names on download")
    columns: list[str] | None = F(None, "keep only these columns on download", min_length=1)
    sha256: str | None = F(None, "SHA-256 of the downloaded archive; when set, a download that "
                           "differs is refused", pattern=r"^[0-9a-f]{64}$")


class VintageSpec(Strict):
    source: str = F(..., "name of a source under `sources`")
    country: ISO3 = F(..., "the vintage is used only when this country is the focus")


class RolesSection(Strict):
    """Which source plays which role."""

    regions: str = F(..., "source of the admin-1 regions of every country (countries are their dissolve)")
    focus_regions_vintages: dict[str, str | VintageSpec] = F(
        {}, "further admin-1 vintages of a focus country: name → source, or {source, country}")


class SourcesFile(Strict):
    """layers/sources.yaml: where inputs come from."""

    sources: dict[str, SourceSpec] = F(..., "input files by name", min_length=1)
    roles: RolesSection

    @model_validator(mode="after")
    def _roles_name_sources(self) -> SourcesFile:
        roles = [("roles.regions", self.roles.regions)] + [
            (f"roles.focus_regions_vintages.{k}", v if isinstance(v, str) else v.source)
            for k, v in self.roles.focus_regions_vintages.items()]
        bad = [f"{role} names source '{key}', which is not defined under `sources`"
               for role, key in roles if key not in self.sources]
        if bad:
            raise ValueError("; ".join(bad))
        return self


# --- layers/official_borders.yaml -------------------------------------------------------------------

class OfficialLength(Strict):
    km: float = F(..., "published length", unit="km", gt=0)
    source: str = F(..., "key into `sources` of this file")
    alt_km: float | None = F(None, "another published figure", unit="km", gt=0)
    alt_source: str | None = F(None, "key into `sources` for alt_km")


class OfficialBordersFile(Strict):
    """layers/official_borders.yaml: published border lengths the computed ones are compared with."""

    focus_country: ISO3 | None = F(None, "the focus country these borders belong to")
    sources: dict[str, str] = F({}, "citation of each source key")
    land: dict[ISO3, OfficialLength] = F({}, "land border length per neighbour")
    maritime: dict[str, OfficialLength] = F({}, "coastline per sea")

    @model_validator(mode="after")
    def _sources_cited(self) -> OfficialBordersFile:
        used = {(f"{part}.{k}", s) for part in ("land", "maritime") for k, v in getattr(self, part).items()
                for s in (v.source, v.alt_source) if s is not None}
        bad = sorted(f"{where}: source '{s}' is not under `sources`" for where, s in used
                     if s not in self.sources)
        if bad:
            raise ValueError("; ".join(bad))
        return self


# --- layers/region_fixes.yaml -----------------------------------------------------------------------

class RegionFix(Strict):
    name_en: str | None = F(None, "corrected English name")
    iso_3166_2: str | None = F(None, "corrected ISO 3166-2 code", pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$")


class RegionFixesFile(RootModel[dict[str, RegionFix]]):
    """layers/region_fixes.yaml: corrections of Natural Earth attributes, keyed by adm1_code."""

    root: dict[str, RegionFix] = {}


# --- the resolved configuration of one run -----------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """One input file of the data directory and where it is downloaded from."""

    key: str
    file: str
    url: str
    title: str
    licence: str
    credit: str
    member: str | None = None
    lowercase_columns: bool = False
    columns: tuple[str, ...] | None = None
    sha256: str | None = None

    @property
    def layer(self) -> str:
        """Layer name inside the GeoPackage: the file stem, as in the data pack."""
        return Path(self.file).stem


@dataclass(frozen=True)
class Sea:
    name: str
    point: tuple[float, float]


@dataclass(frozen=True)
class Config:
    """The study configuration of one run: validated files plus the focus country and data directory."""

    layers_dir: Path
    data_dir: Path
    name: str
    focus_country: str
    bbox: tuple[float, float, float, float]
    seas: tuple[Sea, ...]
    distances_km: tuple[float, ...]
    maritime_zones: bool
    tolerance_km: float
    min_shared_km: float
    min_zone_share: float
    tolerance_sensitivity_km: tuple[float, ...]
    output_crs: CRS
    equal_area_crs: CRS
    ellipsoid: str
    buffer_piece_km: float
    densify_km: float
    sources: dict[str, Source]
    regions_source: str
    vintages: dict[str, str]
    official: dict[str, Any]
    region_fixes: dict[str, dict[str, str]]
    files: tuple[Path, ...] = field(default=())
    # Every focus country of the study (study.focus_countries); focus_country is the one of this run.
    focus_countries: tuple[str, ...] = field(default=())

    def source(self, key: str) -> Source:
        """The source named ``key`` of layers/sources.yaml; a clear error if there is none."""
        try:
            return self.sources[key]
        except KeyError:
            raise ConfigError(
                f"{self.layers_dir / 'sources.yaml'}: no source named '{key}' "
                f"(known: {', '.join(sorted(self.sources))})"
            ) from None

    def source_path(self, key: str, *, must_exist: bool = True) -> Path:
        """Path of a source file in the data directory; a clear error if it is missing."""
        src = self.source(key)
        path = self.data_dir / src.file
        if must_exist and not path.is_file():
            raise DataMissingError(
                f"missing source file {path} ({src.title}). Provide it with `make data` "
                f"(downloads {src.url}), or point DATA_DIR / ${DATA_DIR_ENV} at a directory "
                f"that has {src.file} (e.g. the data pack ../shared/data)."
            )
        return path

    def digest(self) -> str:
        """SHA-256 of the configuration files, for provenance."""
        h = hashlib.sha256()
        for f in self.files:
            h.update(f.name.encode())
            h.update(f.read_bytes())
        return h.hexdigest()


def named_crs(crs: CRS, name: str | None) -> CRS:
    """``crs`` with ``name`` when it has none of its own (a CRS from a PROJ string is 'unknown').

    Parameters
    ----------
    crs
        The CRS.
    name
        The name to give it, or None.

    Returns
    -------
    CRS
    """
    if not name or crs.name not in ("unknown", ""):
        return crs
    spec = crs.to_json_dict()
    spec["name"] = name
    return CRS.from_json_dict(spec)


CORE_FILES = ("study.yaml", "sources.yaml", "official_borders.yaml", "region_fixes.yaml")


def load_core_files(layers_dir: Path) -> tuple[StudyFile, SourcesFile, OfficialBordersFile,
                                               RegionFixesFile]:
    """Validate the four core files, reporting the problems of all of them at once."""
    results: list[Any] = []
    problems: list[str] = []
    for name, model, required in (("study.yaml", StudyFile, True), ("sources.yaml", SourcesFile, True),
                                  ("official_borders.yaml", OfficialBordersFile, False),
                                  ("region_fixes.yaml", RegionFixesFile, False)):
        try:
            results.append(validate_file(layers_dir / name, model, required=required))
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("\n".join(problems))
    return tuple(results)  # type: ignore[return-value]


def load_config(layers_dir: Path | str = DEFAULT_LAYERS_DIR,
                data_dir: Path | str | None = None, focus: str | None = None) -> Config:
    """Load and validate the study configuration.

    Parameters
    ----------
    layers_dir
        The configuration folder (``layers/``).
    data_dir
        The data directory; default ``$PIPELINE_DATA_DIR``, else ``./data``.
    focus
        Focus country of this run; default ``$PIPELINE_FOCUS``, else the first of
        ``study.focus_countries``.

    Returns
    -------
    Config
    """
    layers_dir = Path(layers_dir)
    study_f, sources_f, official_f, fixes_f = load_core_files(layers_dir)
    s = study_f.study
    focus_list = s.focus_list
    focus = focus or os.environ.get(FOCUS_ENV) or focus_list[0]
    if not re.fullmatch(r"[A-Z]{3}", focus):
        raise ConfigError(f"focus country {focus!r} (FOCUS / ${FOCUS_ENV}) is not an ISO 3166-1 alpha-3 "
                          "code (three capital letters, e.g. KAZ)")
    official = official_f.model_dump(exclude_none=True)
    if official_f.focus_country not in (None, focus):
        official = {}  # the official figures are another focus country's borders
    vintages = {}
    for name, v in sources_f.roles.focus_regions_vintages.items():
        src, country = (v, None) if isinstance(v, str) else (v.source, v.country)
        if country in (None, focus):
            vintages[name] = src
    if data_dir is None:
        data_dir = os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    files = tuple(p for p in (layers_dir / f for f in CORE_FILES) if p.is_file())
    return Config(
        layers_dir=layers_dir,
        data_dir=Path(data_dir),
        name=s.name if focus == focus_list[0] else f"{s.name}, focus {focus}",
        focus_country=focus,
        bbox=tuple(float(v) for v in s.bbox),  # type: ignore[arg-type]
        seas=tuple(Sea(x.name, (float(x.point[0]), float(x.point[1]))) for x in s.seas),
        distances_km=tuple(study_f.zones.distances_km),
        maritime_zones=study_f.zones.maritime,
        tolerance_km=float(study_f.border_regions.tolerance_km),
        min_shared_km=float(study_f.border_regions.min_shared_km),
        min_zone_share=float(study_f.border_regions.min_zone_share),
        tolerance_sensitivity_km=tuple(study_f.border_regions.tolerance_sensitivity_km),
        output_crs=CRS.from_user_input(study_f.crs.output),
        equal_area_crs=named_crs(CRS.from_user_input(study_f.crs.equal_area), study_f.crs.equal_area_name),
        ellipsoid=study_f.geodesy.ellipsoid,
        buffer_piece_km=float(study_f.geodesy.buffer_piece_km),
        densify_km=float(study_f.geodesy.densify_km),
        sources={k: Source(key=k, file=v.file, url=v.url, title=v.title, licence=v.licence,
                           credit=v.credit, member=v.member, lowercase_columns=v.lowercase_columns,
                           columns=tuple(v.columns) if v.columns else None, sha256=v.sha256)
                 for k, v in sources_f.sources.items()},
        regions_source=sources_f.roles.regions,
        vintages=vintages,
        focus_countries=tuple(focus_list),
        official=official,
        region_fixes={k: fix.model_dump(exclude_none=True) for k, fix in fixes_f.root.items()},
        files=files,
    )
