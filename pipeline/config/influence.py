"""Configuration of the influence stage: ``layers/influence.yaml``.

Tier sets of poles, Huff market areas, territories beyond influence, cross-border influence and
the development axes (stop sequences routed on the road graph).
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from .base import F, Scenario, Strict, section_loader


class HuffSection(Strict):
    """Huff market areas."""

    tier_set: str = F(..., "poles competing in the Huff model (a name of tier_sets)")
    scenario: Scenario = F(..., "border scenario of the travel times")
    attraction: Literal["population", "grp"] = F(
        "population", "a pole's attraction A: its GeoNames population, or its economic mass = its population × "
        "the GRP per capita (USD) of the region it lies in, in grp_year (poles whose region has no GRP or "
        "population that year, e.g. Uzbek and Turkmen cities, then leave the model); the report compares both")
    grp_year: int = F(2020, "year of the GRP per capita of the 'grp' attraction (GRP and population of "
                      "layers/stats/regional_statistics.csv)", ge=1990, le=2100)
    alpha: float = F(..., "Huff's P ∝ A^alpha·exp(−β·t)", ge=0, le=5)
    beta_per_hour: float = F(..., "distance decay exp(−β·t), t in hours", unit="1/h", ge=0, le=50)


class BeyondSection(Strict):
    """Territories beyond the influence of every pole."""

    hours: float = F(..., "land farther than this from every pole of a tier set is beyond influence",
                     unit="h", gt=0, le=240)
    scenario: Scenario = F(..., "border scenario of the travel times")


class CrossBorderSection(Strict):
    """Cross-border influence."""

    tier_set: str = F(..., "the dominant pole of a cell is its fastest pole of this tier set")


class PlaceSpec(Strict):
    geonameid: int = F(..., "GeoNames id of a stop that is neither a pole nor a checkpoint", gt=0)


class AxesSection(Strict):
    """Development axes routed on the road graph."""

    corridor_km: float = F(..., "half-width of the corridor buffers (geodesic)", unit="km", gt=0, le=500)
    scenario: Scenario = F(..., "border scenario the axes are routed in")
    modes: list[Literal["road", "rail"]] = F(["road", "rail"], "networks each leg is routed on (modes of "
                                             "layers/network.yaml); the corridors follow the first", min_length=1)
    max_access_km: float = F(25.0, "a stop farther than this from its mode's network is reported (its straight "
                             "access leg is counted in the leg either way)", unit="km", gt=0, le=1000)
    places: dict[str, PlaceSpec] = F({}, "further stops by name")
    routes: dict[str, list[list[str]]] = F(..., "axis name → legs, each a sequence of stops (pole, "
                                           "checkpoint or place names) routed in order", min_length=1)

    @field_validator("routes")
    @classmethod
    def _legs(cls, v: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
        bad = [f"{axis}: a leg needs at least 2 stops ({leg})" for axis, legs in v.items() for leg in legs
               if len(leg) < 2]
        bad += [f"{axis}: no legs" for axis, legs in v.items() if not legs]
        if bad:
            raise ValueError("; ".join(bad))
        return v


class SensitivitySection(Strict):
    """How much the headline figures move with the parameters nobody measured (each varied on its own)."""

    road_speed_factors: list[float] = F([0.8, 1.2], "factors on every network speed", min_length=0)
    off_network_kmh: list[float] = F([10.0, 30.0], "off-network speeds", unit="km/h", min_length=0)
    delay_factors: list[float] = F([0.5, 2.0], "factors on every crossing delay", min_length=0)
    thresholds_h: list[float] = F([2.0, 3.0, 4.0], "thresholds of 'beyond influence'", unit="h", min_length=0)

    @field_validator("road_speed_factors", "off_network_kmh", "delay_factors", "thresholds_h")
    @classmethod
    def _positive(cls, v: list[float]) -> list[float]:
        if any(not 0 < x <= 1000 for x in v):
            raise ValueError("values must be positive (and at most 1000)")
        return v


class InfluenceSection(Strict):
    """Influence of the growth poles."""

    scenarios: list[Scenario] = F(..., "border scenarios of the catchments", min_length=1)
    tier_sets: dict[str, list[str]] = F(..., "sets of pole tiers whose catchments are computed",
                                        min_length=1)
    huff: HuffSection
    beyond: BeyondSection
    cross_border: CrossBorderSection
    axes: AxesSection
    sensitivity: SensitivitySection = SensitivitySection()

    @model_validator(mode="after")
    def _tier_sets_named(self) -> InfluenceSection:
        bad = [f"{key}.tier_set: '{name}' is not one of tier_sets ({', '.join(self.tier_sets)})"
               for key, name in (("huff", self.huff.tier_set), ("cross_border", self.cross_border.tier_set))
               if name not in self.tier_sets]
        bad += [f"tier_sets.{k}: expected a non-empty list of pole tiers" for k, v in self.tier_sets.items()
                if not v]
        if bad:
            raise ValueError("; ".join(bad))
        return self


class InfluenceFile(Strict):
    """layers/influence.yaml: influence of the growth poles."""

    influence: InfluenceSection


load_influence = section_loader("influence.yaml", InfluenceFile, "influence")
