"""The app split (observations 0003 and the new apps' 0001/0002) keeps every row: a database
populated before it is migrated forward and read through the new apps' models."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE_SPLIT = [("observations", "0002_citizen_science"), ("classifier", None), ("species", "0003_taxonomy_version")]


@pytest.mark.slow(reason="migrates a database back and forward through every migration: about 35 s")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_migrating_a_populated_database_forward_keeps_rows_and_links():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_SPLIT)
    old = executor.loader.project_state(BEFORE_SPLIT[0]).apps
    User = old.get_model("auth", "User")
    Taxon = old.get_model("species", "Taxon")
    Region = old.get_model("ranges", "Region")
    Contact = old.get_model("ranges", "Contact")
    get = lambda name: old.get_model("observations", name)  # noqa: E731

    user = User.objects.create(username="olga")
    taxon = Taxon.objects.create(scientific_name="Testus invasor", rank="species")
    region = Region.objects.create(code="AAA", name="Aland", kind="country")
    contact = Contact.objects.create(region=region, organisation="Aland Wildlife", kind="national_agency")
    version = get("ModelVersion").objects.create(
        name="old-model", arch="tiny", path="/m", sha256="0" * 64, num_labels=2, is_active=True
    )
    observation = get("Observation").objects.create(
        owner=user, photo="photos/x", latitude=5, longitude=5, location_source="client"
    )
    get("Prediction").objects.create(
        observation=observation, model_version=version, top_k=[{"key": "Testus invasor", "score": 0.9}]
    )
    get("Identification").objects.create(observation=observation, user=user, taxon=taxon)
    get("Review").objects.create(observation=observation, reviewer=user, decision="confirm", taxon=taxon)
    hook = get("ContactWebhook").objects.create(contact=contact, url="https://example.org/hook", secret="s")
    group = get("AlertGroup").objects.create(taxon=taxon, region_code="AAA", day="2026-11-30", reason="verified")
    group.observations.add(observation)
    get("AlertDelivery").objects.create(
        group=group, observation=observation, contact=contact, webhook=hook, channel="webhook", target=hook.url
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    from alerts.models import AlertDelivery, AlertGroup
    from classifier.models import ModelVersion
    from community.models import Identification, Review
    from observations.models import Prediction

    assert ModelVersion.objects.get().name == "old-model" and ModelVersion.objects.get().is_active
    assert Prediction.objects.get().model_version.name == "old-model"
    assert Identification.objects.get().taxon.scientific_name == "Testus invasor"
    assert Review.objects.get().decision == "confirm"
    moved_group = AlertGroup.objects.get()
    assert list(moved_group.observations.values_list("pk", flat=True)) == [observation.pk]
    delivery = AlertDelivery.objects.get()
    assert delivery.webhook.url == "https://example.org/hook" and delivery.group == moved_group
    tables = connection.introspection.table_names()
    assert "alerts_alertgroup_observations" in tables and "observations_alertgroup" not in tables
