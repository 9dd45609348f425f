"""The classification path records the location-aware answer (ranges.identification via
observation_record_result): expected_here on each prediction, "please verify" below the alert
threshold, and an alert once a reviewer confirms it."""

import pytest
from django.core import mail

from alerts.models import AlertGroup
from community.services import observation_review
from tests.factories import contact
from tests.world import classified

pytestmark = pytest.mark.django_db


def test_weak_evidence_for_an_invader_asks_to_verify_and_alerts_only_once_confirmed(
    users, geo, taxa, model_version, eager_celery, django_capture_on_commit_callbacks
):
    agency = contact(geo["county"], "Lake County Wildlife")
    agency.email = "lake@example.org"
    agency.save()
    with django_capture_on_commit_callbacks(execute=True):
        observation = classified(
            users["alice"], 7, 2, [("Testus invasor", 0.6), ("Testus nativus", 0.3)], model_version
        )
    verdict = observation.verdict
    assert verdict.status == "uncertain" and verdict.alert_level == "possible"
    assert "Possibly Testus invasor" in verdict.explanation and "please verify" in verdict.explanation
    assert {c["organisation"] for c in verdict.contacts} == {"Lake County Wildlife"}  # shown to the user
    marks = {p["key"]: p["expected_here"] for p in observation.prediction.top_k}
    assert marks == {"Testus invasor": True, "Testus nativus": True}  # both recorded in Aland
    assert not AlertGroup.objects.exists() and mail.outbox == []  # no agency told yet

    with django_capture_on_commit_callbacks(execute=True):
        observation_review(observation=observation, reviewer=users["rita"], decision="confirm", taxon=taxa["invasor"])
    observation.verdict.refresh_from_db()
    assert observation.verdict.status == "invasive"
    assert AlertGroup.objects.count() == 1 and len(mail.outbox) == 1


def test_strong_evidence_alerts_at_once(users, geo, model_version):
    observation = classified(users["alice"], 7, 2, [("Testus invasor", 0.95)], model_version)
    assert observation.verdict.status == "invasive" and observation.verdict.alert_level == "alert"
