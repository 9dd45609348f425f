"""Safe model releases: activation compared on the same validation split, forced and logged;
rollback; `manage.py model_version`; the admin action. Tiny random-init models whose bias makes
one taxon always win, scored on real JPEG files."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from classifier.evaluation import ValidationSplit, taxon_macro_f1
from classifier.models import ModelActivation, ModelEvaluation, ModelVersion
from classifier.services import (
    ActivationRefused,
    ArtifactInvalid,
    model_version_activate,
    model_version_register,
    model_version_rollback,
    model_versions_compare,
)
from tests.factories import jpeg_bytes, tiny_model_artifact

pytestmark = pytest.mark.django_db


@pytest.fixture
def split(tmp_path):
    """Two photos of Testus nativus and one of Testus invasor. A model that always says nativus
    scores macro-F1 (0.8 + 0) / 2 = 0.40 on it; one that always says invasor (0 + 0.5) / 2 = 0.25."""
    images = []
    for i, taxon in enumerate(["Testus nativus", "Testus nativus", "Testus invasor"]):
        path = tmp_path / f"valid{i}.jpg"
        path.write_bytes(jpeg_bytes(color=(40 * i, 90, 30)))
        images.append((str(path), taxon))
    return ValidationSplit(tuple(images))


@pytest.fixture
def says_nativus(tmp_path):
    return model_version_register(
        path=tiny_model_artifact(tmp_path / "nativus", name="says-nativus"),
        activate=True,
        by="test",
        reason="first model",
    )


@pytest.fixture
def says_invasor(tmp_path, split):
    """A worse candidate that was trained on `split` (its validation split lies beside it)."""
    artifact = tiny_model_artifact(tmp_path / "invasor", name="says-invasor", winner="Testus invasor")
    split.save(artifact)
    return model_version_register(path=artifact)


def test_taxon_macro_f1_averages_over_the_validation_taxa_only():
    truth = ["a", "a", "b"]
    assert taxon_macro_f1(truth, ["a", "a", "b"]) == 1.0
    # A wrong prediction of a taxon outside the split costs recall but adds no class of its own.
    assert taxon_macro_f1(truth, ["a", "z", "b"]) == pytest.approx((2 / 3 + 1.0) / 2)


def test_a_worse_model_is_refused_and_the_active_one_stays(says_nativus, says_invasor):
    with pytest.raises(
        ActivationRefused, match=r"says-invasor scores below the active model: macro-F1 0\.250 .* vs 0\.400"
    ):
        model_version_activate(model_version=says_invasor, by="alice", reason="new run")

    assert ModelVersion.objects.get(is_active=True) == says_nativus
    assert ModelActivation.objects.count() == 1  # only the first activation
    scores = dict(ModelEvaluation.objects.values_list("version__name", "macro_f1"))
    assert scores == {"says-nativus": pytest.approx(0.4), "says-invasor": pytest.approx(0.25)}


def test_force_activates_a_worse_model_and_logs_who_why_and_the_scores(says_nativus, says_invasor):
    activation = model_version_activate(
        model_version=says_invasor, by="alice (admin)", reason="field test on the new classes", force=True
    )

    assert ModelVersion.objects.get(is_active=True) == says_invasor
    logged = ModelActivation.objects.first()
    assert logged == activation
    assert (logged.version, logged.previous, logged.by, logged.reason, logged.forced) == (
        says_invasor,
        says_nativus,
        "alice (admin)",
        "field test on the new classes",
        True,
    )
    assert "0.250" in logged.comparison and "0.400" in logged.comparison and "3 validation images" in logged.comparison


def test_a_better_model_is_activated_without_force(tmp_path, split):
    worse = model_version_register(
        path=tiny_model_artifact(tmp_path / "w", name="worse", winner="Testus invasor"),
        activate=True,
        by="t",
        reason="r",
    )
    better_artifact = tiny_model_artifact(tmp_path / "b", name="better")
    split.save(better_artifact)
    better = model_version_register(path=better_artifact)

    activation = model_version_activate(model_version=better, by="bob", reason="higher macro-F1")

    assert ModelVersion.objects.get(is_active=True) == better
    assert (activation.previous, activation.forced) == (worse, False)


def test_rollback_returns_to_the_previous_version_and_is_logged(says_nativus, says_invasor):
    model_version_activate(model_version=says_invasor, by="alice", reason="try it", force=True)

    rollback = model_version_rollback(by="carol", reason="elephants came back as ostriches")

    assert ModelVersion.objects.get(is_active=True) == says_nativus
    assert (rollback.version, rollback.previous, rollback.by) == (says_nativus, says_invasor, "carol")
    assert "rollback" in rollback.comparison


def test_without_a_validation_split_activation_needs_force(tmp_path, says_nativus):
    elsewhere = model_version_register(path=tiny_model_artifact(tmp_path / "e", name="trained-elsewhere"))

    with pytest.raises(ActivationRefused, match="neither trained-elsewhere nor says-nativus has a validation split"):
        model_version_activate(model_version=elsewhere, by="dan", reason="imported")
    activation = model_version_activate(model_version=elsewhere, by="dan", reason="imported", force=True)
    assert activation.forced and activation.comparison.startswith("not compared")


def test_the_starter_model_is_compared_on_the_active_models_split(tmp_path, split, says_invasor):
    """A model trained elsewhere (the starter) going back in: scored on the active one's split."""
    model_version_activate(model_version=says_invasor, by="t", reason="first")
    starter_like = model_version_register(path=tiny_model_artifact(tmp_path / "s", name="starter-like"))

    compared = model_versions_compare(candidate=starter_like, active=says_invasor)

    assert compared.split.sha256 == split.sha256
    assert not compared.candidate_is_worse


def test_model_version_command_lists_refuses_forces_and_rolls_back(says_nativus, says_invasor, capsys):
    with pytest.raises(CommandError, match="scores below the active model"):
        call_command("model_version", "activate", "says-invasor", "--reason", "try")
    call_command("model_version", "activate", "says-invasor", "--reason", "try", "--force")
    call_command("model_version", "rollback", "--reason", "worse in the field")
    call_command("model_version", "list")

    out = capsys.readouterr().out
    assert "says-invasor is active (forced), was says-nativus" in out
    assert "says-nativus is active, was says-invasor" in out
    assert "* says-nativus" in out and "  says-invasor" in out
    assert "macro-F1 0.250, accuracy 0.333 (3 images, taxa)" in out  # its score on the split
    assert "FORCED: try" in out and "(manage.py)" in out
    with pytest.raises(CommandError, match="no model version named 'nope'"):
        call_command("model_version", "activate", "nope", "--reason", "x")


def test_admin_activation_asks_why_then_uses_stored_scores(client, django_user_model, says_nativus, says_invasor):
    admin_user = django_user_model.objects.create_superuser("curator", "c@example.org", "pw-curator-1")
    client.force_login(admin_user)
    url = reverse("admin:classifier_modelversion_changelist")
    selected = {"action": "activate", "_selected_action": [says_invasor.pk]}

    page = client.post(url, selected)
    assert page.status_code == 200 and b"Activate says-invasor" in page.content and b'name="reason"' in page.content

    # Nobody has scored the two models on the split yet: the web process does not load models.
    answer = client.post(url, {**selected, "apply": "1", "reason": "try"}, follow=True)
    assert b"has not been scored on split" in answer.content
    assert ModelVersion.objects.get(is_active=True) == says_nativus

    model_versions_compare(candidate=says_invasor, active=says_nativus)  # what train_classifier does
    client.post(url, {**selected, "apply": "1", "reason": "trial in the admin", "force": "on"}, follow=True)
    assert ModelVersion.objects.get(is_active=True) == says_invasor
    assert ModelActivation.objects.first().by == "curator (admin)"

    log = client.get(reverse("admin:classifier_modelactivation_changelist"))
    assert b"trial in the admin" in log.content
    assert (
        client.get(
            reverse("admin:classifier_modelactivation_change", args=[ModelActivation.objects.first().pk])
        ).status_code
        == 200
    )
    assert (
        client.post(
            reverse("admin:classifier_modelactivation_delete", args=[ModelActivation.objects.first().pk])
        ).status_code
        == 403
    )


def _truncate(version):
    weights = ModelVersion.objects.get(pk=version.pk).path + "/model.safetensors"
    with open(weights, "r+b") as fh:
        fh.truncate(1000)


def test_medium_broken_model_cannot_be_activated_by_any_path(
    client, django_user_model, says_nativus, says_invasor, tmp_path
):
    """Issue 23: truncated weights were force-activated from the admin (no checksum check on
    activation). The artifact is verified on every path: admin, command, --force, rollback."""
    _truncate(says_invasor)
    with pytest.raises(ArtifactInvalid, match="checksum mismatch"):
        model_version_activate(model_version=says_invasor, by="t", reason="try", force=True)
    with pytest.raises(CommandError, match="checksum mismatch"):
        call_command("model_version", "activate", "says-invasor", "--reason", "try", "--force")

    admin_user = django_user_model.objects.create_superuser("curator", "c@example.org", "pw-curator-1")
    client.force_login(admin_user)
    url = reverse("admin:classifier_modelversion_changelist")
    selected = {"action": "activate", "_selected_action": [says_invasor.pk], "apply": "1"}
    answer = client.post(url, {**selected, "reason": "trial", "force": "on"}, follow=True)
    assert b"checksum mismatch" in answer.content
    assert ModelVersion.objects.get(is_active=True) == says_nativus

    # A manifest rewritten to match the damaged file does not help: the registered hash decides.
    import json

    manifest_path = tmp_path / "invasor" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    from ml.artifacts import file_sha256

    manifest["sha256"] = file_sha256(tmp_path / "invasor" / "model.safetensors")
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactInvalid, match="checksum mismatch"):
        model_version_activate(model_version=says_invasor, by="t", reason="try", force=True)

    # Rollback to a version damaged since it served is refused too.
    good = model_version_register(path=tiny_model_artifact(tmp_path / "good", name="good"))
    model_version_activate(model_version=good, by="t", reason="next", force=True)
    _truncate(says_nativus)
    with pytest.raises(ArtifactInvalid):
        model_version_rollback(by="t", reason="back")
    assert ModelVersion.objects.get(is_active=True) == good
    assert not ModelActivation.objects.filter(version=says_invasor).exists()
