"""The border-zones slice on the data pack: seed facts of the issue, geodesic accuracy, validity."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from pipeline.border_regions import bordering
from pipeline.geodesy import distance_to_line_km, length_km

# Seed paper: the 7 Kazakh regions bordering Russia (pre-2022) and the 12 Russian regions
# bordering Kazakhstan, as ISO 3166-2 codes.
KZ_ON_RUSSIA = {"KZ-AKT", "KZ-ATY", "KZ-ZAP", "KZ-KUS", "KZ-PAV", "KZ-SEV", "KZ-VOS"}
RU_ON_KAZAKHSTAN = {"RU-AL", "RU-ALT", "RU-NVS", "RU-OMS", "RU-TYU", "RU-KGN", "RU-CHE", "RU-ORE",
                    "RU-SAM", "RU-SAR", "RU-VGG", "RU-AST"}


def test_seven_kazakh_regions_border_russia(real) -> None:
    assert set(bordering(real["border_regions"], "KAZ-RUS", "KAZ", "naturalearth")) == KZ_ON_RUSSIA


def test_twelve_russian_regions_border_kazakhstan(real) -> None:
    assert set(bordering(real["border_regions"], "KAZ-RUS", "RUS", "naturalearth")) == RU_ON_KAZAKHSTAN


def test_abay_joins_in_the_2024_vintage(real) -> None:
    assert set(bordering(real["border_regions"], "KAZ-RUS", "KAZ", "geokz_2024")) == (
        KZ_ON_RUSSIA | {"KZ-ABY"})


def test_altai_krai_is_keyed_and_named_right(real) -> None:
    r = real["regions"].set_index("iso_3166_2")
    assert r.loc["RU-ALT", "name_en"] == "Altai Krai"
    assert r.loc["RU-AL", "name_en"] == "Altai Republic"
    assert real["regions"]["region_id"].is_unique


def test_baikonur_is_part_of_kazakhstan(real) -> None:
    countries = real["countries"].set_index("country")
    assert "KAB" not in countries.index
    assert countries.loc["KAZ", "units"] == "KAB,KAZ"
    baikonur = real["regions"][real["regions"].adm0_a3 == "KAB"]
    assert len(baikonur) == 1 and baikonur.iloc[0].country == "KAZ"
    assert countries.loc["KAZ", "geometry"].contains(baikonur.geometry.iloc[0].representative_point())
    # admin-0 is the dissolve of admin-1: Baikonur's outline leaves no trace inside the country.
    assert countries.loc["KAZ", "geometry"].boundary.intersection(
        baikonur.geometry.iloc[0].buffer(-0.01)).is_empty


def test_countries_and_regions_share_edges_exactly(real) -> None:
    kz = real["countries"].set_index("country").loc["KAZ", "geometry"]
    regions = real["regions"][real["regions"].country == "KAZ"]
    outline = shapely.union_all(regions.geometry.values).boundary
    assert kz.boundary.symmetric_difference(outline).length < 1e-9


def test_neighbours_are_derived_from_geometry(real) -> None:
    segs = real["segments"].set_index("segment_id")
    assert set(segs[segs.segment_type == "land"].neighbour) == {"RUS", "UZB", "CHN", "KGZ", "TKM"}
    caspian = segs.loc["KAZ-Caspian Sea"]
    assert caspian.segment_type == "maritime"
    assert caspian.neighbour.split(",") == ["AZE", "IRN", "RUS", "TKM"]


def test_segments_cover_the_whole_outline(real) -> None:
    kz = real["countries"].set_index("country").loc["KAZ", "geometry"]
    assert real["segments"].length_km.sum() == pytest.approx(length_km([kz.boundary])[0], rel=1e-9)


# Computed on Natural Earth 1:10m (generalised, hence shorter than the official figures:
# Russia 7,644, Uzbekistan 2,330, China 1,765, Kyrgyzstan 1,212, Turkmenistan 413 km).
@pytest.mark.parametrize("neighbour,km,official", [
    ("RUS", 6658, 7644), ("UZB", 2183, 2330), ("CHN", 1503, 1765), ("KGZ", 1017, 1212),
    ("TKM", 373, 413)])
def test_border_lengths_are_geodesic_and_below_official(real, neighbour, km, official) -> None:
    seg = real["segments"].set_index("neighbour").loc[neighbour]
    assert seg.length_km == pytest.approx(km, abs=1.0)
    assert 0.8 * official < seg.length_km < official


@pytest.mark.parametrize("segment_id", ["KAZ-RUS", "KAZ-UZB", "KAZ-CHN", "KAZ-KGZ", "KAZ-TKM",
                                        "KAZ-Caspian Sea"])
def test_zone_outer_boundary_is_at_the_geodesic_distance(real, segment_id) -> None:
    """Every point of a belt's outline is either on its country's outline (the clip) or at d ± 0.5 %
    (geodesic) from the border; no point of the belt is farther than d (+0.5 %)."""
    seg = real["segments"].set_index("segment_id").loc[segment_id, "geometry"]
    countries = real["countries"].set_index("country").geometry
    z = real["zones"]
    for row in z[z.segment_id == segment_id].itertuples():
        d = row.distance_km
        pts = shapely.get_coordinates(shapely.segmentize(row.geometry.boundary, 0.05))
        pts = pts[:: max(1, len(pts) // 3000)]
        dist = distance_to_line_km(pts, seg)
        assert dist.max() <= d * 1.005, (row.zone_id, dist.max())
        on_clip = shapely.dwithin(countries[row.country].boundary, shapely.points(pts), 0.01)
        outer = ~on_clip & (dist > 1.0)
        assert outer.sum() >= 10, row.zone_id
        err = np.abs(dist[outer] / d - 1)
        assert err.max() < 0.005, (row.zone_id, err.max())


def test_zone_areas_of_the_russian_border(real) -> None:
    z = real["zones"].set_index("zone_id")
    # 100 km either side of 6,658 km of border: close to L·d, less where the belt is clipped
    # (Caspian, triple points) or overlaps itself on bends.
    for zid in ("KAZ-RUS/100km/KAZ", "KAZ-RUS/100km/RUS"):
        assert 0.6 * 6658 * 100 < z.loc[zid, "area_km2"] < 6658 * 100
    assert z.loc["KAZ-RUS/150km/KAZ", "area_km2"] > z.loc["KAZ-RUS/100km/KAZ", "area_km2"]


def test_region_shares_are_consistent(real) -> None:
    br = real["border_regions"]
    for d in (100, 150):
        assert br[f"zone{d}_share"].between(0, 1 + 1e-9).all()
        assert np.allclose(br[f"zone{d}_km2"] / br["area_km2"], br[f"zone{d}_share"])
    assert (br["zone150_km2"] >= br["zone100_km2"] - 1e-6).all()
    # A region's areas inside the belts of one segment add up to the belt's area (regions tile it).
    z = real["zones"].set_index("zone_id")
    ne = br[(br.vintage == "naturalearth") & (br.segment_id == "KAZ-CHN") & (br.country == "KAZ")]
    assert ne["zone100_km2"].sum() == pytest.approx(z.loc["KAZ-CHN/100km/KAZ", "area_km2"], rel=1e-6)


def test_every_layer_is_valid_with_explicit_crs(real) -> None:
    for name in ("regions", "countries", "geokz", "segments", "zones", "border_regions"):
        gdf = real[name]
        assert gdf.crs is not None and gdf.crs.to_epsg() == 4326, name
        assert gdf.is_valid.all(), name
        assert not gdf.geometry.is_empty.any(), name
