"""`train_classifier --activate` on synthetic camera-trap photos: a run that scores below the active
model on the same validation split is registered but not activated (unless --force), and says why."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from classifier.evaluation import ValidationSplit
from classifier.models import ModelActivation, ModelEvaluation, ModelVersion
from tests.factories import TaxonFactory
from tests.ml.test_training import command_args, write_photos

pytestmark = [pytest.mark.django_db, pytest.mark.slow(reason="trains a model with fastai: about 10 s")]


@pytest.fixture
def photos(tmp_path):
    TaxonFactory(scientific_name="Cervus elaphus", common_name="red deer")
    TaxonFactory(scientific_name="Vulpes vulpes", common_name="Red Fox")
    root = tmp_path / "photos"
    root.mkdir()
    return write_photos(root)


def train(photos, output, *extra):
    call_command("train_classifier", *command_args(photos, output, "--activate", "--reason", "test run", *extra))


def test_a_run_worse_than_the_active_model_is_registered_but_not_activated(photos, tmp_path):
    # Colour-coded classes: a few epochs learn them; a learning rate of 1e-9 learns nothing.
    train(photos, tmp_path / "models" / "good", "--freeze-epochs", "2", "--epochs", "4", "--lr", "3e-2")
    good = ModelVersion.objects.get(is_active=True)
    split = ValidationSplit.load(good.path)
    assert split is not None and {taxon for _, taxon in split.images} == {"Cervus elaphus", "Vulpes vulpes", None}

    with pytest.raises(
        CommandError,
        match=r"not activated: .* scores below the active model: macro-F1 .* on the same \d+ validation images",
    ):
        train(photos, tmp_path / "models" / "bad", "--lr", "1e-9")

    bad = ModelVersion.objects.exclude(pk=good.pk).get()
    assert ModelVersion.objects.get(is_active=True) == good and not bad.is_active
    scores = {e.version.name: e.macro_f1 for e in ModelEvaluation.objects.select_related("version")}
    assert scores[bad.name] < scores[good.name]
    assert ModelEvaluation.objects.filter(split_sha256=split.sha256).count() == 2  # the same images for both

    train(photos, tmp_path / "models" / "bad-forced", "--lr", "1e-9", "--force")
    forced = ModelActivation.objects.first()
    assert forced.forced and forced.previous == good and forced.reason == "test run" and "(manage.py)" in forced.by
