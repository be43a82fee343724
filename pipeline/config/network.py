"""Configuration of the network and crossings stages.

Models of ``layers/network.yaml`` (modes, classes, speeds, snap tolerances, crossing delays) and
``layers/checkpoints.yaml`` (official border checkpoints with cited coordinates), and the
:class:`Mode` the network stage builds a graph from.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import field_validator, model_validator

from .base import ISO3, F, Strict, raw, validate_file

if TYPE_CHECKING:
    from .study import Source


@dataclass(frozen=True)
class Mode:
    """One mode of the network. Its lines come from ``source`` (a line layer of sources.yaml) or,
    when ``osm_pbf`` is set, from an OpenStreetMap extract streamed with pyosmium."""

    name: str
    source: str | None
    class_column: str | None
    snap_tolerance_m: float
    speeds_kmh: dict[str, float]
    osm_pbf: str | None = None
    osmnx_bbox: tuple[float, float, float, float] | None = None
    osm_xml: str | None = None
    network_type: str = "driving"
    use_maxspeed: bool = True
    bridge_gaps_m: float = 0.0

    @property
    def is_osm(self) -> bool:
        return bool(self.osm_pbf or self.osmnx_bbox or self.osm_xml)


class ModeSpec(Strict):
    source: str | None = F(None, "a line layer of layers/sources.yaml (Natural Earth roads, railroads)")
    osm_pbf: str | None = F(None, "OpenStreetMap extract (.osm.pbf) in the data directory, streamed with pyosmium")
    osmnx_bbox: list[float] | None = F(None, "download OpenStreetMap through osmnx: [west, south, east, "
                                       "north] (needs the internet)", unit="degrees",
                                       min_length=4, max_length=4)
    osm_xml: str | None = F(None, "OSM XML file in the data directory, read with osmnx")
    class_column: str | None = F(None, "attribute giving each line's class (null: one class, `default`)")
    snap_tolerance_m: float = F(0.0, "line ends closer than this are joined (the pack's lines were "
                                "merged across tile edges)", unit="m", ge=0, le=10000)
    speeds_kmh: dict[str, float] = F(..., "speed per class; `default` for classes not listed",
                                     unit="km/h", min_length=1)
    bridge_gaps_m: float = F(0.0, "dead ends closer than this are joined by a bridge edge when the bridge stays "
                             "inside one country (gaps in generalised lines); 0: off", unit="m", ge=0, le=50000)
    network_type: str = F("driving", "OpenStreetMap only: driving, walking, cycling or all (osm_pbf); "
                                     "osmnx network type (osmnx_bbox, osm_xml)")
    use_maxspeed: bool = F(True, "posted OSM maxspeed wins over the class speed (OpenStreetMap only)")

    @field_validator("speeds_kmh")
    @classmethod
    def _speeds(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [f"{c}: {s!r} is not a speed in km/h (0 < v ≤ 1000)" for c, s in v.items()
               if not 0 < s <= 1000]
        if bad:
            raise ValueError("; ".join(bad))
        return v

    @model_validator(mode="after")
    def _one_origin(self) -> ModeSpec:
        given = [k for k in ("source", "osm_pbf", "osmnx_bbox", "osm_xml") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give one of `source` (a line layer of layers/sources.yaml), `osm_pbf`, "
                             f"`osmnx_bbox` or `osm_xml` (given: {', '.join(given) or 'none'})")
        return self


class NetworkSection(Strict):
    """Modes of the travel-time graph."""

    modes: dict[str, ModeSpec] = F(..., "travel modes by name (road, rail)", min_length=1)
    off_network_kmh: float = F(..., "speed to reach the network from off it (local roads not in a "
                               "1:10m layer)", unit="km/h", gt=0, le=200)


class CrossingsSection(Strict):
    """Border crossings: checkpoint matching and delays."""

    match_km: float = F(25.0, "a crossing takes the name of the nearest official checkpoint of the same "
                        "neighbour and mode within this distance", unit="km", ge=0, le=500)
    delay_hours: dict[str, dict[str, float]] = F(
        {}, "hours to clear a crossing in the current scenario, per neighbour (ISO alpha-3, or "
        "`default` for neighbours not listed) and mode", unit="h")

    @field_validator("delay_hours")
    @classmethod
    def _keys(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        import re

        bad = [f"{k!r}: expected `default` or an ISO 3166-1 alpha-3 country code" for k in v
               if k != "default" and not re.fullmatch(r"[A-Z]{3}", k)]
        bad += [f"{k}.{m}: {h!r} is not a delay in hours (0..720)" for k, per in v.items()
                for m, h in per.items() if not 0 <= h <= 720]
        if bad:
            raise ValueError("; ".join(bad))
        return v


class NetworkFile(Strict):
    """layers/network.yaml: the travel-time graph and the crossing delays."""

    network: NetworkSection
    crossings: CrossingsSection = CrossingsSection()

    @classmethod
    def raw_checks(cls, data: Any) -> list[str]:
        """Delay-table modes must be modes of network.modes, and `default` must cover every mode."""
        modes, delays = raw(data, "network", "modes"), raw(data, "crossings", "delay_hours")
        if not isinstance(modes, dict) or not isinstance(delays, dict) or not delays:
            return []
        names = sorted(map(str, modes))
        problems = []
        for who, per_mode in delays.items():
            for m in sorted(set(map(str, per_mode)) - set(names)) if isinstance(per_mode, dict) else []:
                near = difflib.get_close_matches(m, names, n=1, cutoff=0.5)
                problems.append(f"crossings.delay_hours.{who}.{m}: '{m}' is not a mode of network.modes"
                                + (f"; did you mean {near[0]}?" if near else "") + f" (modes: {', '.join(names)})")
        default = delays.get("default")
        missing = [m for m in names if not isinstance(default, dict) or m not in default]
        if missing:
            problems.append(f"crossings.delay_hours.default: no default delay for mode(s) {', '.join(missing)}")
        return problems

    @property
    def modes(self) -> tuple[Mode, ...]:
        """The modes as the network stage uses them."""
        return tuple(Mode(name=name, source=m.source, class_column=m.class_column,
                          snap_tolerance_m=float(m.snap_tolerance_m),
                          speeds_kmh={c: float(s) for c, s in m.speeds_kmh.items()},
                          osm_pbf=m.osm_pbf, osm_xml=m.osm_xml,
                          osmnx_bbox=tuple(m.osmnx_bbox) if m.osmnx_bbox else None,  # type: ignore[arg-type]
                          network_type=m.network_type, use_maxspeed=m.use_maxspeed,
                          bridge_gaps_m=float(m.bridge_gaps_m))
                     for name, m in self.network.modes.items())

    @property
    def off_network_kmh(self) -> float:
        return float(self.network.off_network_kmh)

    @property
    def match_km(self) -> float:
        return float(self.crossings.match_km)

    @property
    def delay_hours(self) -> dict[str, dict[str, float]]:
        """Delay per neighbour (or ``default``) and mode, hours."""
        return {who: {m: float(h) for m, h in d.items()} for who, d in self.crossings.delay_hours.items()}


def load_network(layers_dir: Path | str, sources: dict[str, Source] | None = None) -> NetworkFile:
    """Validate ``layers/network.yaml``.

    Parameters
    ----------
    layers_dir
        The configuration folder.
    sources
        The sources of layers/sources.yaml, to check that each mode's `source` exists.

    Returns
    -------
    NetworkFile
    """
    from ..errors import ConfigError

    path = Path(layers_dir) / "network.yaml"
    net = validate_file(path, NetworkFile)
    if sources is not None:
        bad = [f"{path}: network.modes.{n}.source: {m.source!r} is not a source of layers/sources.yaml "
               f"({', '.join(sorted(sources))})" for n, m in net.network.modes.items()
               if m.source and m.source not in sources]
        if bad:
            raise ConfigError("\n".join(bad))
    return net


# --- layers/checkpoints.yaml ------------------------------------------------------------------------

class Checkpoint(Strict):
    name: str = F(..., "official name of the checkpoint", min_length=1)
    neighbour: ISO3 = F(..., "the country across the border")
    modes: list[str] = F(..., "network modes through it (road, rail)", min_length=1)
    lon: float = F(..., "longitude (WGS84)", unit="degrees", ge=-180, le=180)
    lat: float = F(..., "latitude (WGS84)", unit="degrees", ge=-90, le=90)
    source: str = F(..., "citation of the coordinates", min_length=1)


class CheckpointsFile(Strict):
    """layers/checkpoints.yaml: official border checkpoints of the focus country."""

    checkpoints: list[Checkpoint] = F([], "checkpoints with cited coordinates")

    @field_validator("checkpoints")
    @classmethod
    def _unique(cls, v: list[Checkpoint]) -> list[Checkpoint]:
        names = [c.name for c in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"checkpoint(s) listed twice: {', '.join(dup)}")
        return v
