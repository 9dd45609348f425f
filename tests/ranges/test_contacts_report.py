"""`manage.py contacts_report` and the admin's coverage page: countries with invasive records but no contact."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from ranges.contacts import country_contact_coverage
from ranges.models import Contact
from tests.factories import TaxonFactory, UserFactory, contact, region, status

pytestmark = pytest.mark.django_db


@pytest.fixture
def countries():
    """Covered (own contact), covered through a state, uncovered, and one without invasive records."""
    rat = TaxonFactory(scientific_name="Rattus rattus")
    covered = region("AAA", "country", (0, 0, 10, 10), name="Aland")
    through_state = region("BBB", "country", (10, 0, 20, 10), name="Bland")
    state = region("BB-1", "admin1", (10, 0, 15, 10), parent=through_state, name="Bland North")
    uncovered = region("CCC", "country", (20, 0, 30, 10), name="Cland")
    region("DDD", "country", (30, 0, 40, 10), name="Dland")
    for place in (covered, state, uncovered):
        status(rat, place, "invasive")
    Contact.objects.filter(pk=contact(covered).pk).update(verified_on=datetime.date(2026, 11, 30))
    contact(state)


def test_coverage_rolls_states_up_to_their_country(countries):
    rows = {row.code: row for row in country_contact_coverage()}

    def seen(code):
        return rows[code].invasive_taxa, rows[code].contacts, rows[code].last_verified

    assert seen("AAA") == (1, 1, datetime.date(2026, 11, 30))
    assert seen("BBB") == (1, 1, None)
    assert (rows["CCC"].invasive_taxa, rows["CCC"].contacts) == (1, 0)
    assert rows["DDD"].invasive_taxa == 0


def test_report_lists_only_countries_with_invasive_records_and_no_contact(countries):
    out = io.StringIO()
    call_command("contacts_report", stdout=out)
    lines = out.getvalue().splitlines()
    listed = [line.split()[0] for line in lines[1:-1]]
    assert listed == ["CCC"]
    assert lines[-1].startswith(
        "3 countries with invasive records: 2 with a local contact (verified 1, unverified 1), 1 without"
    )


def test_report_all_shows_last_verification(countries):
    out = io.StringIO()
    call_command("contacts_report", "--all", stdout=out)
    assert "2026-11-30" in out.getvalue() and "Bland" in out.getvalue() and "Dland" not in out.getvalue()


def test_admin_coverage_page_shows_each_country(client, countries):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    changelist = client.get(reverse("admin:ranges_contact_changelist")).content.decode()
    assert reverse("admin:ranges_contact_coverage") in changelist
    page = client.get(reverse("admin:ranges_contact_coverage")).content.decode()
    assert "Cland" in page and "<strong>none</strong>" in page and "Nov. 30, 2026" in page and "never" in page


def test_admin_coverage_page_needs_view_permission(client, countries):
    client.force_login(UserFactory(username="clerk", is_staff=True))
    assert client.get(reverse("admin:ranges_contact_coverage")).status_code == 403
