"""The watch-list page in headless Chromium (WebGL 2 through SwiftShader): the list's matches are
drawn on the MapLibre map, a click opens a record, and a status change persists; a member comments
on a record; a new list's area is drawn on the map (Terra Draw) and the list is created from it.

Needs Debian's `chromium` and `chromium-driver` (.ci/run installs them); skips with the reason otherwise.
The screenshots are kept under test-artifacts/ (gitignored): watchlist_map.png, watchlist_drawn_area.png."""

from __future__ import annotations

import io
import time

import pytest
import shapely
from django.core.management import call_command

from accounts.services import token_create
from tests.e2e.browser import headless_chromium
from tests.e2e.stack import REPO
from watchlists.models import Match, WatchList
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


def test_a_member_reads_and_adds_a_records_comments(live_server, browser, geo, taxa, users, tmp_path):
    """Input: alice's list with bob as a member, one imported record with alice's comment; bob
    opens the record, reads the comment and posts "Trap set <b>here</b>" (shown as text)."""
    from watchlists.models import MatchComment

    watch_list = watch_list_create(owner=users["alice"], name="Square watch", geometry=SQUARE, taxa=["Testus"])
    watch_list.members.add(users["bob"])
    download = tmp_path / "simple.csv"
    download.write_text(
        "gbifID\tdatasetKey\toccurrenceID\tspecies\tdecimalLatitude\tdecimalLongitude\teventDate\tlicense\n"
        "1\tds\tocc-1\tTestus invasor\t2\t2\t2024-05-01\tCC0_1_0\n"
    )
    call_command("import_occurrences", str(download), stdout=io.StringIO())
    match = Match.objects.get(watch_list=watch_list)
    MatchComment.objects.create(match=match, author=users["alice"], text="Seen near the weir")
    _, key = token_create(user=users["bob"])

    browser.get(f"{live_server.url}/watchlists/")
    browser.execute_script("localStorage.setItem('rangewatch.token', arguments[0])", key)
    browser.get(f"{live_server.url}/watchlists/{watch_list.pk}/")
    wait_until(browser, "return document.querySelectorAll('#matches tbody tr').length === 1", "the records table")
    assert browser.find_element("css selector", "#matches tbody tr td:last-child").text == "1"
    browser.find_element("css selector", "#matches tbody tr").click()
    wait_until(
        browser,
        "return [...document.querySelectorAll('#comments li')].some(li => li.textContent.includes('alice: Seen near the weir'))",
        "alice's comment",
    )
    browser.execute_script(
        "const f = document.getElementById('comment-form'); f.text.value = 'Trap set <b>here</b>'; f.requestSubmit();"
    )
    wait_until(
        browser,
        "return [...document.querySelectorAll('#comments li')].some(li => li.textContent.includes('bob: Trap set <b>here</b>'))",
        "bob's comment, as text",
    )
    assert not browser.find_elements("css selector", "#comments b")
    assert [(c.author.username, c.text) for c in MatchComment.objects.filter(match=match)] == [
        ("alice", "Seen near the weir"),
        ("bob", "Trap set <b>here</b>"),
    ]


def test_an_owner_draws_a_polygon_on_the_map_and_the_list_is_made_from_it(
    live_server, browser, geo, taxa, users, tmp_path, eager_celery
):
    """Terra Draw on the "New list" map: a square clicked around (2, 2) and closed on its first corner,
    a triangle closed with Enter; the list is created with both as its area (POST geometry) and takes
    the record already inside."""
    download = tmp_path / "simple.csv"
    download.write_text(
        "gbifID\tdatasetKey\toccurrenceID\tspecies\tdecimalLatitude\tdecimalLongitude\teventDate\tlicense\n"
        "1\tds\tocc-1\tTestus invasor\t2\t2\t2024-05-01\tCC0_1_0\n"  # inside the corners drawn below
        "2\tds\tocc-2\tTestus invasor\t6\t6\t2024-05-02\tCC0_1_0\n"  # in AAA, outside them
    )
    call_command("import_occurrences", str(download), stdout=io.StringIO())
    _, key = token_create(user=users["alice"])
    browser.get(f"{live_server.url}/watchlists/")
    browser.execute_script("localStorage.setItem('rangewatch.token', arguments[0])", key)
    browser.get(f"{live_server.url}/watchlists/")
    browser.find_element("css selector", "#new-list summary").click()
    wait_until(browser, "return !!window.watchDraw && !document.getElementById('draw-polygon').disabled", "Terra Draw")
    browser.execute_script("window.drawMap.jumpTo({center: [2, 2], zoom: 5})")
    wait_until(browser, "return window.drawMap.loaded()", "the drawing map at (2, 2)")
    browser.find_element("id", "draw-polygon").click()

    canvas = browser.find_element("css selector", "#draw-map canvas")
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    def click_corners(corners):
        # Pixel offsets from the canvas's centre (Selenium's origin for an element) of each corner.
        offsets = browser.execute_script(
            "const m = window.drawMap, c = m.getCanvas(), w = c.clientWidth / 2, h = c.clientHeight / 2;"
            " return arguments[0].map(([lon, lat]) => { const p = m.project([lon, lat]);"
            " return [Math.round(p.x - w), Math.round(p.y - h)]; });",
            corners,
        )
        for x, y in offsets:
            ActionChains(browser).move_to_element_with_offset(canvas, x, y).pause(0.2).click().pause(0.3).perform()

    # A square around the record at (2, 2), closed by clicking its first corner again...
    click_corners([[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]])
    wait_until(
        browser, "return document.getElementById('draw-status').textContent === '1 polygon drawn'", "the closed polygon"
    )
    # ...and a triangle away from the records, closed with Enter (as the form's hint says).
    click_corners([[4, 1], [5.5, 1], [4.75, 2.5]])
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    wait_until(
        browser, "return document.getElementById('draw-status').textContent === '2 polygons drawn'", "the triangle"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "watchlist_drawn_area.png"))

    browser.execute_script(
        "const f = document.getElementById('create-form'); f.name.value = 'Drawn pond';"
        " f.rule.value = 'invasive_here'; f.requestSubmit();"
    )
    wait_until(
        browser,
        "return [...document.querySelectorAll('#lists li')].some(li => li.textContent === 'Drawn pond')"
        " && document.getElementById('list-name').textContent === 'Drawn pond'"
        " && document.querySelectorAll('#matches tbody tr').length === 1",
        "the new list, selected, with its one record",
    )
    assert browser.find_element("id", "create-error").text == ""
    watch_list = WatchList.objects.get(name="Drawn pond")
    assert watch_list.owner == users["alice"] and watch_list.rule == "invasive_here"
    area = shapely.geometry.shape(watch_list.area_display)
    # The two drawn polygons, one area; the clicked pixels are the corners to within a pixel (~0.02° at zoom 5).
    drawn = shapely.union_all([shapely.box(1, 1, 3, 3), shapely.Polygon([(4, 1), (5.5, 1), (4.75, 2.5)])])
    assert area.geom_type == "MultiPolygon" and area.symmetric_difference(drawn).area < 0.3
    matched = Match.objects.filter(watch_list=watch_list).values_list("occurrence__occurrence_id", flat=True)
    assert list(matched) == ["occ-1"]
    assert browser.find_element("id", "draw-status").text == "no area drawn"  # cleared for the next list
    # The vendored Terra Draw runs under the page's Content-Security-Policy (no eval, no inline style).
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not [m for m in errors if "Content Security Policy" in m], errors
