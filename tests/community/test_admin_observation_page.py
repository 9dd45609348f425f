"""The admin observation page: the photo through the authorised view, predictions and verdict shown,
and nothing editable (status, attempts, idempotency key, failure belong to the pipeline)."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from observations.models import Observation
from tests.world import classified

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer_client(users):
    rita = users["rita"]
    rita.is_staff = True
    rita.save()
    rita.user_permissions.add(*Permission.objects.filter(codename__in=["view_observation", "change_observation"]))
    client = Client()
    client.force_login(rita)
    return client


def test_admin_observation_page_shows_photo_predictions_and_verdict_read_only(
    users, geo, model_version, reviewer_client
):
    observation = classified(
        users["alice"],
        7,
        2,
        [("Testus invasor", 0.91), ("Testus nativus", 0.05)],
        model_version,
        idempotency_key="phone-retry-1",
    )
    page = reviewer_client.get(f"/admin/observations/observation/{observation.pk}/change/")
    html = page.content.decode()

    assert page.status_code == 200
    photo_url = f"/api/v1/observations/{observation.uuid}/photo/"
    assert f'<img src="{photo_url}"' in html and "/media-private/" not in html
    assert "<i>Testus invasor</i></td><td>test invader</td><td>91.0%</td>" in html and "test-model-1" in html
    assert "<strong>invasive</strong>" in html and " in AAA</p>" in html
    for field in ("status", "attempts", "idempotency_key", "failure_code", "failure_detail", "latitude", "geoprivacy"):
        assert f'name="{field}"' not in html, field
    assert "phone-retry-1" in html and 'name="_save"' not in html

    # The photo link works for the reviewer's admin session and serves the EXIF-free derivative.
    photo = reviewer_client.get(photo_url)
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"


def test_nobody_can_change_an_observation_in_the_admin(users, geo, model_version, reviewer_client, admin_client):
    observation = classified(users["alice"], 7, 2, [("Testus nativus", 0.9)], model_version)
    for client in (reviewer_client, admin_client):
        answer = client.post(
            f"/admin/observations/observation/{observation.pk}/change/", {"status": "queued", "attempts": "0"}
        )
        assert answer.status_code == 403
    observation.refresh_from_db()
    assert observation.status == Observation.Status.DONE
    assert admin_client.get("/admin/observations/observation/add/").status_code == 403


def test_low_admin_renders_a_javascript_verdict_source_as_text_not_a_link(users, geo, model_version, reviewer_client):
    """Issue 23, Low: a verdict source whose URL is `javascript:` was an <a href> in the admin."""
    observation = classified(users["alice"], 7, 2, [("Testus invasor", 0.91)], model_version)
    observation.verdict.sources = [
        {"name": "Evil register", "url": "javascript:alert(document.cookie)"},
        {"name": "Shouting register", "url": "JaVaScRiPt:alert(1)"},
        {"name": "Good register", "url": "https://example.org/register"},
    ]
    observation.verdict.save()
    html = reviewer_client.get(f"/admin/observations/observation/{observation.pk}/change/").content.decode()
    assert "Evil register" in html and "Shouting register" in html
    assert "javascript:" not in html.lower()
    assert '<a href="https://example.org/register" rel="noopener">Good register</a>' in html


def test_the_observation_list_filters_have_distinct_titles(users, geo, model_version, admin_client):
    """Issue 22: two filters were both called "By status" (the job's status and the verdict's)."""
    classified(users["alice"], 7, 2, [("Testus nativus", 0.9)], model_version)
    page = admin_client.get("/admin/observations/observation/").content.decode()
    titles = re.findall(r"<summary>\s*By ([^<]+?)\s*</summary>|<h3>\s*By ([^<]+?)\s*</h3>", page)
    titles = [a or b for a, b in titles]
    assert "processing status" in titles and "verdict" in titles, titles
    assert len(titles) == len(set(titles)), titles
