"""Issue 25 on real processes: a folder in SpeciesNet's published format (the real labels, a module
converted with onnx2torch and pickled whole, taking only float32 NHWC 480 x 480) registered with
`manage.py model_version add-speciesnet`, activated through the gate with --force (the starter model
serves and neither has a validation split), then the elephant photo uploaded to gunicorn and
classified by the running Celery worker, which switches models without a restart; a second folder
whose weights split between two elephants shows the location prior and the verdict at work; rollback
returns the first."""

import pytest

from bench.speciesnet_stand_in import write_folder
from tests.conftest import shared_path
from tests.e2e.stack import running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SERENGETI = {"latitude": -2.33, "longitude": 34.83}


def test_speciesnet_folder_serves_through_the_worker_and_its_answer_is_rolled_up_and_verdicted(tmp_path):
    labels = shared_path("speciesnet", "always_crop_99710272_22x8_v12_epoch_00148.labels.txt")
    elephant = shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")
    # Weights made to prefer the African elephant (0.90 of the probability, every photo).
    sure = write_folder(tmp_path / "speciesnet-sure", {"african elephant": 10.0}, labels_file=labels, onnx2torch=True)
    # Weights that split their belief between the two elephants (0.45 each).
    split = write_folder(
        tmp_path / "speciesnet-split",
        {"african elephant": 9.3, "asian elephant": 9.3},
        labels_file=labels,
        onnx2torch=True,
    )
    with running_stack(tmp_path, database_url=None, broker_url=None) as stack:
        stack.manage("import_data", "speciesnet-taxonomy", str(labels))
        out = stack.manage("model_version", "add-speciesnet", str(sure), "--name", "speciesnet-sure")
        assert "pickled torch module" in out and "registered speciesnet-sure (2498 labels" in out
        out = stack.manage("model_version", "activate", "speciesnet-sure", "--reason", "camera traps", "--force")
        assert "speciesnet-sure is active (forced), was starter-" in out

        # The running worker switches to it on its next task.
        response = stack.upload(elephant, **SERENGETI)
        assert response.status_code in (200, 202), response.text
        result = response.json() if response.json()["status"] == "done" else stack.result(response.headers["Location"])
        assert result["status"] == "done", result
        assert result["model_version"] == "speciesnet-sure"
        assert (result["predictions"][0]["key"], round(result["predictions"][0]["score"], 2)) == (
            "Loxodonta africana",
            0.90,
        )
        assert result["identification"]["taxon"]["scientific_name"] == "Loxodonta africana"
        assert result["verdict"]["status"] == "native", result["verdict"]

        stack.manage("model_version", "add-speciesnet", str(split), "--name", "speciesnet-split")
        stack.manage("model_version", "activate", "speciesnet-split", "--reason", "try", "--force")
        result = stack.result(stack.upload(elephant, **SERENGETI).headers["Location"])
        assert result["model_version"] == "speciesnet-split"
        top = [(p["key"], round(p["score"], 2)) for p in result["predictions"][:2]]
        assert sorted(top) == [("Elephas maximus", 0.45), ("Loxodonta africana", 0.45)]
        # The location prior: the Asian elephant is not expected in Tanzania, the African one is
        # native there, so the African elephant is named (0.45 reweighted to 0.75); the verdict
        # weighs the photo's own evidence too (45 % Asian elephant), as for any model's answer.
        identified = result["identification"]
        assert identified["taxon"]["scientific_name"] == "Loxodonta africana", identified
        assert identified["score"] == pytest.approx(0.75, abs=0.01)
        verdict = result["verdict"]
        assert verdict["status"] == "uncertain", verdict
        assert "Loxodonta africana (native here)" in verdict["explanation"], verdict
        assert "Elephas maximus" in verdict["explanation"], verdict

        out = stack.manage("model_version", "rollback", "--reason", "back")
        assert "speciesnet-sure is active, was speciesnet-split" in out
        again = stack.result(stack.upload(elephant, **SERENGETI).headers["Location"])
        assert again["model_version"] == "speciesnet-sure"
