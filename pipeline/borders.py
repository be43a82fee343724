"""Stage 2a, borders: the focus country's border split into one segment per neighbour.

Reads ``outputs/stages/ingest.gpkg`` (layer ``countries``).
Writes ``outputs/stages/borders.gpkg`` with layer ``border_segments`` (EPSG:4326, MultiLineString):
  * ``segment_id``: '<FOCUS>-<NEIGHBOUR>' for land borders, '<FOCUS>-<Sea name>' for a sea shore;
  * ``segment_type``: 'land' or 'maritime';
  * ``focus``, ``neighbour`` (ISO alpha-3; for a maritime segment, the riparian countries across the
    sea, comma-separated), ``neighbour_name``;
  * ``length_km``: geodesic length on the WGS84 ellipsoid; ``n_parts``: pieces of the line.

Land neighbours are the countries whose outline shares a line (not just a point) with the focus
country's. The countries are a dissolve of one admin-1 layer, so shared edges are vertex-identical and
their intersection is exact. A sea is the hole of the land (union of all countries) containing the
configured point; its shore on the focus side is a maritime segment, its riparians are every other
country whose outline runs along it.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from .config import Sea
from .errors import DataError
from .geodesy import length_km
from .topology import lineal

log = logging.getLogger("pipeline")

SEGMENT_FIELDS = ["segment_id", "segment_type", "focus", "neighbour", "neighbour_name",
                  "length_km", "n_parts"]


def sea_polygon(countries: gpd.GeoDataFrame, sea: Sea) -> BaseGeometry:
    """The water of ``sea``: the hole of the land union that contains its point, minus islands."""
    land = shapely.union_all(countries.geometry.values)
    point = shapely.Point(sea.point)
    if land.contains(point):
        raise DataError(f"sea '{sea.name}': its point {sea.point} lies on land "
                        "(layers/study.yaml: study.seas); give a point in the water")
    for part in shapely.get_parts(land):
        for ring in part.interiors:
            hole = shapely.Polygon(ring)
            if hole.contains(point):
                return shapely.difference(hole, land)
    raise DataError(f"sea '{sea.name}': no enclosed water body around {sea.point} in the land "
                    "layer; is the point in the sea and the sea inside the study bbox?")


def border_segments(countries: gpd.GeoDataFrame, focus: str, seas: tuple[Sea, ...],
                    ellps: str = "WGS84") -> gpd.GeoDataFrame:
    """One segment per land neighbour and per sea shore of ``focus`` (see module docstring)."""
    by_code = countries.set_index("country")
    focus_geom = by_code.loc[focus, "geometry"]
    focus_line = focus_geom.boundary
    rows: list[dict] = []
    candidates = countries.iloc[countries.sindex.query(focus_geom, predicate="intersects")]
    for code, geom, name in zip(candidates["country"], candidates.geometry, candidates["name"]):
        if code == focus:
            continue
        shared = lineal(shapely.intersection(focus_line, geom.boundary))
        if shared.is_empty:
            continue
        rows.append({"segment_id": f"{focus}-{code}", "segment_type": "land", "focus": focus,
                     "neighbour": code, "neighbour_name": name, "geometry": shared})
    for sea in seas:
        water = sea_polygon(countries, sea)
        shore = water.boundary
        coast = lineal(shapely.intersection(focus_line, shore))
        if coast.is_empty:
            log.info("sea '%s' does not touch %s; no maritime segment", sea.name, focus)
            continue
        riparian = [c for c, g in zip(countries["country"], countries.geometry)
                    if c != focus and not lineal(shapely.intersection(g.boundary, shore)).is_empty]
        rows.append({"segment_id": f"{focus}-{sea.name}", "segment_type": "maritime", "focus": focus,
                     "neighbour": ",".join(sorted(riparian)), "neighbour_name": sea.name,
                     "geometry": coast})
    if not rows:
        raise DataError(f"{focus} shares no border with any country in the data")
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=countries.crs)
    out["length_km"] = length_km(out.geometry.values, ellps)
    out["n_parts"] = shapely.get_num_geometries(out.geometry.values)
    out = out.sort_values(["segment_type", "length_km"], ascending=[True, False]).reset_index(drop=True)
    total = length_km([focus_line], ellps)[0]
    covered = float(out["length_km"].sum())
    log.info("%s: %d land neighbours (%s), %d sea shore(s); %.0f of %.0f km of outline classified",
             focus, int((out.segment_type == "land").sum()),
             ", ".join(out.loc[out.segment_type == "land", "neighbour"]),
             int((out.segment_type == "maritime").sum()), covered, total)
    return out[SEGMENT_FIELDS + ["geometry"]]


def land_neighbours(segments: gpd.GeoDataFrame) -> list[str]:
    return list(segments.loc[segments.segment_type == "land", "neighbour"])


def segment_countries(segment: pd.Series) -> list[str]:
    """Countries on the far side of a segment: the neighbour, or the riparians of a sea."""
    return [c for c in str(segment["neighbour"]).split(",") if c]





DESCRIPTIONS = {"border_segments": "Focus country's border, one segment per land neighbour and per sea "
                                   "shore; length_km geodesic."}


def run(cfg, ingest, out) -> None:
    """Read the countries of ``ingest`` and write the border segments to ``out``.

    Parameters
    ----------
    cfg : Config
        Focus country, seas, ellipsoid.
    ingest : Path
        ``stages/ingest.gpkg`` (layer ``countries``).
    out : Path
        ``stages/borders.gpkg``: layer ``border_segments``.
    """
    from .io import read_layer
    from .outputs import write_stage

    segs = border_segments(read_layer(ingest, "countries"), cfg.focus_country, cfg.seas, cfg.ellipsoid)
    write_stage(cfg, out, {"border_segments": segs}, DESCRIPTIONS)
