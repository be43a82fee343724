"""Stage 6c, validate (run by `make all`): writes ``outputs/VALIDATION.md`` or fails.

Reads every GeoPackage in ``outputs/`` (and the stage files) and checks, per layer: an explicit
CRS, no empty layer, no empty or invalid geometry. For the belts: two belts of the same side,
country and distance but different border segments may overlap only near the point where their
segments meet: by at most a disc of radius d (π·d²) per shared end. Returns the problems found.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely

from .geodesy import area_km2


def check_layers(paths: list[Path], root: Path | None = None) -> tuple[list[str], list[str]]:
    """(problems, summary lines) for every layer of the GeoPackages (named relative to ``root``)."""
    problems, lines = [], []
    for path in paths:
        for name, geom_type in pyogrio.list_layers(path):
            if name == "layer_styles":
                continue
            where = f"{path.relative_to(root).as_posix() if root else path.name}/{name}"
            if geom_type is None:  # an attribute table (statistics, claims): no geometry to check
                n = pyogrio.read_info(path, layer=name)["features"]
                if not n:
                    problems.append(f"{where}: empty table")
                lines.append(f"| {where} | {n} | table | – | – |")
                continue
            gdf = gpd.read_file(path, layer=name)
            if gdf.crs is None:
                problems.append(f"{where}: no CRS")
            if gdf.empty:
                problems.append(f"{where}: empty layer")
                continue
            empty = int((gdf.geometry.isna() | gdf.geometry.is_empty).sum())
            invalid = int((~gdf.geometry.is_valid).sum())
            if empty:
                problems.append(f"{where}: {empty} empty geometries")
            if invalid:
                problems.append(f"{where}: {invalid} invalid geometries")
            lines.append(f"| {where} | {len(gdf)} | {gdf.crs.to_string() if gdf.crs else '–'} | "
                         f"{invalid} | {empty} |")
    return problems, lines


def check_zone_overlaps(zones: gpd.GeoDataFrame, segments: gpd.GeoDataFrame
                        ) -> tuple[list[str], list[str]]:
    """Belts of one side/country/distance overlap across segments by at most π·d² per shared end."""
    problems, lines = [], []
    seg = segments.set_index("segment_id").geometry
    for (_, d), grp in zones.groupby(["country", "distance_km"]):
        rows = list(grp.itertuples())
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                a, b = rows[i], rows[j]
                inter = shapely.intersection(a.geometry, b.geometry)
                if inter.is_empty:
                    continue
                overlap = float(area_km2([inter])[0])
                ends = shapely.get_num_geometries(shapely.intersection(seg[a.segment_id],
                                                                       seg[b.segment_id]))
                bound = max(ends, 1) * math.pi * d * d
                ok = overlap <= bound
                lines.append(f"| {a.zone_id} × {b.zone_id} | {overlap:,.0f} | {bound:,.0f} | "
                             f"{'ok' if ok else 'TOO LARGE'} |")
                if not ok:
                    problems.append(f"zones {a.zone_id} and {b.zone_id} overlap by {overlap:,.0f} km² "
                                    f"(> {bound:,.0f} km² allowed near their shared corners)")
    return problems, lines


def validate(outputs: Path) -> tuple[list[str], str]:
    """All checks; (problems, Markdown report)."""
    # Dot files are temporaries being written (pipeline.io.atomic_path), never outputs.
    paths = [p for p in sorted(outputs.glob("[!.]*.gpkg")) + sorted((outputs / "stages").glob("[!.]*.gpkg"))
             if not p.name.startswith(".")]
    problems, layer_lines = check_layers(paths, outputs)
    zp, zone_lines = check_zone_overlaps(gpd.read_file(outputs / "borders.gpkg", layer="zones"),
                                         gpd.read_file(outputs / "borders.gpkg", layer="border_segments"))
    problems += zp
    text = "\n".join([
        "# Validation of the outputs", "",
        f"Result: **{'PASS' if not problems else 'FAIL'}** ({len(problems)} problems).", "",
        *(f"- {p}" for p in problems), "" if problems else "",
        "## Layers", "", "| layer | features | CRS | invalid | empty |", "| --- | ---: | --- | ---: | ---: |",
        *layer_lines, "",
        "## Belt overlaps across neighbours (same side, country and distance)", "",
        "| belts | overlap km² | allowed km² (π·d² per shared end) | |", "| --- | ---: | ---: | --- |",
        *zone_lines, ""])
    return problems, text


def run(cfg, outputs: Path, out: Path) -> None:
    """Check every output of ``outputs`` and write the Markdown report ``out``; fail on any problem.

    Parameters
    ----------
    cfg : Config
        The run's configuration (validated before the outputs are).
    outputs
        The output folder (its GeoPackages and ``stages/``).
    out
        ``VALIDATION.md``.
    """
    from .errors import PipelineError
    from .io import write_text

    problems, text = validate(outputs)
    if problems:
        raise PipelineError(f"{len(problems)} problem(s) in the outputs: " + "; ".join(problems[:5])
                            + (" …" if len(problems) > 5 else ""))
    write_text(out, text)
