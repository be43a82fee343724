"""Study configuration: loads and validates ``layers/*.yaml``.

Reads ``layers/study.yaml`` (what to compute), ``layers/sources.yaml`` (where the inputs are),
``layers/official_borders.yaml`` (reference figures) and ``layers/region_fixes.yaml`` (corrections
of source attributes).
Every problem is reported as one :class:`~pipeline.errors.ConfigError` naming the file and key.
The data directory comes from the ``data_dir`` argument, else ``$PIPELINE_DATA_DIR``, else ``./data``.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pyproj import CRS
from pyproj.exceptions import CRSError

from .errors import ConfigError, DataMissingError

if TYPE_CHECKING:
    from .network import Mode

DATA_DIR_ENV = "PIPELINE_DATA_DIR"
# Selects which of the study's focus countries a run computes (Make variable FOCUS); default: the first.
FOCUS_ENV = "PIPELINE_FOCUS"
DEFAULT_LAYERS_DIR = Path("layers")
DEFAULT_DATA_DIR = Path("data")
MAX_DISTANCE_KM = 2000.0


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


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"configuration file {path} not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


class _Reader:
    """Typed access to a YAML mapping with errors that name the file and the key."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {problem}")

    def get(self, key: str, default: Any = ...) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                if default is ...:
                    raise self.fail(key, "missing")
                return default
            node = node[part]
        return node

    def number(self, key: str, default: Any = ..., *, lo: float | None = None,
               hi: float | None = None, lo_open: bool = False) -> float:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"expected a number, got {value!r}")
        if lo is not None and (value < lo or (lo_open and value == lo)):
            raise self.fail(key, f"{value} must be {'>' if lo_open else '>='} {lo}")
        if hi is not None and value > hi:
            raise self.fail(key, f"{value} must be <= {hi}")
        return float(value)

    def crs(self, key: str) -> CRS:
        value = self.get(key)
        try:
            return CRS.from_user_input(value)
        except CRSError as exc:
            raise self.fail(key, f"not a valid CRS ({value!r}): {exc}") from None


def _distances(r: _Reader) -> tuple[float, ...]:
    raw = r.get("zones.distances_km")
    if not isinstance(raw, list) or not raw:
        raise r.fail("zones.distances_km", "expected a non-empty list of distances in km")
    out: list[float] = []
    for v in raw:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise r.fail("zones.distances_km", f"{v!r} is not a number of km")
        if v <= 0:
            raise r.fail("zones.distances_km", f"{v} km: distances must be positive")
        if v > MAX_DISTANCE_KM:
            raise r.fail("zones.distances_km",
                         f"{v} km is absurd for a cross-border belt (max {MAX_DISTANCE_KM:g} km)")
        out.append(float(v))
    if len(set(out)) != len(out):
        raise r.fail("zones.distances_km", f"duplicate distances in {raw}")
    return tuple(sorted(out))


def _sources(path: Path, data: dict[str, Any]) -> tuple[dict[str, Source], str, dict[str, str]]:
    r = _Reader(path, data)
    raw = r.get("sources")
    if not isinstance(raw, dict) or not raw:
        raise r.fail("sources", "expected a mapping of source name to its description")
    sources: dict[str, Source] = {}
    for key, spec in raw.items():
        if not isinstance(spec, dict):
            raise r.fail(f"sources.{key}", "expected a mapping")
        for required in ("file", "url", "title", "licence", "credit"):
            if not spec.get(required):
                raise r.fail(f"sources.{key}.{required}", "missing")
        sha = spec.get("sha256")
        if sha is not None and not re.fullmatch(r"[0-9a-f]{64}", str(sha)):
            raise r.fail(f"sources.{key}.sha256", "expected 64 lower-case hex digits or null")
        columns = spec.get("columns")
        if columns is not None and (not isinstance(columns, list) or not columns):
            raise r.fail(f"sources.{key}.columns", "expected a non-empty list of column names")
        sources[key] = Source(
            key=key, file=str(spec["file"]), url=str(spec["url"]), title=str(spec["title"]),
            licence=str(spec["licence"]), credit=str(spec["credit"]),
            member=spec.get("member"), lowercase_columns=bool(spec.get("lowercase_columns", False)),
            columns=tuple(str(c) for c in columns) if columns else None,
            sha256=sha,
        )
    regions = str(r.get("roles.regions"))
    raw = r.get("roles.focus_regions_vintages", {}) or {}
    if not isinstance(raw, dict):
        raise r.fail("roles.focus_regions_vintages", "expected a mapping of vintage name to source")
    # A vintage is `name: source` (any focus) or `name: {source: key, country: ISO3}` (that focus only).
    vintages: dict[str, tuple[str, str | None]] = {}
    for name, spec in raw.items():
        role = f"roles.focus_regions_vintages.{name}"
        if isinstance(spec, dict):
            country = str(spec.get("country"))
            if not isinstance(spec.get("source"), str) or not re.fullmatch(r"[A-Z]{3}", country):
                raise r.fail(role, "expected a source name or {source: <name>, country: <ISO alpha-3>}")
            vintages[str(name)] = (spec["source"], str(spec["country"]))
        else:
            vintages[str(name)] = (str(spec), None)
    for role, key in [("roles.regions", regions), *((f"roles.focus_regions_vintages.{k}", v[0])
                                                     for k, v in vintages.items())]:
        if key not in sources:
            raise r.fail(role, f"names source '{key}', which is not defined under `sources`")
    return sources, regions, vintages


def _focus_countries(r: _Reader) -> list[str]:
    """study.focus_countries (a list) or, as before, study.focus_country (one code)."""
    key = "study.focus_countries"
    if r.get(key, None) is None:
        key = "study.focus_country"
    value = r.get(key)
    codes = value if isinstance(value, list) else [value]
    if not codes:
        raise r.fail(key, "expected at least one ISO 3166-1 alpha-3 code, e.g. [KAZ]")
    for code in codes:
        if not isinstance(code, str) or not re.fullmatch(r"[A-Z]{3}", code):
            raise r.fail(key, f"{code!r} is not an ISO 3166-1 alpha-3 code (three capital letters, e.g. KAZ)")
    if len(set(codes)) != len(codes):
        raise r.fail(key, f"{codes} lists a country twice")
    return codes


def load_config(layers_dir: Path | str = DEFAULT_LAYERS_DIR,
                data_dir: Path | str | None = None, focus: str | None = None) -> Config:
    """Load and validate the study configuration from ``layers_dir``. ``focus`` (else $PIPELINE_FOCUS,
    else the first of study.focus_countries) is the focus country of this run."""
    layers_dir = Path(layers_dir)
    study_path = layers_dir / "study.yaml"
    sources_path = layers_dir / "sources.yaml"
    official_path = layers_dir / "official_borders.yaml"
    fixes_path = layers_dir / "region_fixes.yaml"

    r = _Reader(study_path, _read_yaml(study_path))
    focus_list = _focus_countries(r)
    focus = focus or os.environ.get(FOCUS_ENV) or focus_list[0]
    if not re.fullmatch(r"[A-Z]{3}", focus):
        raise ConfigError(f"focus country {focus!r} (FOCUS / ${FOCUS_ENV}) is not an ISO 3166-1 alpha-3 "
                          "code (three capital letters, e.g. KAZ)")
    bbox = r.get("study.bbox")
    if (not isinstance(bbox, list) or len(bbox) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)
            or not (-180 <= bbox[0] < bbox[2] <= 180 and -90 <= bbox[1] < bbox[3] <= 90)):
        raise r.fail("study.bbox", f"{bbox!r} is not [min_lon, min_lat, max_lon, max_lat] in degrees")
    seas: list[Sea] = []
    for i, s in enumerate(r.get("study.seas", []) or []):
        pt = s.get("point") if isinstance(s, dict) else None
        if (not isinstance(s, dict) or not s.get("name") or not isinstance(pt, list) or len(pt) != 2
                or not all(isinstance(v, (int, float)) for v in pt)):
            raise r.fail(f"study.seas[{i}]", "expected {name: ..., point: [lon, lat]}")
        seas.append(Sea(str(s["name"]), (float(pt[0]), float(pt[1]))))

    sources, regions_source, vintages = _sources(sources_path, _read_yaml(sources_path))
    official = _read_yaml(official_path) if official_path.is_file() else {}
    if official.get("focus_country", focus) != focus:
        official = {}  # the official figures are another focus country's borders
    fixes = _read_yaml(fixes_path) if fixes_path.is_file() else {}
    for code, fix in fixes.items():
        if not isinstance(fix, dict) or not set(fix) <= {"name_en", "iso_3166_2"}:
            raise ConfigError(f"{fixes_path}: {code}: expected a mapping of name_en / iso_3166_2")

    if data_dir is None:
        data_dir = os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    files = tuple(p for p in (study_path, sources_path, official_path, fixes_path) if p.is_file())
    return Config(
        layers_dir=layers_dir,
        data_dir=Path(data_dir),
        name=(str(r.get("study.name", focus)) if focus == focus_list[0]
              else f"{r.get('study.name', focus_list[0])}, focus {focus}"),
        focus_country=focus,
        bbox=tuple(float(v) for v in bbox),  # type: ignore[arg-type]
        seas=tuple(seas),
        distances_km=_distances(r),
        maritime_zones=bool(r.get("zones.maritime", True)),
        tolerance_km=r.number("border_regions.tolerance_km", 5.0, lo=0.0),
        min_shared_km=r.number("border_regions.min_shared_km", 10.0, lo=0.0),
        min_zone_share=r.number("border_regions.min_zone_share", 0.0001, lo=0.0, hi=1.0),
        output_crs=r.crs("crs.output"),
        equal_area_crs=r.crs("crs.equal_area"),
        ellipsoid=str(r.get("geodesy.ellipsoid", "WGS84")),
        buffer_piece_km=r.number("geodesy.buffer_piece_km", 250.0, lo=10.0, hi=1000.0),
        densify_km=r.number("geodesy.densify_km", 2.0, lo=0.01, hi=50.0, lo_open=True),
        sources=sources,
        regions_source=regions_source,
        vintages={k: src for k, (src, country) in vintages.items() if country in (None, focus)},
        focus_countries=tuple(focus_list),
        official=official,
        region_fixes={str(k): {str(f): str(v) for f, v in fix.items()} for k, fix in fixes.items()},
        files=files,
    )


@dataclass(frozen=True)
class NetworkConfig:
    modes: tuple[Mode, ...]
    off_network_kmh: float
    delay_hours: dict[str, dict[str, float]] = field(default_factory=dict)
    match_km: float = 25.0


def load_network(layers_dir: Path | str = DEFAULT_LAYERS_DIR,
                 sources: dict[str, Source] | None = None) -> NetworkConfig:
    """Load and validate ``layers/network.yaml`` (modes, classes, speeds, snap tolerances)."""
    from .network import Mode

    path = Path(layers_dir) / "network.yaml"
    r = _Reader(path, _read_yaml(path))
    raw = r.get("network.modes")
    if not isinstance(raw, dict) or not raw:
        raise r.fail("network.modes", "expected a mapping of mode name to its description")
    modes = []
    for name, spec in raw.items():
        key = f"network.modes.{name}"
        if not isinstance(spec, dict):
            raise r.fail(key, "expected a mapping")
        source, pbf = spec.get("source"), spec.get("osm_pbf")
        bbox, xml = spec.get("osmnx_bbox"), spec.get("osm_xml")
        if sum(bool(v) for v in (source, pbf, bbox, xml)) != 1:
            raise r.fail(key, "give one of `source` (a line layer of layers/sources.yaml), `osm_pbf`, "
                              "`osmnx_bbox` or `osm_xml`")
        if bbox is not None and (not isinstance(bbox, list) or len(bbox) != 4
                                 or not all(isinstance(v, (int, float)) for v in bbox)):
            raise r.fail(f"{key}.osmnx_bbox", "expected [west, south, east, north] in degrees")
        if source and sources is not None and source not in sources:
            raise r.fail(f"{key}.source", f"{source!r} is not a source of layers/sources.yaml")
        speeds = spec.get("speeds_kmh")
        if not isinstance(speeds, dict) or not speeds:
            raise r.fail(f"{key}.speeds_kmh", "expected a mapping of class to km/h")
        for cls, kmh in speeds.items():
            if isinstance(kmh, bool) or not isinstance(kmh, (int, float)) or not 0 < kmh <= 1000:
                raise r.fail(f"{key}.speeds_kmh.{cls}", f"{kmh!r} is not a speed in km/h (0 < v ≤ 1000)")
        modes.append(Mode(name=str(name), source=str(source) if source else None,
                          class_column=spec.get("class_column"),
                          snap_tolerance_m=r.number(f"{key}.snap_tolerance_m", 0.0, lo=0.0, hi=10000.0),
                          speeds_kmh={str(c): float(v) for c, v in speeds.items()},
                          osm_pbf=str(pbf) if pbf else None,
                          osmnx_bbox=tuple(float(v) for v in bbox) if bbox else None,  # type: ignore[arg-type]
                          osm_xml=str(xml) if xml else None,
                          network_type=str(spec.get("network_type", "driving")),
                          use_maxspeed=bool(spec.get("use_maxspeed", True))))
    delays = r.get("crossings.delay_hours", {}) or {}
    if not isinstance(delays, dict):
        raise r.fail("crossings.delay_hours", "expected a mapping of neighbour (or default) to modes")
    for who, per_mode in delays.items():
        if not isinstance(per_mode, dict):
            raise r.fail(f"crossings.delay_hours.{who}", "expected a mapping of mode to hours")
        for m, h in per_mode.items():
            if isinstance(h, bool) or not isinstance(h, (int, float)) or not 0 <= h <= 24 * 30:
                raise r.fail(f"crossings.delay_hours.{who}.{m}", f"{h!r} is not a delay in hours (0..720)")
    names = {m.name for m in modes}
    missing = sorted(names - set(delays.get("default") or {}))
    if delays and missing:
        raise r.fail("crossings.delay_hours.default", f"no default delay for mode(s) {', '.join(missing)}")
    return NetworkConfig(modes=tuple(modes),
                         off_network_kmh=r.number("network.off_network_kmh", lo=0.0, hi=200.0,
                                                  lo_open=True),
                         delay_hours={str(k): {str(m): float(h) for m, h in v.items()}
                                      for k, v in delays.items()},
                         match_km=r.number("crossings.match_km", 25.0, lo=0.0, hi=500.0))


@dataclass(frozen=True)
class AccessibilityConfig:
    resolution_m: float
    extent_buffer_km: float
    mode: str
    access_spacing_m: float
    k_nearest: int
    scenarios: tuple[str, ...]
    isochrones_h: tuple[float, ...]


def load_accessibility(layers_dir: Path | str = DEFAULT_LAYERS_DIR) -> AccessibilityConfig:
    """Load and validate ``layers/accessibility.yaml``."""
    path = Path(layers_dir) / "accessibility.yaml"
    r = _Reader(path, _read_yaml(path))
    scenarios = r.get("accessibility.scenarios")
    known = ("open", "current", "closed")
    if not isinstance(scenarios, list) or not scenarios or not set(scenarios) <= set(known):
        raise r.fail("accessibility.scenarios", f"expected a list drawn from {', '.join(known)}")
    if "open" not in scenarios:
        raise r.fail("accessibility.scenarios", "must include 'open' (the barrier effect is against it)")
    iso = r.get("accessibility.isochrones_h")
    if (not isinstance(iso, list) or not iso
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in iso)):
        raise r.fail("accessibility.isochrones_h", "expected a list of positive hours")
    return AccessibilityConfig(
        resolution_m=r.number("accessibility.resolution_m", lo=50.0, hi=50000.0),
        extent_buffer_km=r.number("accessibility.extent_buffer_km", lo=0.0, hi=3000.0),
        mode=str(r.get("accessibility.mode")),
        access_spacing_m=r.number("accessibility.access_spacing_m", lo=10.0, hi=50000.0),
        k_nearest=int(r.number("accessibility.k_nearest", lo=1, hi=64)),
        scenarios=tuple(dict.fromkeys(str(s) for s in scenarios)),
        isochrones_h=tuple(sorted(float(v) for v in iso)),
    )


@dataclass(frozen=True)
class InfluenceConfig:
    scenarios: tuple[str, ...]
    tier_sets: dict[str, tuple[str, ...]]
    huff_tier_set: str
    huff_scenario: str
    alpha: float
    beta_per_hour: float
    beyond_hours: float
    beyond_scenario: str
    cross_border_tier_set: str
    corridor_km: float
    axes_scenario: str
    places: dict[str, int]
    routes: dict[str, tuple[tuple[str, ...], ...]]


def load_influence(layers_dir: Path | str = DEFAULT_LAYERS_DIR) -> InfluenceConfig:
    """Load and validate ``layers/influence.yaml``."""
    path = Path(layers_dir) / "influence.yaml"
    r = _Reader(path, _read_yaml(path))
    known = ("open", "current", "closed")
    scenarios = r.get("influence.scenarios")
    if not isinstance(scenarios, list) or not scenarios or not set(scenarios) <= set(known):
        raise r.fail("influence.scenarios", f"expected a list drawn from {', '.join(known)}")
    sets = r.get("influence.tier_sets")
    if not isinstance(sets, dict) or not sets or not all(isinstance(v, list) and v for v in sets.values()):
        raise r.fail("influence.tier_sets", "expected a mapping of name to a list of pole tiers")
    for key in ("influence.huff.tier_set", "influence.cross_border.tier_set"):
        if r.get(key) not in sets:
            raise r.fail(key, f"{r.get(key)!r} is not one of tier_sets ({', '.join(sets)})")
    for key in ("influence.huff.scenario", "influence.beyond.scenario", "influence.axes.scenario"):
        if r.get(key) not in known:
            raise r.fail(key, f"{r.get(key)!r} is not a scenario ({', '.join(known)})")
    routes = r.get("influence.axes.routes")
    if (not isinstance(routes, dict) or not routes
            or not all(isinstance(legs, list) and legs and all(isinstance(s, list) and len(s) >= 2
                                                                for s in legs) for legs in routes.values())):
        raise r.fail("influence.axes.routes", "expected axis name → list of stop sequences (≥ 2 stops)")
    places = r.get("influence.axes.places", {}) or {}
    return InfluenceConfig(
        scenarios=tuple(dict.fromkeys(scenarios)),
        tier_sets={str(k): tuple(map(str, v)) for k, v in sets.items()},
        huff_tier_set=str(r.get("influence.huff.tier_set")),
        huff_scenario=str(r.get("influence.huff.scenario")),
        alpha=r.number("influence.huff.alpha", lo=0.0, hi=5.0),
        beta_per_hour=r.number("influence.huff.beta_per_hour", lo=0.0, hi=50.0),
        beyond_hours=r.number("influence.beyond.hours", lo=0.0, hi=240.0, lo_open=True),
        beyond_scenario=str(r.get("influence.beyond.scenario")),
        cross_border_tier_set=str(r.get("influence.cross_border.tier_set")),
        corridor_km=r.number("influence.axes.corridor_km", lo=0.0, hi=500.0, lo_open=True),
        axes_scenario=str(r.get("influence.axes.scenario")),
        places={str(k): int(v["geonameid"]) for k, v in places.items()},
        routes={str(k): tuple(tuple(map(str, s)) for s in v) for k, v in routes.items()},
    )
