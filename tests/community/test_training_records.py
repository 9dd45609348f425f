"""Training records from the review: `train_classifier --from-observations` (classifier.training)."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from classifier.training import training_records
from community.services import observation_review
from tests.world import classified


@pytest.mark.django_db
def test_from_observations_trains_on_reviewer_confirmed_taxa_only(tmp_path, users, geo, taxa, model_version):
    """Inputs: no confirmed observation (refused, saying why); then a model answer the reviewer
    corrected and one nobody reviewed: only the reviewed one is a training record, labelled with
    the reviewer's taxon, not the model's."""
    with pytest.raises(CommandError, match="confirmed by a reviewer"):
        call_command("train_classifier", "--from-observations", "--output", str(tmp_path / "o"))
    corrected = classified(users["alice"], 7, 2, [("Testus invasor", 0.9)], model_version)
    classified(users["alice"], 7, 2, [("Testus invasor", 0.9)], model_version)  # never reviewed
    observation_review(observation=corrected, reviewer=users["rita"], decision="confirm", taxon=taxa["nativus"])
    records = training_records("reviewed observations")
    assert [(r["id"], r["label"]) for r in records] == [(str(corrected.uuid), "Testus nativus")]
