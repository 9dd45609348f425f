"""Issue 22: one answer, said the same way everywhere. One observation of each kind of answer is
rendered through every surface (the API detail that the card shows, "Your reports", the review desk,
the terminal client, the alert e-mail) and each says the same name, confidence and headline, worded in
one place (ranges.wording)."""

import pytest
from django.core import mail

from alerts.delivery import _email_body, _subject
from alerts.models import AlertGroup
from alerts.services import alert_payload
from community.services import observation_review
from mobile_client_stub.render import render_history_row, render_observation
from ranges.wording import NOTHING_NAMED, answer_words, region_phrase, taxon_label
from species.models import Taxon
from tests.world import api_for, classified

pytestmark = pytest.mark.django_db

# (what, the model's scores, the answer's kind, its name)
ANSWERS = [
    ("native", [("Testus nativus", 0.9), ("Otherus alius", 0.05)], "named", "Testus nativus"),
    ("invasive", [("Testus invasor", 0.92), ("Testus nativus", 0.03)], "named", "Test invader (Testus invasor)"),
    ("unknown", [("Otherus alius", 0.9), ("Testus nativus", 0.05)], "named", "Otherus alius"),
    (
        "please verify",
        [("Testus nativus", 0.55), ("Testus invasor", 0.3)],
        "possibly",
        "possibly Test invader (Testus invasor)",
    ),
    (
        "nothing named",
        [("Testus nativus", 0.05), ("Otherus alius", 0.04), ("no_animal", 0.03)],
        "nothing_named",
        NOTHING_NAMED,
    ),
    ("no animal", [("no_animal", 0.9), ("Testus nativus", 0.05)], "no_animal", "no animal"),
]


@pytest.mark.parametrize(("what", "scores", "kind", "name"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_one_answer_reads_the_same_on_card_lists_desk_client_and_email(
    users, geo, model_version, what, scores, kind, name
):
    observation = classified(users["alice"], 7, 2, scores, model_version)
    alice, rita = api_for(users["alice"]), api_for(users["rita"])

    card = alice.get(f"/api/v1/observations/{observation.uuid}/").json()
    answer = card["answer"]
    assert (answer["kind"], answer["name"]) == (kind, name), answer
    listed = next(o for o in alice.get("/api/v1/observations/").json()["results"] if o["id"] == card["id"])
    assert listed["answer"] == answer  # "Your reports"
    queued = [o for o in rita.get("/api/v1/review/queue/?limit=50").json()["results"] if o["id"] == card["id"]]
    if queued:  # the review desk (an unreviewed finished report)
        assert queued[0]["answer"] == answer

    said = render_observation(card)  # the terminal client
    assert answer["headline"] in said and name[0].upper() + name[1:] in said
    assert answer["confidence"] in said
    row = render_history_row(listed)
    assert answer["name"] in row and answer["status"] in row

    if kind == "nothing_named":
        assert answer["confidence"] == "" and "5%" not in said and "Testus" not in answer["summary"]
    if kind == "named":
        assert answer["confidence"] == f"{round(100 * card['identification']['score'])}% confident"
    if kind == "possibly":  # the confidence of the taxon asked about, not of the one identified
        assert answer["confidence"] == "30% from the photo alone" and "Please verify" in answer["headline"]


def test_the_alert_email_says_the_answer_as_the_card_does(users, geo, model_version):
    from tests.factories import contact

    agency = contact(geo["country"], "Aland National Agency", "national_agency")
    agency.email = "aland@example.org"
    agency.save()
    observation = classified(users["alice"], 7, 2, [("Testus invasor", 0.6)], model_version)
    observation_review(
        observation=observation,
        reviewer=users["rita"],
        decision="confirm",
        taxon=Taxon.objects.get(scientific_name="Testus invasor"),
    )
    card = api_for(users["alice"]).get(f"/api/v1/observations/{observation.uuid}/").json()
    observation.refresh_from_db()
    group = AlertGroup.objects.create(
        taxon_id=observation.verdict.taxon_id, region_code="AAA", day=observation.created.date(), level="alert"
    )
    payload = alert_payload(observation=observation, group=group, contact=agency)
    assert payload["answer"]["name"] == card["answer"]["name"] == "Test invader (Testus invasor)"
    assert payload["answer"]["headline"] == card["answer"]["headline"]
    assert card["answer"]["summary"] in _email_body(payload)
    assert "Test invader (Testus invasor): invasive in Aland" in _subject(payload)
    assert mail.outbox == [] or all("Ã" not in m.body for m in mail.outbox)


def test_below_the_review_threshold_nothing_is_named_not_a_five_percent_guess():
    verdict = {"status": "uncertain", "region": {"name": "Tanzania"}}
    blank = answer_words(
        status="done",
        verdict=verdict,
        identification=None,
        predictions=[
            {
                "key": "Canis familiaris",
                "taxon": {"scientific_name": "Canis familiaris", "common_name": "dog"},
                "score": 0.05,
            }
        ],
        alert_level="",
        review_min_score=0.2,
    )
    assert (blank.name, blank.confidence) == (NOTHING_NAMED, "")
    person = answer_words(
        status="done",
        verdict=verdict,
        identification=None,
        predictions=[
            {"key": "human", "taxon": None, "score": 0.6},
            {"key": "Asteroidea", "taxon": {"scientific_name": "Asteroidea"}, "score": 0.2},
        ],
        alert_level="",
        review_min_score=0.2,
    )
    assert person.name == "a person" and "starfish" not in person.summary.lower()


def test_region_and_taxon_are_said_the_way_people_say_them():
    assert region_phrase("Contiguous United States (L48)") == "the contiguous United States"
    assert region_phrase("United Kingdom") == "the United Kingdom"
    assert region_phrase("Tanzania") == "Tanzania"
    assert region_phrase(None) == "this place"
    assert taxon_label({"scientific_name": "Herpestidae", "common_name": "mongooses", "rank": "family"}) == (
        "Mongooses (family Herpestidae)"
    )
    assert taxon_label({"scientific_name": "Loxodonta africana", "common_name": "African bush elephant"}) == (
        "African bush elephant (Loxodonta africana)"
    )


def test_the_contiguous_us_group_is_named_as_people_say_it(db):
    from ranges.importers.regionmap import RegionCodes, contiguous_us_group
    from ranges.importers.report import ImportReport
    from ranges.models import Region
    from tests.factories import region

    usa = region("USA", "country", (-125, 25, -66, 49), name="United States of America")
    region("US-FL", "admin1", (-87, 25, -80, 31), parent=usa, name="Florida")
    contiguous_us_group(RegionCodes(), ImportReport("test"))
    name = Region.objects.get(code="US-L48").name
    assert "(L48)" not in name and region_phrase(name) == "the contiguous United States"


def test_after_a_reviewer_confirms_a_taxon_the_model_did_not_name_the_answer_names_it(users, geo, model_version):
    observation = classified(users["alice"], 7, 2, [("Testus invasor", 0.1), ("Otherus alius", 0.05)], model_version)
    alice = api_for(users["alice"])
    assert alice.get(f"/api/v1/observations/{observation.uuid}/").json()["answer"]["name"] == NOTHING_NAMED
    observation_review(
        observation=observation,
        reviewer=users["rita"],
        decision="confirm",
        taxon=Taxon.objects.get(scientific_name="Testus invasor"),
    )
    answer = alice.get(f"/api/v1/observations/{observation.uuid}/").json()["answer"]
    assert (answer["name"], answer["confidence"], answer["status"]) == (
        "Test invader (Testus invasor)",
        "named by a reviewer",
        "invasive",
    )
