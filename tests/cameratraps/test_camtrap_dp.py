"""Camtrap DP in and out, on the real MICA sample: import (deployments, local frames queued on the
batch queue, idempotent), the model's and the reviewers' classifications, export that the
Camtrap DP validator accepts with one machine classification per sequence. COCO Camera Traps in."""

import csv
import io
import json
import shutil

import pytest
from django.core.management import call_command
from kombu.transport.memory import Channel

from cameratraps.models import Deployment, Media, Project
from community.services import observation_review
from observations.classification import observation_record_result
from observations.models import Observation
from observations.tasks import BATCH_QUEUE
from tests.cameratraps.camtrap_dp_validator import validate_camtrap_dp
from tests.conftest import shared_path
from tests.factories import TaxonFactory
from tests.world import api_for

pytestmark = pytest.mark.django_db
MICA = ("photos", "mica_invasive_camtrap_sample")
HERON_DEPLOYMENT = "62c200a9"  # the 10 local frames: one burst of about 6 s at 50.699 N 4.013 E


def _import(*args) -> str:
    out = io.StringIO()
    call_command("import_camera_traps", *args, stdout=out)
    return out.getvalue()


def _queued(name: str) -> int:
    queue = Channel.queues.get(name)
    return queue.qsize() if queue is not None else 0


def _rows(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_validator_accepts_the_mica_sample_and_names_what_is_wrong_in_a_broken_copy(tmp_path):
    mica = shared_path(*MICA)
    assert validate_camtrap_dp(mica) == []
    broken = tmp_path / "broken"
    shutil.copytree(mica, broken, ignore=shutil.ignore_patterns("media"))
    descriptor = json.loads((broken / "datapackage.json").read_text())
    del descriptor["project"]
    (broken / "datapackage.json").write_text(json.dumps(descriptor))
    media = (broken / "media.csv").read_text().replace(",00a2c20d,", ",nowhere,", 1)
    (broken / "media.csv").write_text(media)
    problems = validate_camtrap_dp(broken)
    assert any("'project' is a required property" in p for p in problems), problems
    assert any("foreign key" in p.lower() for p in problems), problems


def test_mica_import_creates_deployments_and_queues_the_local_frames_on_the_batch_queue(
    users, django_capture_on_commit_callbacks
):
    mica = shared_path(*MICA)
    for name in (BATCH_QUEUE, "inference"):
        Channel.queues.pop(name, None)
    with django_capture_on_commit_callbacks(execute=True):
        out = _import("--project", "mica", "--owner", "alice", "--camtrap-dp", str(mica))
    project = Project.objects.get(name="mica")
    assert project.deployments.count() == 4
    frames = Media.objects.filter(project=project).select_related("observation", "deployment")
    assert len(frames) == 10
    assert {m.deployment.deployment_id for m in frames} == {HERON_DEPLOYMENT}
    for media in frames:
        observation = media.observation
        assert observation.owner == users["alice"] and observation.status == Observation.Status.QUEUED
        assert (observation.latitude, observation.longitude) == (
            50.699,
            4.013,
        )  # the deployment's point: no GPS in the frames
        assert observation.geoprivacy == project.default_geoprivacy
        assert media.timestamp.isoformat() == observation.observed_at.isoformat()  # media.csv's time, with its zone
    assert "frames imported and queued: 10" in out
    assert "frames skipped (file not in the package (remote or missing)): 413" in out
    # Real broker messages: every frame on the batch queue, none in front of the phones.
    assert _queued(BATCH_QUEUE) == 10 and _queued("inference") == 0

    with django_capture_on_commit_callbacks(execute=True):
        again = _import("--project", "mica", "--camtrap-dp", str(mica / "datapackage.json"))
    assert "frames skipped (already in the project): 10" in again
    assert Media.objects.filter(project=project).count() == Observation.objects.count() == 10
    assert _queued(BATCH_QUEUE) == 10


def _classify_as_the_worker_would(model_version):
    """The model's output for each MICA frame: the first two empty, the rest a heron."""
    TaxonFactory(scientific_name="Ardea cinerea")
    for n, media in enumerate(Media.objects.order_by("timestamp", "media_id").select_related("observation")):
        top_k = (
            [("no_animal", 0.9), ("Ardea cinerea", 0.05)]
            if n < 2
            else [("Ardea cinerea", 0.8), ("Anas platyrhynchos", 0.1)]
        )
        observation_record_result(
            observation=media.observation, model_version=model_version, taxon_scores=dict(top_k), top_k=top_k
        )


def test_export_is_valid_camtrap_dp_with_one_machine_classification_per_sequence_and_the_reviewers_own(
    users, model_version, tmp_path, settings
):
    settings.RANGEWATCH_PUBLIC_BASE_URL = "https://rangewatch.example.org"
    _import("--project", "mica", "--owner", "alice", "--camtrap-dp", str(shared_path(*MICA)))
    _classify_as_the_worker_would(model_version)
    reviewed = Media.objects.order_by("timestamp", "media_id")[5]
    heron = TaxonFactory(scientific_name="Ardea cinerea")
    observation_review(observation=reviewed.observation, reviewer=users["rita"], decision="confirm", taxon=heron)

    out = io.StringIO()
    call_command("export_camtrap_dp", str(tmp_path / "pkg"), "--project", "mica", stdout=out)
    assert validate_camtrap_dp(tmp_path / "pkg") == []
    assert "4 deployments, 10 media, 1 sequences" in out.getvalue()

    observations = _rows(tmp_path / "pkg" / "observations.csv")
    machine = [r for r in observations if r["classificationMethod"] == "machine"]
    assert len(machine) == 1  # the 10 frames are one burst
    assert machine[0]["observationLevel"] == "event" and machine[0]["eventID"] == f"{HERON_DEPLOYMENT}-1"
    assert machine[0]["scientificName"] == "Ardea cinerea" and machine[0]["classifiedBy"] == model_version.name
    assert float(machine[0]["classificationProbability"]) == pytest.approx(0.8)  # averaged over the 8 non-empty frames
    human = [r for r in observations if r["classificationMethod"] == "human"]
    assert [(r["mediaID"], r["classifiedBy"], r["observationLevel"]) for r in human] == [
        (reviewed.media_id, "rita", "media")
    ]

    deployments = {r["deploymentID"]: r for r in _rows(tmp_path / "pkg" / "deployments.csv")}
    # The project's default geoprivacy (obscured) generalises the public export to a 0.1° cell.
    assert (deployments[HERON_DEPLOYMENT]["latitude"], deployments[HERON_DEPLOYMENT]["longitude"]) == ("50.65", "4.05")
    media = _rows(tmp_path / "pkg" / "media.csv")
    assert len(media) == 10 and all(r["filePath"].endswith("/photo/") and r["filePublic"] == "false" for r in media)
    assert all(r["filePath"].startswith("https://rangewatch.example.org/api/v1/observations/") for r in media)

    call_command("export_camtrap_dp", str(tmp_path / "team"), "--project", "mica", "--exact", stdout=io.StringIO())
    exact = {r["deploymentID"]: r for r in _rows(tmp_path / "team" / "deployments.csv")}
    assert (exact[HERON_DEPLOYMENT]["latitude"], exact[HERON_DEPLOYMENT]["longitude"]) == ("50.699", "4.013")


def test_empty_sequences_are_blank_and_a_longer_gap_splits_the_burst(users, model_version, tmp_path):
    _import("--project", "mica", "--owner", "alice", "--camtrap-dp", str(shared_path(*MICA)))
    for media in Media.objects.select_related("observation"):
        top_k = [("no_animal", 0.97)]
        observation_record_result(
            observation=media.observation, model_version=model_version, taxon_scores=dict(top_k), top_k=top_k
        )
    Project.objects.filter(name="mica").update(
        sequence_interval_s=1
    )  # the burst splits wherever frames are over 1 s apart
    call_command("export_camtrap_dp", str(tmp_path / "pkg"), "--project", "mica", stdout=io.StringIO())
    assert validate_camtrap_dp(tmp_path / "pkg") == []
    machine = [r for r in _rows(tmp_path / "pkg" / "observations.csv") if r["classificationMethod"] == "machine"]
    assert {r["observationType"] for r in machine} == {"blank"} and all(not r["scientificName"] for r in machine)
    timestamps = sorted(Media.objects.values_list("timestamp", flat=True))
    gaps = sum(1 for a, b in zip(timestamps, timestamps[1:]) if (b - a).total_seconds() > 1)
    assert len(machine) == gaps + 1


def test_coco_camera_traps_import_places_locations_and_skips_what_it_cannot(users):
    coco = shared_path("photos", "photos_index.cct.json")
    images = json.loads(coco.read_text())["images"]
    out = _import(
        "--project",
        "lila",
        "--owner",
        "bob",
        "--coco",
        str(coco),
        "--images",
        str(coco.parent),
        "--latitude",
        "-2.33",
        "--longitude",
        "34.83",
    )
    project = Project.objects.get(name="lila")
    assert Deployment.objects.filter(project=project).count() == len({i["location"] for i in images})
    created = Media.objects.filter(project=project).count()
    assert f"frames imported and queued: {created}" in out and created > 40
    placed = [i for i in images if i.get("latitude") is not None]
    for image in placed[:5]:
        observation = Media.objects.get(project=project, media_id=image["id"]).observation
        assert (observation.latitude, observation.longitude) == (image["latitude"], image["longitude"])
    again = _import("--project", "lila", "--coco", str(coco), "--images", str(coco.parent))
    assert "frames imported and queued: 0" in again and Media.objects.filter(project=project).count() == created


def test_a_sequence_of_uncertain_frames_is_exported_unknown_not_a_name_no_frame_was_sure_of(
    users, model_version, tmp_path
):
    """Issue 22: ten grey-heron frames, each answered "uncertain", came out as one sequence of
    *Pelecanus* at 0.17. The sequence now needs the single photo's confidence threshold."""
    _import("--project", "mica", "--owner", "alice", "--camtrap-dp", str(shared_path(*MICA)))
    for name in ("Pelecanus onocrotalus", "Ardea cinerea", "Ciconia ciconia"):
        TaxonFactory(scientific_name=name)
    for media in Media.objects.select_related("observation"):
        top_k = [("Pelecanus onocrotalus", 0.17), ("Ardea cinerea", 0.15), ("Ciconia ciconia", 0.1)]
        observation_record_result(
            observation=media.observation, model_version=model_version, taxon_scores=dict(top_k), top_k=top_k
        )
        assert media.observation.verdict.status == "uncertain"  # each frame alone: uncertain
    call_command("export_camtrap_dp", str(tmp_path / "pkg"), "--project", "mica", stdout=io.StringIO())
    assert validate_camtrap_dp(tmp_path / "pkg") == []
    machine = [r for r in _rows(tmp_path / "pkg" / "observations.csv") if r["classificationMethod"] == "machine"]
    assert [(r["observationType"], r["scientificName"]) for r in machine] == [("unknown", "")]
    sequences = api_for(users["alice"]).get("/api/v1/projects/mica/sequences/").json()
    sequences = sequences.get("results", sequences)
    assert [(s["observation_type"], s["scientific_name"]) for s in sequences] == [("unknown", "")]


def test_every_exported_deployment_follows_the_projects_geoprivacy_and_links_need_a_public_address(
    users, model_version, tmp_path, settings
):
    """Issue 22: the three MICA deployments without frames kept their exact coordinates while the one
    with frames was generalised; media.csv linked to http://localhost:8000 whatever the server's address."""
    settings.RANGEWATCH_PUBLIC_BASE_URL = "http://localhost:8000"
    _import("--project", "mica", "--owner", "alice", "--camtrap-dp", str(shared_path(*MICA)))
    _classify_as_the_worker_would(model_version)
    err = io.StringIO()
    call_command("export_camtrap_dp", str(tmp_path / "pkg"), "--project", "mica", stdout=io.StringIO(), stderr=err)
    assert validate_camtrap_dp(tmp_path / "pkg") == []

    exact = {d.deployment_id: (d.latitude, d.longitude) for d in Deployment.objects.all()}
    deployments = _rows(tmp_path / "pkg" / "deployments.csv")
    assert len(deployments) == 4
    for row in deployments:  # obscured (the project's default): a 0.1° cell centre, never the point
        lat, lon = exact[row["deploymentID"]]
        assert (float(row["latitude"]), float(row["longitude"])) != (round(lat, 6), round(lon, 6)), row
        assert round(float(row["latitude"]) * 100) % 5 == 0 and row["locationName"] == "", row

    media = _rows(tmp_path / "pkg" / "media.csv")
    assert media and not any("localhost" in r["filePath"] for r in media)
    assert {r["filePath"] for r in media} == {r["fileName"] for r in media}
    assert "no public address set (RANGEWATCH_PUBLIC_BASE_URL" in err.getvalue()
