"""A batch's inputs: images found under folders and globs, and each image placed by a deployments CSV
(the real MICA Camtrap DP package, and a plain folder table)."""

import shutil

import pytest

from mobile_client_stub.camera_traps import DeploymentsError, DeploymentTable, find_images, is_batch_input
from tests.conftest import shared_path
from tests.mobile_client_stub.conftest import make_card

MICA_DEPLOYMENT = "62c200a9"  # the deployment of the 10 local frames: 50.699 N 4.013 E


def test_find_images_walks_folders_in_name_order_and_expands_quoted_globs(tmp_path):
    make_card(tmp_path / "card" / "B", 2)
    make_card(tmp_path / "card" / "A", 2)
    (tmp_path / "card" / "A" / "notes.txt").write_text("not an image")
    (tmp_path / "card" / "A" / ".hidden.jpg").write_bytes(b"")
    other = make_card(tmp_path / "other", 3)
    found = list(find_images([str(tmp_path / "card"), str(tmp_path / "other" / "*.JPG"), str(other[0])]))
    names = [p.relative_to(tmp_path).as_posix() for p in found]
    assert names == [
        "card/A/RCNX0000.JPG",
        "card/A/RCNX0001.JPG",
        "card/B/RCNX0000.JPG",
        "card/B/RCNX0001.JPG",
        "other/RCNX0000.JPG",
        "other/RCNX0001.JPG",
        "other/RCNX0002.JPG",
        "other/RCNX0000.JPG",
    ]
    assert is_batch_input(str(tmp_path / "card")) and is_batch_input(str(tmp_path / "**" / "*.JPG"))
    assert not is_batch_input(str(other[0])) and not is_batch_input(str(tmp_path / "missing.jpg"))


def test_camtrap_dp_package_places_each_frame_by_its_media_row():
    deployments_csv = shared_path("photos", "mica_invasive_camtrap_sample", "deployments.csv")
    table = DeploymentTable.from_csv(deployments_csv)
    assert len(table.deployments) == 4
    frames = sorted((deployments_csv.parent / "media").glob("*.JPG"))
    placements = [table.locate(frame) for frame in frames]
    assert len(frames) == 10 and {p.deployment.id for p in placements} == {MICA_DEPLOYMENT}
    assert (placements[0].deployment.latitude, placements[0].deployment.longitude) == (50.699, 4.013)
    assert placements[0].timestamp == "2021-04-11T20:43:09+01:00"  # media.csv's time, with its offset


def test_a_copied_frame_is_placed_by_its_unique_file_name_or_its_folder(tmp_path):
    deployments_csv = shared_path("photos", "mica_invasive_camtrap_sample", "deployments.csv")
    table = DeploymentTable.from_csv(deployments_csv)
    frame = next((deployments_csv.parent / "media").glob("*.JPG"))
    copied = shutil.copy(frame, tmp_path / frame.name)
    assert table.locate(copied).deployment.id == MICA_DEPLOYMENT  # media.csv names it, and no other deployment
    [by_folder] = make_card(tmp_path / "cards" / "29b7d356" / "100RECNX", 1)
    assert table.locate(by_folder).deployment.latitude == 51.181 and table.locate(by_folder).timestamp is None
    [nowhere] = make_card(tmp_path / "unknown", 1)
    assert table.locate(nowhere) is None


def test_a_plain_folder_table(tmp_path):
    csv_file = tmp_path / "deployments.csv"
    csv_file.write_text("folder,latitude,longitude\nserengeti_S1,-2.33,34.83\n")
    [image] = make_card(tmp_path / "serengeti_S1" / "day1", 1)
    placement = DeploymentTable.from_csv(csv_file).locate(image)
    assert (placement.deployment.id, placement.deployment.latitude, placement.deployment.longitude) == (
        "serengeti_S1",
        -2.33,
        34.83,
    )


@pytest.mark.parametrize(
    "content, message",
    [
        ("site,lat,lon\nA,1,2\n", "needs a deploymentID or folder or deployment column and latitude, longitude"),
        ("deploymentID,latitude,longitude\nA,91,2\n", "line 2: latitude 91.0 is outside -90..90"),
        ("deploymentID,latitude,longitude\nA,1,2\nB,1,east\n", "line 3: longitude 'east' is not a number"),
        ("deploymentID,latitude,longitude\n,1,2\n", "line 2: empty deploymentID"),
    ],
)
def test_a_bad_deployments_csv_says_what_and_where(tmp_path, content, message):
    csv_file = tmp_path / "deployments.csv"
    csv_file.write_text(content)
    with pytest.raises(DeploymentsError, match=message):
        DeploymentTable.from_csv(csv_file)
    with pytest.raises(DeploymentsError, match="cannot read it"):
        DeploymentTable.from_csv(tmp_path / "absent.csv")
