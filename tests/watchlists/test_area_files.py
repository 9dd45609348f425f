"""A list's area from an uploaded KML or KMZ: read like the GeoJSON, shapefile and GeoPackage uploads,
validated and repaired the same way; a malformed one is a typed 400 that names the file and the format."""

from __future__ import annotations

import io
import zipfile

import pytest
import shapely
from django.core.files.uploadedfile import SimpleUploadedFile

from ranges.geometry_files import GeometryFileError, geometry_from_upload, upload_formats
from tests.world import api_for

pytestmark = pytest.mark.django_db

# Inside country AAA of tests.world (0..10 x 0..10): a square around (2, 2) in one folder, with the
# altitudes Google Earth writes, and in a second folder a bow tie (self-intersecting) and a pin.
KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2">
  <Document>
    <name>Survey areas</name>
    <Folder>
      <name>North</name>
      <Placemark>
        <name>Pond</name>
        <Polygon>
          <outerBoundaryIs><LinearRing>
            <coordinates>1,1,0 3,1,0 3,3,0 1,3,0 1,1,0</coordinates>
          </LinearRing></outerBoundaryIs>
        </Polygon>
      </Placemark>
    </Folder>
    {second}
  </Document>
</kml>
"""
SECOND_FOLDER = """<Folder>
      <name>South</name>
      <Placemark>
        <name>Marsh</name>
        <Polygon><outerBoundaryIs><LinearRing>
          <coordinates>5,5 7,7 7,5 5,7 5,5</coordinates>
        </LinearRing></outerBoundaryIs></Polygon>
      </Placemark>
      <Placemark><name>Car park</name><Point><coordinates>4,4</coordinates></Point></Placemark>
    </Folder>"""
BOW_TIE_KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><Polygon><outerBoundaryIs><LinearRing>
  <coordinates>1,1 3,3 3,1 1,3 1,1</coordinates>
</LinearRing></outerBoundaryIs></Polygon></Placemark></kml>
"""
# Cut off mid-element: not XML.
MALFORMED_KML = b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><Polygon><outer'


def kml_upload(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="application/vnd.google-earth.kml+xml")


def create(api, upload):
    return api.post(
        "/api/v1/watchlists/", {"name": "from KML", "rule": "invasive_here", "area_file": upload}, format="multipart"
    )


def test_a_kml_polygon_becomes_the_lists_area(geo, taxa, users):
    answer = create(api_for(users["alice"]), kml_upload("pond.kml", KML.format(second="")))
    assert answer.status_code == 201, answer.content
    area = shapely.geometry.shape(answer.json()["area"])
    assert area.geom_type == "Polygon" and not area.has_z  # the altitudes are dropped
    assert area.equals(shapely.box(1, 1, 3, 3))
    assert answer.json()["area_note"] == ""


def test_a_self_intersecting_kml_polygon_is_repaired_and_says_so(geo, taxa, users):
    answer = create(api_for(users["alice"]), kml_upload("bow.kml", BOW_TIE_KML))
    assert answer.status_code == 201, answer.content
    assert "repaired" in answer.json()["area_note"]
    area = shapely.geometry.shape(answer.json()["area"])
    assert area.geom_type == "MultiPolygon" and area.area == pytest.approx(2.0)  # two triangles


def test_every_folder_of_a_kml_counts_and_pins_are_left_out():
    geometry = geometry_from_upload(kml_upload("areas.kml", KML.format(second=SECOND_FOLDER)))
    assert geometry.geom_type == "MultiPolygon" and geometry.is_valid
    # the square (4) and the bow tie repaired into two triangles (2); the pin adds nothing
    assert shapely.get_parts(geometry).size == 3 and geometry.area == pytest.approx(6.0)
    assert geometry.contains(shapely.Point(2, 2)) and geometry.contains(shapely.Point(5.5, 6))


def test_a_kmz_is_read_when_gdal_has_libkml(geo, taxa, users):
    if ".kmz" not in upload_formats():
        pytest.skip("this GDAL has no LIBKML driver: .kmz uploads are refused (and the test below says so)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("doc.kml", KML.format(second=""))
    upload = SimpleUploadedFile("pond.kmz", buffer.getvalue(), content_type="application/vnd.google-earth.kmz")
    answer = create(api_for(users["alice"]), upload)
    assert answer.status_code == 201, answer.content
    assert shapely.geometry.shape(answer.json()["area"]).equals(shapely.box(1, 1, 3, 3))


def test_a_malformed_kml_is_a_typed_400_naming_the_file_and_the_format(geo, taxa, users):
    answer = create(api_for(users["alice"]), SimpleUploadedFile("broken.kml", MALFORMED_KML))
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_watch_list"
    (message,) = error["fields"]["area_file"]
    assert message.startswith("broken.kml: not readable as KML")
    assert "/tmp" not in message  # the server's temporary path stays on the server


def test_a_kml_without_polygons_is_refused_for_the_geometry(geo, taxa, users):
    pins = (
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><Point><coordinates>2,2</coordinates>'
        "</Point></Placemark></kml>"
    )
    answer = create(api_for(users["alice"]), kml_upload("pins.kml", pins))
    assert answer.status_code == 400
    assert "expected a polygon, got Point" in answer.json()["error"]["fields"]["geometry"][0]


def test_an_unknown_format_still_lists_the_formats_accepted(geo, taxa, users):
    answer = create(api_for(users["alice"]), SimpleUploadedFile("area.txt", b"not a map"))
    assert answer.status_code == 400
    (message,) = answer.json()["error"]["fields"]["area_file"]
    assert message.startswith("area.txt: upload GeoJSON (.geojson or .json)")
    assert "KML (.kml)" in message and "a GeoPackage (.gpkg)" in message
    with pytest.raises(GeometryFileError, match="a zipped shapefile"):
        geometry_from_upload(SimpleUploadedFile("area.shp", b"\0"))
