"""Identifications, the community taxon (iNaturalist's > 2/3 rule), expert review, the review queue,
first records."""

import pytest

from alerts.models import AlertGroup
from community.services import community_taxon_key, observation_review
from observations.models import Observation
from tests.world import api_for, classified, give_track_record

pytestmark = pytest.mark.django_db
PARENTS = {"A a": "A", "A b": "A", "A": "Animalia", "B c": "B", "B": "Animalia", "Animalia": None}


@pytest.mark.parametrize(
    "ids, expected",
    [
        (["A a"], None),  # one person is not a community
        (["A a", "A a"], "A a"),
        (["A a", "A a", "A b"], "A"),  # 2/3 is not more than 2/3: the genus both agree on
        (["A a", "A a", "A a", "A b"], "A a"),  # 3/4 > 2/3
        (["A a", "A a", "A"], "A a"),  # an id on the genus is less specific, not contrary
        (["A a", "B c"], "Animalia"),  # they agree only on the kingdom
        (["A a", "A a", "B c", "B c"], "Animalia"),
    ],
)
def test_consensus_rules(ids, expected):
    assert community_taxon_key(ids, PARENTS) == expected


def test_identifications_set_the_community_taxon(users, geo, model_version, taxa):
    give_track_record(users["alice"], taxa["other"], model_version)
    give_track_record(users["bob"], taxa["other"], model_version)
    observation = classified(users["alice"], 7, 2, [("Testus nativus", 0.6)], model_version)
    url = f"/api/v1/observations/{observation.uuid}/identifications/"
    first = api_for(users["alice"]).post(url, {"taxon": "Testus rarus"}, format="json")
    assert first.status_code == 201 and first.data["community_taxon"] is None
    agree = api_for(users["bob"]).post(url, {"agree_with": first.data["identifications"][0]["id"]}, format="json")
    assert agree.status_code == 201 and agree.data["community_taxon"]["scientific_name"] == "Testus rarus"
    # Alice changes her mind: her earlier id is withdrawn; 1 vs 1 at species, 2 agree on the genus.
    changed = api_for(users["alice"]).post(url, {"taxon": str(taxa["nativus"].pk)}, format="json")
    assert changed.data["community_taxon"]["scientific_name"] == "Testus"
    assert [i["is_current"] for i in changed.data["identifications"]] == [False, True, True]
    assert api_for(users["bob"]).post(url, {"taxon": "No such taxon"}, format="json").status_code == 400


def test_review_confirm_and_reject_set_verification(users, geo, model_version, taxa):
    observation = classified(users["alice"], 7, 2, [("Testus nativus", 0.9)], model_version)
    rita = api_for(users["rita"])
    confirmed = rita.post(
        f"/api/v1/observations/{observation.uuid}/review/",
        {"decision": "confirm", "taxon": "Testus rarus", "note": "tail pattern"},
        format="json",
    )
    assert confirmed.status_code == 200
    cs = confirmed.data["citizen_science"]
    assert (
        cs["verification"] == "confirmed"
        and cs["verified_taxon"]["scientific_name"] == "Testus rarus"
        and cs["verified_by"] == "rita"
    )
    assert confirmed.data["verdict"]["status"] == "native"  # recomputed for the confirmed taxon
    rejected = rita.post(f"/api/v1/observations/{observation.uuid}/review/", {"decision": "reject"}, format="json")
    assert rejected.data["citizen_science"]["verification"] == "rejected"
    assert api_for(users["bob"]).get("/api/v1/feed/").data["count"] == 0  # rejected records leave the feed


def test_review_queue_filters(users, geo, model_version):
    invasive = classified(users["alice"], 7, 2, [("Testus invasor", 0.7)], model_version)  # in the county
    native = classified(users["alice"], 2, 8, [("Testus nativus", 0.95)], model_version)  # AAA only
    rita = api_for(users["rita"])

    def ids(query):
        return {item["id"] for item in rita.get(f"/api/v1/review/queue/?{query}").data["results"]}

    assert ids("") == {str(invasive.uuid), str(native.uuid)}
    assert ids("region=AAA-N1") == {str(invasive.uuid)}
    assert ids("verdict=native") == {str(native.uuid)}
    assert ids("max_confidence=0.8") == {str(invasive.uuid)}
    assert ids("min_confidence=0.9") == {str(native.uuid)}
    observation_review(
        observation=Observation.objects.get(pk=native.pk),
        reviewer=users["rita"],
        decision="confirm",
        taxon=native.prediction.taxon,
    )
    assert ids("") == {str(invasive.uuid)}
    assert rita.get("/api/v1/review/queue/?min_confidence=2").status_code == 400


def test_first_record_flagged_and_raises_the_alert_level(users, geo, model_version, taxa):
    first = classified(users["alice"], 7, 2, [("Testus invasor", 0.6)], model_version)  # county AAA-N1
    observation_review(observation=first, reviewer=users["rita"], decision="confirm", taxon=taxa["invasor"])
    first.refresh_from_db()
    assert first.first_record_regions == ["AAA-N1", "AAA-N", "AAA"]
    elsewhere = classified(users["bob"], 7, 8, [("Testus invasor", 0.6)], model_version)  # AAA-N, not the county
    observation_review(observation=elsewhere, reviewer=users["rita"], decision="confirm", taxon=taxa["invasor"])
    elsewhere.refresh_from_db()
    assert elsewhere.first_record_regions == []  # the state and country already have one
    again = classified(users["bob"], 7.5, 2.5, [("Testus invasor", 0.6)], model_version)
    observation_review(observation=again, reviewer=users["rita"], decision="confirm", taxon=taxa["invasor"])
    again.refresh_from_db()
    assert again.first_record_regions == []
    shown = api_for(users["rita"]).get(f"/api/v1/observations/{first.uuid}/").data["citizen_science"]
    assert shown["first_record_regions"] == ["AAA-N1", "AAA-N", "AAA"]


def test_first_record_alert_is_urgent(
    users, geo, model_version, taxa, eager_celery, django_capture_on_commit_callbacks
):
    from tests.factories import contact

    c = contact(geo["county"], "Lake County Wildlife")
    c.email = "lake@example.org"
    c.save()
    observation = classified(
        users["alice"], 7, 2, [("Testus invasor", 0.6)], model_version
    )  # below the watch-list threshold
    assert not AlertGroup.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        observation_review(observation=observation, reviewer=users["rita"], decision="confirm", taxon=taxa["invasor"])
    group = AlertGroup.objects.get()
    assert group.level == "urgent" and group.reason == "verified"
    from django.core import mail

    assert len(mail.outbox) == 1 and "first record" in mail.outbox[0].subject
