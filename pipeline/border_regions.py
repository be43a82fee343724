"""Stage 2c, border-regions: admin-1 regions along each border and inside each belt.

Reads ``outputs/stages/ingest.gpkg`` (``regions`` and ``regions_<vintage>``),
``outputs/stages/borders.gpkg`` (``border_segments``) and ``outputs/stages/zones.gpkg`` (``zones``).
Writes ``outputs/stages/border_regions.gpkg`` with layer ``border_regions`` (EPSG:4326, the region's
polygon), one feature per vintage × segment × region that borders the segment or lies in one of its
belts:
  * ``vintage`` ('naturalearth': every country, Kazakhstan before the 2022 reform; 'geokz_2024': the
    focus country after it), ``segment_id``, ``segment_type``, ``side`` ('focus' | 'neighbour'),
    ``country``, ``across``;
  * ``region_id`` ('<ISO 3166-2>|<unit code>'), ``iso_3166_2``, ``unit_code``, ``name_en``, ``name_ru``;
  * ``borders`` (bool) and ``shared_border_km``: geodesic length of the segment within
    ``tolerance_km`` of the region; it borders when that is at least ``min_shared_km``. Across a sea
    (maritime segments) only the focus country's shore regions border; the far shore is in belts only;
  * ``area_km2``; for each belt distance d: ``zone<d>_km2`` (region area inside the belt) and
    ``zone<d>_share`` (that area / region area, 0..1).
and the table ``tolerance_sensitivity``: the regions bordering each land segment under each tolerance of
``tolerance_sensitivity_km`` (``tolerance_km``, ``vintage``, ``segment_id``, ``region_id``, ``name_en``,
``country``, ``shared_border_km``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from .borders import segment_countries
from .geodesy import area_km2, length_km

log = logging.getLogger("pipeline")


def zone_columns(distances_km: tuple[float, ...]) -> list[str]:
    return [c for d in distances_km for c in (f"zone{d:g}_km2", f"zone{d:g}_share")]


def shared_border_km(segment_ea: shapely.Geometry, regions_ea: np.ndarray, tolerance_km: float,
                     equal_area_crs: CRS, lonlat_crs: CRS, ellps: str) -> np.ndarray:
    """Geodesic km of the segment within ``tolerance_km`` of each region.

    The tolerance buffer is taken in the equal-area CRS (metres; its scale error of a few per cent
    only widens or narrows a 5 km tolerance by metres); the length is then measured geodesically.
    """
    # Only the part of a region within 2 × the tolerance of the segment's box can lie within the tolerance of
    # the segment: buffering that part, not the whole region (whose outline runs for thousands of km), gives
    # the same stretch of segment. The clip's own edges stay a tolerance away from the segment after buffering.
    tol = tolerance_km * 1000.0
    x0, y0, x1, y1 = shapely.bounds(segment_ea)
    part = shapely.clip_by_rect(regions_ea, x0 - 2 * tol, y0 - 2 * tol, x1 + 2 * tol, y1 + 2 * tol)
    near = shapely.intersection(segment_ea, shapely.buffer(part, tol))
    lonlat = gpd.GeoSeries(near, crs=equal_area_crs).to_crs(lonlat_crs)
    return length_km(lonlat.values, ellps)


def border_regions(regions: gpd.GeoDataFrame, segments: gpd.GeoDataFrame, zones: gpd.GeoDataFrame,
                   distances_km: tuple[float, ...], *, tolerance_km: float, min_shared_km: float,
                   min_zone_share: float, equal_area_crs: CRS,
                   ellps: str = "WGS84") -> gpd.GeoDataFrame:
    """Regions of one vintage that border each segment or intersect its belts."""
    lonlat = regions.crs
    regions_ea = regions.to_crs(equal_area_crs)
    segments_ea = segments.to_crs(equal_area_crs)
    rows: list[gpd.GeoDataFrame] = []
    for i, seg in enumerate(segments.itertuples(index=False)):
        far_side = segment_countries(seg._asdict())
        involved = [seg.focus, *far_side]
        cand = regions.index[regions["country"].isin(involved)]
        if cand.empty:
            continue
        seg_ea = segments_ea.geometry.iloc[i]
        reach = tolerance_km * 1000.0 + 1.0
        near = regions_ea.loc[cand].sindex.query(seg_ea, predicate="dwithin", distance=reach)
        if seg.segment_type == "maritime":  # across a sea nothing "borders": only the shore's side
            near = near[regions.loc[cand, "country"].to_numpy()[near] == seg.focus]
        shared = np.zeros(len(cand))
        if len(near):
            shared[near] = shared_border_km(seg_ea, regions_ea.loc[cand].geometry.values[near],
                                            tolerance_km, equal_area_crs, lonlat, ellps)
        part = regions.loc[cand].copy()
        part["shared_border_km"] = shared
        part["borders"] = shared >= min_shared_km
        keep = part["borders"].to_numpy().copy()
        seg_zones = zones[zones["segment_id"] == seg.segment_id]
        for d in distances_km:
            inside = np.zeros(len(part))
            for z in seg_zones[seg_zones["distance_km"] == d].itertuples(index=False):
                mine = np.flatnonzero(part["country"].to_numpy() == z.country)
                hit = mine[shapely.intersects(part.geometry.values[mine], z.geometry)]
                if len(hit):
                    inside[hit] = area_km2(shapely.intersection(part.geometry.values[hit],
                                                                z.geometry), ellps)
            share = inside / part["area_km2"].to_numpy()
            part[f"zone{d:g}_km2"] = inside
            part[f"zone{d:g}_share"] = share
            keep |= share >= max(min_zone_share, 1e-12)
        part = part.loc[keep]
        part["segment_id"] = seg.segment_id
        part["segment_type"] = seg.segment_type
        part["side"] = np.where(part["country"] == seg.focus, "focus", "neighbour")
        across = seg.neighbour if seg.segment_type == "land" else seg.neighbour_name
        part["across"] = np.where(part["country"] == seg.focus, across, seg.focus)
        rows.append(part)
    fields = ["vintage", "segment_id", "segment_type", "side", "country", "across", "region_id",
              "iso_3166_2", "unit_code", "name_en", "name_ru", "borders", "shared_border_km",
              "area_km2", *zone_columns(distances_km)]
    if not rows:
        return gpd.GeoDataFrame(columns=[*fields, "geometry"], geometry="geometry", crs=lonlat)
    out = gpd.GeoDataFrame(gpd.pd.concat(rows, ignore_index=True), geometry="geometry", crs=lonlat)
    out = out.sort_values(["segment_id", "side", "country", "iso_3166_2", "unit_code"])
    return out[[*fields, "geometry"]].reset_index(drop=True)


def bordering(border_regions_gdf: gpd.GeoDataFrame, segment_id: str, country: str,
              vintage: str) -> list[str]:
    """ISO 3166-2 codes of the regions of ``country`` bordering ``segment_id`` in ``vintage``."""
    sel = border_regions_gdf[(border_regions_gdf["segment_id"] == segment_id)
                             & (border_regions_gdf["country"] == country)
                             & (border_regions_gdf["vintage"] == vintage)
                             & border_regions_gdf["borders"]]
    return sorted(sel["iso_3166_2"])


DESCRIPTIONS = {"border_regions": "Admin-1 regions bordering each segment (borders, shared_border_km) or "
                                  "inside its belts (zone<d>_km2, zone<d>_share), per vintage.",
                "tolerance_sensitivity": "Regions bordering each land segment under each tolerance of "
                                         "border_regions.tolerance_sensitivity_km (the report's comparison)."}


def bordering_by_tolerance(regions: gpd.GeoDataFrame, segments: gpd.GeoDataFrame, tolerances_km: Sequence[float],
                           *, min_shared_km: float, equal_area_crs: CRS, ellps: str = "WGS84") -> pd.DataFrame:
    """Which regions border each land segment under each tolerance (the report's sensitivity table).

    Parameters
    ----------
    regions
        Regions of one vintage (``region_id``, ``name_en``, ``country``, ``vintage``; lon/lat).
    segments
        Border segments (``segment_id``, ``segment_type``, ``focus`` and far-side countries).
    tolerances_km
        The tolerances compared (km).
    min_shared_km
        Length of segment that must lie within the tolerance of a region (km).
    equal_area_crs
        CRS of the buffers.
    ellps
        Ellipsoid of the lengths.

    Returns
    -------
    DataFrame
        tolerance_km, vintage, segment_id, region_id, name_en, country, shared_border_km: the regions that
        border each land segment under each tolerance.
    """
    regions_ea = regions.to_crs(equal_area_crs)
    segments_ea = segments.to_crs(equal_area_crs)
    rows = []
    for i, seg in enumerate(segments.itertuples(index=False)):
        if seg.segment_type == "maritime":
            continue
        cand = regions.index[regions["country"].isin([seg.focus, *segment_countries(seg._asdict())])]
        seg_ea = segments_ea.geometry.iloc[i]
        for tol in tolerances_km:
            near = regions_ea.loc[cand].sindex.query(seg_ea, predicate="dwithin", distance=tol * 1000.0 + 1.0)
            if not len(near):
                continue
            km = shared_border_km(seg_ea, regions_ea.loc[cand].geometry.values[near], tol, equal_area_crs,
                                  regions.crs, ellps)
            hit = regions.loc[cand[near[km >= min_shared_km]]]
            rows.append(pd.DataFrame({"tolerance_km": tol, "vintage": hit["vintage"], "segment_id": seg.segment_id,
                                      "region_id": hit["region_id"], "name_en": hit["name_en"],
                                      "country": hit["country"], "shared_border_km": km[km >= min_shared_km]}))
    cols = ["tolerance_km", "vintage", "segment_id", "region_id", "name_en", "country", "shared_border_km"]
    return pd.concat(rows, ignore_index=True)[cols] if rows else pd.DataFrame(columns=cols)


def run(cfg, ingest, borders, zones, out) -> None:
    """Regions of every vintage bordering each segment or inside its belts, written to ``out``.

    Parameters
    ----------
    cfg : Config
        Vintages, distances, tolerance, minimum shared length and zone share, CRSs.
    ingest, borders, zones : Path
        The stage files with ``regions``/``regions_<vintage>``, ``border_segments`` and ``zones``.
    out : Path
        ``stages/border_regions.gpkg``: layer ``border_regions``.
    """
    from .io import read_layer
    from .outputs import write_stage

    segs, z = read_layer(borders, "border_segments"), read_layer(zones, "zones")
    frames = [border_regions(read_layer(ingest, layer), segs, z, cfg.distances_km,
                             tolerance_km=cfg.tolerance_km, min_shared_km=cfg.min_shared_km,
                             min_zone_share=cfg.min_zone_share, equal_area_crs=cfg.equal_area_crs,
                             ellps=cfg.ellipsoid)
              for layer in ["regions", *(f"regions_{v}" for v in cfg.vintages)]]
    br = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=frames[0].crs)
    sens = pd.concat([bordering_by_tolerance(read_layer(ingest, layer), segs, cfg.tolerance_sensitivity_km,
                                             min_shared_km=cfg.min_shared_km, equal_area_crs=cfg.equal_area_crs,
                                             ellps=cfg.ellipsoid)
                      for layer in ["regions", *(f"regions_{v}" for v in cfg.vintages)]], ignore_index=True)
    write_stage(cfg, out, {"border_regions": br, "tolerance_sensitivity": sens}, DESCRIPTIONS)
