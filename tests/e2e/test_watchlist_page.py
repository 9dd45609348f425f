"""The watch-list page in headless Chromium (WebGL 2 through SwiftShader): the list's matches are
drawn on the MapLibre map, a click opens a record, and a status change persists.

Needs Debian's `chromium` and `chromium-driver` (.ci/run installs them); skips with the reason otherwise.
The screenshot is kept under test-artifacts/ (gitignored): watchlist_map.png."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command

from accounts.services import token_create
from tests.e2e.browser import headless_chromium
from tests.e2e.stack import REPO
from watchlists.models import Match
from watchlists.services import watch_list_create

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ARTIFACTS = REPO / "test-artifacts"
SQUARE = {"type": "Polygon", "coordinates": [[[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]]]}


@pytest.fixture
def browser(tmp_path):
    with headless_chromium(tmp_path / "chromium-profile", (1200, 900), webgl=True) as driver:
        yield driver


def wait_until(driver, script: str, what: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver.execute_script(script):
            return
        time.sleep(0.25)
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "watchlist_timeout.png"))
    raise AssertionError(f"timed out waiting for {what}; browser log: {driver.get_log('browser')}")


def test_the_map_draws_the_matches_and_a_status_change_persists(live_server, browser, geo, taxa, users, tmp_path):
    watch_list = watch_list_create(owner=users["alice"], name="Square watch", geometry=SQUARE, taxa=["Testus"])
    download = tmp_path / "simple.csv"
    download.write_text(
        "gbifID\tdatasetKey\toccurrenceID\tspecies\tdecimalLatitude\tdecimalLongitude\teventDate\tlicense\n"
        "1\tds\tocc-1\tTestus invasor\t2\t2\t2024-05-01\tCC0_1_0\n"
        "2\tds\tocc-2\tTestus nativus\t2.5\t1.5\t2024-05-02\tCC_BY_4_0\n"
    )
    call_command("import_occurrences", str(download), stdout=io.StringIO())
    assert Match.objects.filter(watch_list=watch_list).count() == 2
    _, key = token_create(user=users["alice"])

    browser.get(f"{live_server.url}/watchlists/")
    browser.execute_script("localStorage.setItem('rangewatch.token', arguments[0])", key)
    browser.get(f"{live_server.url}/watchlists/{watch_list.pk}/")
    wait_until(browser, "return document.querySelectorAll('#matches tbody tr').length === 2", "the records table")
    # The map drew the two records (as cells with counts or as points, by the zoom it fitted to the area).
    wait_until(
        browser,
        "const m = window.watchMap; if (!m || !m.loaded() || !m.getLayer('points')) return false;"
        " const drawn = m.queryRenderedFeatures({layers: ['cells', 'points']});"
        " return drawn.reduce((n, f) => n + (f.properties.cluster ? f.properties.count : 1), 0) === 2",
        "the map's two records",
    )
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "watchlist_map.png"))

    browser.find_element("css selector", "#matches tbody tr").click()
    wait_until(browser, "return !!document.querySelector('#triage select')", "the record's triage form")
    browser.execute_script(
        "const f = document.getElementById('triage'); f.status.value = 'managed';"
        " f.note.value = 'removed on 2024-05-03'; f.requestSubmit();"
    )
    wait_until(
        browser,
        "return [...document.querySelectorAll('#record li')].some(li => li.textContent.includes('managed'))",
        "the status in the record's history",
    )
    changed = Match.objects.get(watch_list=watch_list, status="managed")
    assert changed.note == "removed on 2024-05-03"
    assert changed.history.count() == 1
