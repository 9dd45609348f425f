"""ranges.geojson: display geometry of real Natural Earth countries, simplified for a map."""

import json

import pytest
import shapely

from ranges.geojson import display_geometry, preview_tolerance
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def countries():
    path = shared_path("geo", "natural_earth", "ne_50m_admin_0_countries.json")
    features = json.loads(path.read_text())["features"]
    return {f["properties"]["ADM0_A3"]: shapely.make_valid(shapely.geometry.shape(f["geometry"])) for f in features}


def decimals_of(geometry: dict) -> int:
    flat = json.dumps(geometry["coordinates"]).replace("[", " ").replace("]", " ").replace(",", " ").split()
    return max(len(number.split(".")[1]) if "." in number else 0 for number in flat)


@pytest.mark.parametrize("code", ["CAN", "NOR", "IDN", "CHL"])  # islands, fjords, archipelagos, a long coast
def test_display_form_keeps_the_shape_with_far_fewer_vertices(countries, code):
    full = countries[code]
    shown = shapely.geometry.shape(display_geometry(full, 0.05))
    assert shapely.get_num_coordinates(shown) < 0.5 * shapely.get_num_coordinates(full)
    # The same place: every vertex drawn lies within the tolerance (plus the grid) of the real
    # coast or border, and the area barely changes (islands smaller than the grid may vanish).
    drawn = shapely.points(shapely.get_coordinates(shown))
    assert shapely.distance(drawn, full.boundary).max() <= 0.05 + 0.005
    assert shown.area == pytest.approx(full.area, rel=0.03)
    assert shown.is_valid


def test_coordinates_are_cut_to_the_digits_of_a_tenth_of_the_tolerance(countries):
    assert decimals_of(display_geometry(countries["NOR"], 0.05)) == 3
    assert decimals_of(display_geometry(countries["NOR"], 0.2)) == 2
    assert decimals_of(display_geometry(countries["NOR"], 0.001)) == 4


def test_exteriors_are_counter_clockwise_holes_clockwise(countries):
    # South Africa has a hole (Lesotho): RFC 7946 §3.1.6 winding on both.
    shown = display_geometry(countries["ZAF"], 0.05)
    polygons = [shown["coordinates"]] if shown["type"] == "Polygon" else shown["coordinates"]
    assert any(len(rings) > 1 for rings in polygons), "the hole of Lesotho is kept"
    for rings in polygons:
        assert shapely.LinearRing(rings[0]).is_ccw
        assert not any(shapely.LinearRing(hole).is_ccw for hole in rings[1:])


def test_a_speck_smaller_than_the_grid_vanishes():
    speck = shapely.box(10.0, 10.0, 10.00001, 10.00001)
    assert display_geometry(speck, 0.05) is None


def test_preview_tolerance_is_about_a_pixel(countries):
    minx, miny, maxx, maxy = countries["CAN"].bounds
    assert preview_tolerance(countries["CAN"], pixels=800) == pytest.approx(max(maxx - minx, maxy - miny) / 800)
    assert preview_tolerance(shapely.Point(1, 1).buffer(1e-9), pixels=800) > 0
