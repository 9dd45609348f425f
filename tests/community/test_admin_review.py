"""Reviewers confirm and reject in the Django admin through the same service as the API."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from community.models import Review
from observations.models import Observation
from tests.world import classified

pytestmark = pytest.mark.django_db


def test_admin_actions_confirm_and_reject_for_reviewers(users, geo, model_version):
    observation = classified(users["alice"], 7, 2, [("Testus nativus", 0.9)], model_version)
    rita = users["rita"]
    rita.is_staff = True
    rita.save()
    rita.user_permissions.add(
        Permission.objects.get(codename="view_observation"), Permission.objects.get(codename="change_observation")
    )
    client = Client()
    client.force_login(rita)
    response = client.post(
        "/admin/observations/observation/",
        {"action": "confirm", "taxon": "Testus nativus", "_selected_action": [observation.pk]},
        follow=True,
    )
    assert response.status_code == 200
    observation.refresh_from_db()
    assert observation.verification == "confirmed" and observation.verified_by == rita
    assert Review.objects.get().decision == "confirm"

    # A staff member who is not a reviewer does not get the actions.
    bob = users["bob"]
    bob.is_staff = True
    bob.save()
    bob.user_permissions.add(
        Permission.objects.get(codename="view_observation"), Permission.objects.get(codename="change_observation")
    )
    client.force_login(bob)
    client.post("/admin/observations/observation/", {"action": "reject", "_selected_action": [observation.pk]})
    assert Observation.objects.get(pk=observation.pk).verification == "confirmed"
