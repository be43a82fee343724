"""Writing a stage's GeoPackage the same way everywhere: atomically, with layer descriptions, QGIS
styles (``layer_styles``), layer metadata (title, abstract, CRS, source, licence) and the run's
provenance (pipeline version, configuration hash, source files, run date).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd

from . import __version__
from .config import Config

LICENCE = "Data: Natural Earth public domain; geokz CC BY 4.0; GeoNames CC BY 4.0"
#: Credit line of derived rasters (their vectors name the sources of their own configuration).
CREDIT = ("border-pipeline " + __version__ + "; Made with Natural Earth; geokz, A. Rodionov (CC BY 4.0); "
          "GeoNames (CC BY 4.0); crossing delays: ADB CAREC CPMM 2022")


def write_stage(cfg: Config, out: Path, layers: Mapping[str, gpd.GeoDataFrame],
                descriptions: Mapping[str, str]) -> Path:
    """Write a stage's GeoPackage with descriptions, QGIS styles, layer metadata and provenance.

    Parameters
    ----------
    cfg
        The run's configuration (provenance, credits, belt distances for the styles).
    out
        The GeoPackage to write (replaced atomically).
    layers
        Layer name → GeoDataFrame (each with a CRS).
    descriptions
        Layer name → one-paragraph description (the abstract QGIS shows).

    Returns
    -------
    Path
        ``out``.
    """
    from .io import write_layers
    from .styles import styles_for

    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    prov = {**provenance(cfg), "run date (UTC)": now}
    credits = "; ".join(sorted({s.credit for s in cfg.sources.values()} | {"GeoNames (CC BY 4.0)"}))
    layer_md = {name: {"TITLE": name.replace("_", " ").capitalize(),
                       "ABSTRACT": descriptions.get(name, ""),
                       "CRS": gdf.crs.to_string() if getattr(gdf, "crs", None) is not None else "",
                       "SOURCE": "border-pipeline " + __version__ + "; " + credits,
                       "LICENCE": LICENCE}
                for name, gdf in layers.items()}
    return write_layers(out, layers, descriptions, styles=styles_for(cfg.distances_km),
                        metadata={re.sub(r"[^A-Z0-9]+", "_", k.upper()).strip("_"): v
                                  for k, v in prov.items()},
                        layer_metadata=layer_md)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def provenance(cfg: Config) -> dict[str, str]:
    """Pipeline version, configuration hash and each boundary source with its digest.

    Parameters
    ----------
    cfg
        The run's configuration.

    Returns
    -------
    dict of str
        Label → value, in a stable order (no run date: the report must be reproducible).
    """
    used = [cfg.regions_source, *cfg.vintages.values()]
    out = {"pipeline version": __version__, "configuration sha256": cfg.digest()}
    for key in used:
        src = cfg.source(key)
        path = cfg.data_dir / src.file
        digest = f"sha256 {_sha256(path)[:16]}…" if path.is_file() else "not present in this run"
        out[f"source {src.file}"] = f"{src.title}; {src.licence}; credit: {src.credit}; {digest}"
    return out
