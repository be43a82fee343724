"""Small topology helpers shared by the stages: keep the polygonal or lineal part of a result."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

_EMPTY_POLY = shapely.MultiPolygon()
_EMPTY_LINE = shapely.MultiLineString()


def polygonal(geom: BaseGeometry | None) -> BaseGeometry:
    """The polygons of ``geom`` (dropping points and lines an overlay may leave), as a MultiPolygon."""
    if geom is None or geom.is_empty:
        return _EMPTY_POLY
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    polys = [q for p in parts for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(polys) if polys else _EMPTY_POLY


def lineal(geom: BaseGeometry | None) -> BaseGeometry:
    """The lines of ``geom``, merged, as a MultiLineString (points where shapes only touch dropped)."""
    if geom is None or geom.is_empty:
        return _EMPTY_LINE
    lines = [q for p in shapely.get_parts(geom) if p.geom_type in ("LineString", "MultiLineString")
             for q in shapely.get_parts(p)]
    if not lines:
        return _EMPTY_LINE
    merged = shapely.line_merge(shapely.MultiLineString(lines))
    return shapely.MultiLineString(list(shapely.get_parts(merged)))


def repair(geoms: np.ndarray) -> tuple[np.ndarray, int]:
    """make_valid every invalid geometry, keeping only its polygons; return the count repaired."""
    geoms = np.asarray(geoms, dtype=object)
    invalid = ~shapely.is_valid(geoms)
    out = geoms.copy()
    for i in np.flatnonzero(invalid):
        out[i] = polygonal(shapely.make_valid(geoms[i]))
    return out, int(invalid.sum())


def neighbour_colours(geoms: np.ndarray) -> np.ndarray:
    """Colour indices such that polygons that touch get different ones (greedy, largest first).

    Parameters
    ----------
    geoms
        Polygons (a coverage: neighbours share edges).

    Returns
    -------
    numpy.ndarray
        One small integer per polygon; at most one more than the largest number of neighbours.
    """
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left != right
    neighbours: dict[int, set[int]] = {i: set() for i in range(len(geoms))}
    for a, b in zip(left[keep], right[keep]):
        neighbours[int(a)].add(int(b))
    colour = np.full(len(geoms), -1)
    for i in np.argsort(-shapely.area(geoms), kind="stable"):
        used = {colour[j] for j in neighbours[int(i)]}
        colour[i] = next(c for c in range(len(geoms) + 1) if c not in used)
    return colour
