"""Configuration of the accessibility stage and of the growth poles.

Models of ``layers/accessibility.yaml`` (grid, scenarios, isochrone bands) and ``layers/poles.yaml``
(growth poles by GeoNames id and tier).
"""

from __future__ import annotations

from pydantic import field_validator

from .base import F, Scenario, Strict, section_loader


class AccessibilitySection(Strict):
    """Travel time from every cell to the nearest growth pole."""

    resolution_m: float = F(..., "cell size of the travel-time rasters in the equal-area CRS", unit="m",
                            ge=50, le=50000)
    extent_buffer_km: float = F(..., "the grid covers the focus country plus this margin", unit="km",
                                ge=0, le=3000)
    mode: str = F(..., "network mode travelled (a mode of layers/network.yaml)")
    access_spacing_m: float = F(..., "the network is entered and left at points this far apart", unit="m",
                                ge=10, le=50000)
    k_nearest: int = F(..., "access points tried per cell and per pole", ge=1, le=64)
    scenarios: list[Scenario] = F(..., "border scenarios computed; must include open (the barrier "
                                  "effect is measured against it)", min_length=1)
    isochrones_h: list[float] = F(..., "band limits of the isochrone polygons", unit="h", min_length=1)

    @field_validator("scenarios")
    @classmethod
    def _scenarios(cls, v: list[str]) -> list[str]:
        if "open" not in v:
            raise ValueError("must include 'open' (the barrier effect is against it)")
        return list(dict.fromkeys(v))

    @field_validator("isochrones_h")
    @classmethod
    def _bands(cls, v: list[float]) -> list[float]:
        if any(h <= 0 for h in v):
            raise ValueError(f"{v}: band limits must be positive hours")
        return sorted(float(h) for h in v)


class AccessibilityFile(Strict):
    """layers/accessibility.yaml: travel time from every cell to the nearest growth pole."""

    accessibility: AccessibilitySection


load_accessibility = section_loader("accessibility.yaml", AccessibilityFile, "accessibility")


class PoleSpec(Strict):
    geonameid: int = F(..., "GeoNames id (coordinates and population come from GeoNames)", gt=0)
    name: str | None = F(None, "name used in outputs (default: GeoNames')")


class CompleteSpec(Strict):
    """Poles completing the study window abroad, so that no cell near its edge is left to a far pole."""

    tier: str = F("cross_border", "tier of the added poles")
    min_population: int = F(300_000, "GeoNames cities of at least this population inside the study grid and "
                            "outside the focus country join", unit="persons", ge=15_000)
    min_separation_km: float = F(50.0, "a city this close to a listed or larger pole is left out (districts of "
                                 "one city)", unit="km", ge=0, le=1000)


class PolesFile(Strict):
    """layers/poles.yaml: growth poles by tier."""

    poles: dict[str, list[PoleSpec]] = F(..., "poles by tier (national, regional, cross_border, …)",
                                         min_length=1)
    complete: CompleteSpec | None = F(None, "complete the poles abroad from GeoNames (None: only those listed)")

    @field_validator("poles")
    @classmethod
    def _unique(cls, v: dict[str, list[PoleSpec]]) -> dict[str, list[PoleSpec]]:
        ids = [p.geonameid for ps in v.values() for p in ps]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"poles listed twice (GeoNames ids): {', '.join(map(str, dup))}")
        if not ids:
            raise ValueError("no poles")
        return v
