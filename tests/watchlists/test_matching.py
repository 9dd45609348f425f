"""Matching: areas as polygons (validated, repaired) or regions, taxa with descendants, sources,
verification, geoprivacy, the list index, the feed, re-verdicts."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client

from cameratraps.models import Deployment, Media, Project
from observations.models import Observation
from ranges.models import RegionalStatus
from ranges.services import data_version_bump
from tests.world import api_for, classified
from watchlists.matching import MatchRecord, build_list_index
from watchlists.models import Match, Occurrence, OccurrenceVerdict
from watchlists.services import WatchListRejected, watch_list_create

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit announcements fire as in production

# Inside country AAA (tests.world.geo: 0..10 x 0..10), around (2, 2).
SQUARE = {"type": "Polygon", "coordinates": [[[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]]]}
# A bow tie: invalid (self-intersecting), repaired into two triangles.
BOW_TIE = {"type": "Polygon", "coordinates": [[[1, 1], [3, 3], [3, 1], [1, 3], [1, 1]]]}


def occurrences_file(tmp_path, rows) -> str:
    path = tmp_path / "simple.csv"
    lines = ["gbifID\tdatasetKey\toccurrenceID\tspecies\tdecimalLatitude\tdecimalLongitude\teventDate\tlicense\n"]
    for i, (name, lat, lon) in enumerate(rows, start=1):
        lines.append(f"{i}\tds\tocc-{i}\t{name}\t{lat}\t{lon}\t2024-01-0{i}\tCC0_1_0\n")
    path.write_text("".join(lines))
    return str(path)


def test_a_drawn_polygon_with_taxa_takes_the_descendants_inside_it(geo, taxa, users, tmp_path):
    watch_list = watch_list_create(owner=users["alice"], name="square", geometry=SQUARE, taxa=["Testus"])
    assert watch_list.area_display["type"] == "Polygon"
    call_command(
        "import_occurrences",
        occurrences_file(
            tmp_path,
            [("Testus nativus", 2, 2), ("Testus invasor", 2.5, 1.5), ("Otherus alius", 2, 2), ("Testus nativus", 6, 6)],
        ),
        stdout=io.StringIO(),
    )
    matched = set(Match.objects.filter(watch_list=watch_list).values_list("occurrence__occurrence_id", flat=True))
    assert matched == {"occ-1", "occ-2"}  # the genus's species inside; not another genus, not outside


def test_an_invalid_polygon_is_repaired_and_a_bad_one_refused(geo, taxa, users):
    repaired = watch_list_create(owner=users["alice"], name="bow tie", geometry=BOW_TIE, rule="invasive_here")
    assert "repaired" in repaired.area_note
    with pytest.raises(WatchListRejected, match="lat/lon instead of lon/lat"):
        watch_list_create(
            owner=users["alice"],
            name="swapped",
            geometry={"type": "Polygon", "coordinates": [[[50, 100], [51, 100], [51, 101], [50, 100]]]},
            rule="invasive_here",
        )
    with pytest.raises(WatchListRejected, match="taxa and/or a rule"):
        watch_list_create(owner=users["alice"], name="everything", regions=["AAA"])
    answer = api_for(users["alice"]).post(
        "/api/v1/watchlists/", {"name": "x", "regions": ["NOPE"], "rule": "invasive_here"}, format="json"
    )
    assert answer.status_code == 400 and "NOPE" in json.dumps(answer.json())


def test_an_existing_record_joins_a_new_list_and_a_new_verdict_moves_it(geo, taxa, users, tmp_path):
    call_command("import_occurrences", occurrences_file(tmp_path, [("Testus nativus", 2, 2)]), stdout=io.StringIO())
    watch_list = watch_list_create(owner=users["alice"], name="aliens", regions=["AAA"], rule="invasive_here")
    assert not Match.objects.filter(watch_list=watch_list).exists()
    # A register now says Testus nativus is invasive in AAA: the record is judged again and joins.
    RegionalStatus.objects.filter(taxon=taxa["nativus"]).update(status="invasive")
    data_version_bump()
    out = io.StringIO()
    call_command("reverdict_occurrences", "--taxon", "Testus nativus", stdout=out)
    assert json.loads(out.getvalue())["changed"] == 1
    judged = Occurrence.objects.select_related("verdict").get()
    assert judged.verdict_status == judged.verdict.status == "invasive"
    assert judged.verdict.region_codes == ["AAA"]
    assert OccurrenceVerdict.objects.filter(status="native").exists()  # the old one stays, shared or not
    assert Match.objects.filter(watch_list=watch_list).count() == 1


def test_an_obscured_upload_matches_by_its_true_point_and_shows_the_owner_only_the_public_one(
    geo, taxa, users, model_version
):
    # The true point (1.52, 1.53) is inside the square; its 0.1° cell centre is (1.55, 1.55).
    watch_list = watch_list_create(owner=users["alice"], name="square", geometry=SQUARE, taxa=["Testus invasor"])
    upload = classified(users["bob"], 1.53, 1.52, [("Testus invasor", 0.97)], model_version, geoprivacy="obscured")
    from watchlists.matching import observation_matches_sync

    observation_matches_sync(observation_id=upload.pk)
    alice_sees = api_for(users["alice"]).get(f"/api/v1/watchlists/{watch_list.pk}/matches/").json()["results"]
    assert len(alice_sees) == 1
    assert (alice_sees[0]["latitude"], alice_sees[0]["longitude"]) == (1.55, 1.55)
    assert "0.1° grid cell" in alice_sees[0]["location_note"]
    # A small box around the true point (not around the public one) finds nothing: no side channel.
    boxed = f"/api/v1/watchlists/{watch_list.pk}/matches/?bbox=1.51,1.52,1.53,1.54"
    assert api_for(users["alice"]).get(boxed).json()["results"] == []
    for zoom in (12, 3):
        cells = api_for(users["alice"]).get(
            f"/api/v1/watchlists/{watch_list.pk}/matches/map/?zoom={zoom}&bbox=1.51,1.52,1.53,1.54"
        )
        assert cells.json()["features"] == []
    # The observer's own list shows the exact point.
    own = watch_list_create(owner=users["bob"], name="mine", geometry=SQUARE, taxa=["Testus invasor"])
    observation_matches_sync(observation_id=upload.pk)
    bob_sees = api_for(users["bob"]).get(f"/api/v1/watchlists/{own.pk}/matches/").json()["results"]
    assert (bob_sees[0]["latitude"], bob_sees[0]["longitude"]) == (1.53, 1.52)


def test_camera_trap_frames_match_only_lists_whose_owner_sees_the_project(geo, taxa, users, model_version):
    project = Project.objects.create(name="forest", owner=users["bob"])
    deployment = Deployment.objects.create(project=project, deployment_id="d1", latitude=2, longitude=2)
    frame = classified(users["bob"], 2, 2, [("Testus invasor", 0.97)], model_version)
    Media.objects.create(
        project=project,
        deployment=deployment,
        observation=frame,
        media_id="m1",
        file_name="f.jpg",
        timestamp=frame.created,
    )
    outsider = watch_list_create(owner=users["alice"], name="a", geometry=SQUARE, taxa=["Testus invasor"])
    member = watch_list_create(owner=users["bob"], name="b", geometry=SQUARE, taxa=["Testus invasor"])
    from watchlists.matching import observation_matches_sync

    observation_matches_sync(observation_id=frame.pk)
    assert list(Match.objects.filter(observation=frame).values_list("watch_list_id", flat=True)) == [member.pk]
    assert Match.objects.get(observation=frame).source == "camera_traps"
    assert not Match.objects.filter(watch_list=outsider).exists()


def test_a_reviewer_only_list_waits_for_the_confirmation(geo, taxa, users, model_version, eager_celery):
    from community.services import observation_review

    watch_list = watch_list_create(
        owner=users["alice"],
        name="confirmed",
        regions=["AAA"],
        taxa=["Testus invasor"],
        minimum_verification="reviewer",
    )
    upload = classified(users["bob"], 2, 2, [("Testus invasor", 0.97)], model_version)
    assert not Match.objects.filter(watch_list=watch_list).exists()
    observation_review(observation=upload, reviewer=users["rita"], decision="confirm", taxon=taxa["invasor"])
    assert Match.objects.filter(watch_list=watch_list, observation=upload).exists()
    Observation.objects.filter(pk=upload.pk).delete()
    assert not Match.objects.filter(watch_list=watch_list).exists()


def test_the_index_hands_a_record_only_the_lists_whose_area_holds_it(geo, taxa, users):
    here = watch_list_create(owner=users["alice"], name="here", geometry=SQUARE, rule="invasive_here")
    for i in range(200):  # lists elsewhere: never candidates for a point in the square
        lon = -170 + (i % 100) * 1.5
        far = {"type": "Polygon", "coordinates": [[[lon, -80], [lon + 1, -80], [lon + 1, -79], [lon, -79], [lon, -80]]]}
        watch_list_create(
            owner=users["alice"], name=f"far {i}", geometry=far, rule="invasive_here", match_existing=False
        )
    by_region = watch_list_create(owner=users["alice"], name="county", regions=["AAA-N1"], rule="invasive_here")
    index = build_list_index()
    record = MatchRecord(
        "occurrence", 1, "occurrences", taxa["invasor"].pk, 2.0, 2.0, ("AAA",), "invasive", "community"
    )
    assert index.candidates_many([record]) == [{here.pk}]
    in_county = MatchRecord(
        "occurrence",
        2,
        "occurrences",
        taxa["invasor"].pk,
        2.0,
        7.0,
        ("AAA-N1", "AAA-N", "AAA"),
        "invasive",
        "community",
    )
    assert index.candidates_many([in_county]) == [{by_region.pk}]


def test_the_atom_feed_needs_its_secret_and_the_map_clusters(geo, taxa, users, tmp_path):
    watch_list = watch_list_create(owner=users["alice"], name="square", geometry=SQUARE, taxa=["Testus nativus"])
    call_command(
        "import_occurrences",
        occurrences_file(tmp_path, [("Testus nativus", 2, 2), ("Testus nativus", 2.01, 2.01)]),
        stdout=io.StringIO(),
    )
    anonymous = Client()
    feed = anonymous.get(f"/watchlists/feed/{watch_list.feed_token}.atom")
    assert feed.status_code == 200 and feed["Content-Type"].startswith("application/atom+xml")
    assert feed.content.count(b"<entry>") == 2 and b"Testus nativus" in feed.content
    assert anonymous.get("/watchlists/feed/not-the-secret.atom").status_code == 404
    api = api_for(users["alice"])
    cells = api.get(f"/api/v1/watchlists/{watch_list.pk}/matches/map/?zoom=3").json()["features"]
    assert [c["properties"]["count"] for c in cells] == [2]
    points = api.get(f"/api/v1/watchlists/{watch_list.pk}/matches/map/?zoom=12").json()["features"]
    assert len(points) == 2 and points[0]["properties"]["license"] == "CC0_1_0"
    assert api_for(users["bob"]).get(f"/api/v1/watchlists/{watch_list.pk}/matches/").status_code == 404


@pytest.mark.postgres
def test_vector_tiles_come_from_postgis(geo, taxa, users, tmp_path):
    from django.db import connection

    from watchlists.tiles import tiles_supported

    if connection.vendor != "postgresql" or not tiles_supported():
        pytest.skip("vector tiles need PostgreSQL with PostGIS: TEST_DATABASE_URL=postgres://... (.ci/run sets it)")
    watch_list = watch_list_create(owner=users["alice"], name="square", geometry=SQUARE, taxa=["Testus nativus"])
    call_command(
        "import_occurrences",
        occurrences_file(tmp_path, [("Testus nativus", 2, 2), ("Testus nativus", 2.5, 2.5)]),
        stdout=io.StringIO(),
    )
    api = api_for(users["alice"])
    for z, x, y in ((2, 2, 1), (12, 2070, 2025)):  # a cell tile and a point tile over (2, 2)
        answer = api.get(f"/api/v1/watchlists/{watch_list.pk}/tiles/{z}/{x}/{y}.mvt")
        assert answer.status_code == 200 and answer["Content-Type"] == "application/vnd.mapbox-vector-tile"
        assert b"matches" in answer.content  # the layer's name in the protobuf
    assert b"count" in api.get(f"/api/v1/watchlists/{watch_list.pk}/tiles/2/2/1.mvt").content
    assert api.get(f"/api/v1/watchlists/{watch_list.pk}/tiles/3/99/0.mvt").status_code == 404


@pytest.mark.postgres
def test_the_map_cells_follow_the_matches_in_and_out(geo, taxa, users, tmp_path):
    from django.db import connection

    from watchlists.tiles import tiles_supported

    if connection.vendor != "postgresql" or not tiles_supported():
        pytest.skip("stored map cells need PostgreSQL with PostGIS: TEST_DATABASE_URL=postgres://... (.ci/run sets it)")
    watch_list = watch_list_create(owner=users["alice"], name="square", geometry=SQUARE, taxa=["Testus"])
    points = [("Testus nativus", 2, 2), ("Testus nativus", 2.5, 2.5), ("Testus invasor", 1.01, 2.99)]
    call_command("import_occurrences", occurrences_file(tmp_path, points), stdout=io.StringIO())

    def cells() -> dict[int, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT z, sum(n) FROM watchlists_matchcell WHERE watch_list_id = %s GROUP BY z", [watch_list.pk]
            )
            return dict(cursor.fetchall())

    assert cells() == {4: 3, 8: 3}  # each stored zoom counts each record once
    with connection.cursor() as cursor:  # zoom 8: the cell of each point, as the tiles' grid places it
        cursor.execute(
            "SELECT cx, cy, n FROM watchlists_matchcell WHERE watch_list_id = %s AND z = 8 ORDER BY cx, cy",
            [watch_list.pk],
        )
        cell = 360 / 2**8 / 64
        expected = sorted((int(lon // cell), int(lat // cell), 1) for _, lat, lon in points)
        assert cursor.fetchall() == expected
    Match.objects.filter(watch_list=watch_list, occurrence__occurrence_id="occ-3").delete()  # a correction
    assert cells() == {4: 2, 8: 2}
    Match.objects.filter(watch_list=watch_list).update(status="managed")  # triage moves no count
    assert cells() == {4: 2, 8: 2}
    Match.objects.filter(watch_list=watch_list, occurrence__occurrence_id="occ-2").update(latitude=-40.0)
    assert cells() == {4: 2, 8: 2}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM watchlists_matchcell WHERE watch_list_id = %s AND z = 8 AND n > 0 AND cy < 0",
            [watch_list.pk],
        )
        assert cursor.fetchone()[0] == 1  # the moved record's count moved with it
    watch_list.delete()
    assert cells() == {}


@pytest.mark.postgres
def test_a_corrected_point_moves_its_match_and_keeps_its_triage(geo, taxa, users, tmp_path):
    """Input: occ-1 imported at (2, 2), triaged `handling`, then imported again at (2.5, 2.75) with
    another day: the match follows the record (point, day), its status stays, its map cell moves."""
    from django.db import connection

    from watchlists.tiles import tiles_supported

    watch_list = watch_list_create(owner=users["alice"], name="square", geometry=SQUARE, taxa=["Testus"])
    call_command("import_occurrences", occurrences_file(tmp_path, [("Testus invasor", 2, 2)]), stdout=io.StringIO())
    Match.objects.filter(watch_list=watch_list).update(status="handling")
    moved = tmp_path / "moved.csv"
    moved.write_text(
        "gbifID\tdatasetKey\toccurrenceID\tspecies\tdecimalLatitude\tdecimalLongitude\teventDate\tlicense\n"
        "1\tds\tocc-1\tTestus invasor\t2.5\t2.75\t2024-02-03\tCC0_1_0\n"
    )
    call_command("import_occurrences", str(moved), stdout=io.StringIO())
    match = Match.objects.get(watch_list=watch_list)
    assert (match.latitude, match.longitude, str(match.observed_on), match.status) == (
        2.5,
        2.75,
        "2024-02-03",
        "handling",
    )
    if connection.vendor == "postgresql" and tiles_supported():
        cell = 360 / 2**8 / 64
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT cx, cy, n FROM watchlists_matchcell WHERE watch_list_id = %s AND z = 8 AND n > 0",
                [watch_list.pk],
            )  # an emptied cell may stay at 0 until a record fills it again; tiles read n > 0
            assert cursor.fetchall() == [(int(2.75 // cell), int(2.5 // cell), 1)]


def test_an_area_can_be_an_uploaded_file(geo, taxa, users):
    from django.core.files.uploadedfile import SimpleUploadedFile

    api = api_for(users["alice"])
    upload = SimpleUploadedFile("area.geojson", json.dumps(SQUARE).encode(), content_type="application/geo+json")
    answer = api.post(
        "/api/v1/watchlists/", {"name": "from a file", "rule": "invasive_here", "area_file": upload}, format="multipart"
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["area"]["type"] == "Polygon"
    bad = SimpleUploadedFile("area.txt", b"not a map")
    answer = api.post(
        "/api/v1/watchlists/", {"name": "x", "rule": "invasive_here", "area_file": bad}, format="multipart"
    )
    assert answer.status_code == 400 and "area_file" in answer.json()["error"]["fields"]


def test_a_list_created_through_the_api_takes_the_records_already_here(geo, taxa, users, tmp_path, eager_celery):
    call_command("import_occurrences", occurrences_file(tmp_path, [("Testus invasor", 2, 2)]), stdout=io.StringIO())
    answer = api_for(users["alice"]).post(
        "/api/v1/watchlists/", {"name": "late", "regions": ["AAA"], "rule": "invasive_here"}, format="json"
    )
    assert answer.status_code == 201
    assert Match.objects.filter(watch_list_id=answer.json()["id"]).count() == 1


def test_a_deleted_taxon_leaves_its_records_without_one(geo, taxa, users, tmp_path):
    # No constraint in the database (the import's commit checked it row by row): Django's SET_NULL does it.
    call_command("import_occurrences", occurrences_file(tmp_path, [("Testus nativus", 2, 2)]), stdout=io.StringIO())
    assert Occurrence.objects.get().taxon_id == taxa["nativus"].pk
    taxa["nativus"].delete()
    assert Occurrence.objects.get().taxon_id is None


def test_a_deleted_record_or_list_takes_its_matches_with_it(geo, taxa, users, tmp_path):
    # Matches carry no database constraints (derived rows; the commit checked four per insert):
    # Django's CASCADE removes them. Input: two records in a drawn square, one deleted, then the list.
    watch_list = watch_list_create(owner=users["alice"], name="square", geometry=SQUARE, taxa=["Testus"])
    rows = [("Testus nativus", 2, 2), ("Testus invasor", 2.5, 2.5)]
    call_command("import_occurrences", occurrences_file(tmp_path, rows), stdout=io.StringIO())
    assert Match.objects.filter(watch_list=watch_list).count() == 2
    Occurrence.objects.get(scientific_name="Testus nativus").delete()
    assert list(Match.objects.values_list("occurrence__scientific_name", flat=True)) == ["Testus invasor"]
    watch_list.delete()
    assert not Match.objects.exists()
    taxa["invasor"].delete()
    assert Occurrence.objects.get().taxon_id is None
