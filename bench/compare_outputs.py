"""Compare two output folders by content: every GeoPackage layer (features, attributes, geometry WKB,
in order) and every GeoTIFF (pixels, CRS, transform); Markdown reports line by line except the run
date. Exit 0 when identical. Usage: python bench/compare_outputs.py OLD NEW

Used to show that a refactor left every output unchanged (contents, not bytes: GeoPackages carry
their run date in the provenance metadata).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyogrio
import rasterio


def compare(old: Path, new: Path) -> list[str]:
    problems, checked = [], 0
    for a in sorted(old.rglob("*.gpkg")):
        if a.name.startswith("."):
            continue
        b = new / a.relative_to(old)
        if not b.is_file():
            problems.append(f"{b}: missing")
            continue
        layers_b = set(pyogrio.list_layers(b)[:, 0])
        for layer in pyogrio.list_layers(a)[:, 0]:
            if layer == "layer_styles":
                continue
            if layer not in layers_b:
                problems.append(f"{a.name}:{layer}: missing")
                continue
            fa = pyogrio.read_dataframe(a, layer=layer)
            fb = pyogrio.read_dataframe(b, layer=layer)
            checked += 1
            if list(fa.columns) != list(fb.columns) or len(fa) != len(fb):
                problems.append(f"{a.name}:{layer}: columns/rows {list(fa.columns)}/{len(fa)} vs "
                                f"{list(fb.columns)}/{len(fb)}")
                continue
            attrs = [c for c in fa.columns if c != "geometry"]
            if not fa[attrs].equals(fb[attrs]):
                diff = [c for c in attrs if not fa[c].equals(fb[c])]
                problems.append(f"{a.name}:{layer}: attributes differ in {diff}")
            if "geometry" in fa and not (fa.geometry.to_wkb() == fb.geometry.to_wkb()).all():
                problems.append(f"{a.name}:{layer}: geometries differ")
    for a in sorted(old.rglob("*.tif")):
        if a.name.startswith("."):
            continue
        b = new / a.relative_to(old)
        if not b.is_file():
            problems.append(f"{b}: missing")
            continue
        with rasterio.open(a) as ra, rasterio.open(b) as rb:
            checked += 1
            if ra.crs != rb.crs or ra.transform != rb.transform or \
                    not np.array_equal(ra.read(), rb.read(), equal_nan=True):
                problems.append(f"{a.name}: pixels, CRS or transform differ")
    report = old / "REPORT.md"
    if report.is_file():
        checked += 1
        if report.read_text() != (new / "REPORT.md").read_text():
            problems.append("REPORT.md differs")
    print(f"{checked} layers, rasters and reports compared; {len(problems)} differ")
    return problems


if __name__ == "__main__":
    found = compare(Path(sys.argv[1]), Path(sys.argv[2]))
    print("\n".join(found))
    sys.exit(1 if found else 0)
