"""Stage 2b, zones: cross-border belts on both sides of every border segment.

Reads ``outputs/stages/ingest.gpkg`` (``countries``) and ``outputs/stages/borders.gpkg``
(``border_segments``).
Writes ``outputs/stages/zones.gpkg`` with layer ``zones`` (EPSG:4326, MultiPolygon), one feature per
segment × distance × side × owning country:
  * ``zone_id``: '<segment_id>/<distance>km/<country>';
  * ``segment_id``, ``segment_type`` ('land' | 'maritime');
  * ``side``: 'focus' (inside the focus country) or 'neighbour' (inside the country across);
  * ``country``: owner of the belt; ``across``: the country on the other side of the segment;
  * ``distance_km``: the belt holds every point of ``country`` within this geodesic distance of the
    segment (0–d km; the 150 km belt contains the 100 km belt);
  * ``area_km2``: geodesic area.

Belts are geodesic buffers (:func:`pipeline.geodesy.geodesic_buffer`, error < 0.1 %) clipped to the
owning country's land (the countries carry no sea, so the Caspian is excluded). Belts of different
neighbours overlap near triple points, where a place is within d km of two borders.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import geopandas as gpd
import shapely

from .borders import segment_countries
from .geodesy import area_km2, geodesic_buffer
from .topology import polygonal

log = logging.getLogger("pipeline")

ZONE_FIELDS = ["zone_id", "segment_id", "segment_type", "side", "country", "across",
               "distance_km", "area_km2"]


def cross_border_zones(segments: gpd.GeoDataFrame, countries: gpd.GeoDataFrame,
                       distances_km: tuple[float, ...], *, maritime: bool = True,
                       piece_km: float = 250.0, densify_km: float = 2.0, ellps: str = "WGS84",
                       progress: Callable[[str], None] | None = None) -> gpd.GeoDataFrame:
    """Belts of each distance on both sides of each segment (see module docstring)."""
    land = countries.set_index("country").geometry
    rows: list[dict] = []
    for seg in segments.itertuples(index=False):
        if seg.segment_type == "maritime" and not maritime:
            continue
        others = segment_countries(seg._asdict())
        for d in distances_km:
            if progress:
                progress(f"{seg.segment_id} {d:g} km")
            band = geodesic_buffer(seg.geometry, d, piece_km=piece_km, densify_km=densify_km,
                                   ellps=ellps)
            across_focus = seg.neighbour if seg.segment_type == "land" else seg.neighbour_name
            sides = [("focus", seg.focus, across_focus)] + [("neighbour", c, seg.focus) for c in others]
            for side, owner, across in sides:
                part = polygonal(shapely.intersection(band, land[owner]))
                if part.is_empty:
                    continue
                rows.append({"zone_id": f"{seg.segment_id}/{d:g}km/{owner}",
                             "segment_id": seg.segment_id, "segment_type": seg.segment_type,
                             "side": side, "country": owner, "across": across,
                             "distance_km": float(d), "geometry": part})
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=countries.crs)
    out["area_km2"] = area_km2(out.geometry.values, ellps)
    return out[ZONE_FIELDS + ["geometry"]]


DESCRIPTIONS = {"zones": "Cross-border belts: land within distance_km (geodesic) of each segment, per side "
                         "and owning country; area_km2 geodesic."}


def run(cfg, ingest, borders, out) -> None:
    """Read countries and border segments; write the belts of every distance to ``out``.

    Parameters
    ----------
    cfg : Config
        Distances, maritime belts, buffer piece length, densification, ellipsoid.
    ingest, borders : Path
        ``stages/ingest.gpkg`` (``countries``) and ``stages/borders.gpkg`` (``border_segments``).
    out : Path
        ``stages/zones.gpkg``: layer ``zones``.
    """
    import logging

    from .io import read_layer
    from .outputs import write_stage

    log = logging.getLogger("pipeline")
    z = cross_border_zones(read_layer(borders, "border_segments"), read_layer(ingest, "countries"),
                           cfg.distances_km, maritime=cfg.maritime_zones, piece_km=cfg.buffer_piece_km,
                           densify_km=cfg.densify_km, ellps=cfg.ellipsoid,
                           progress=lambda m: log.info("  belt %s", m))
    write_stage(cfg, out, {"zones": z}, DESCRIPTIONS)
