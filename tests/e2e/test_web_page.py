"""The web pages in headless Chromium against a live stack: log in, upload a photo, read the verdict and
its map; the species page's map; the admin's region map.

Needs Debian's `chromium` and `chromium-driver` (.ci/run installs them); skips with the reason otherwise.
The screenshots are kept under test-artifacts/ (gitignored): web_page_native_result.png,
web_page_alert_result.png, species_page_map.png, admin_region_map.png.
"""

import os
import time

import pytest

from tests.conftest import shared_path
from tests.e2e.browser import headless_chromium
from tests.e2e.stack import REPO, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ARTIFACTS = REPO / "test-artifacts"
PHONE = (390, 844)  # a phone-sized viewport, CSS pixels


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with headless_chromium(tmp_path_factory.mktemp("chromium-profile"), PHONE) as driver:
        yield driver


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")
    with running_stack(tmp_path_factory.mktemp("web-stack"), database_url=None, broker_url=None) as live:
        yield live


def wait_until(driver, predicate, timeout=150, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate(driver):
            return
        time.sleep(0.25)
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "web_page_timeout.png"))
    logs = driver.get_log("browser") if hasattr(driver, "get_log") else []
    raise AssertionError(f"timed out waiting for {what}; browser log: {logs}")


def map_layers(driver, selector: str) -> dict:
    """What Leaflet drew in the map at `selector`: SVG paths per RangeMap class, and the legend's entries."""
    return driver.execute_script(
        """
        const map = document.querySelector(arguments[0]);
        const count = (cls) => map.querySelectorAll("path." + cls).length;  // overlays and the base pane
        return {
          ready: map.dataset.ready || "",
          leaflet: map.classList.contains("leaflet-container"),
          base: count("rm-base"), native: count("rm-native"), alien: count("rm-alien"),
          verdict: count("rm-verdict"), region: count("rm-region"), point: count("rm-point"),
          legend: [...map.querySelectorAll(".rm-legend .rm-legend-item")].map((item) => item.dataset.layer),
        };
        """,
        selector,
    )


def wait_for_map(driver, selector: str) -> dict:
    drawn = "const map = document.querySelector(arguments[0]); return !!map && map.dataset.ready"
    wait_until(driver, lambda d: d.execute_script(drawn, selector), 60, f"the map {selector}")
    # The base outlines arrive on their own fetch; the map is usable before, the screenshot wants them.
    wait_until(driver, lambda d: map_layers(d, selector)["base"] > 100, 30, f"the country outlines of {selector}")
    return map_layers(driver, selector)


def screenshot_of(driver, element_id: str, name: str) -> None:
    """The whole element in one phone-wide screenshot: the window grows to its height, then shrinks back."""
    ARTIFACTS.mkdir(exist_ok=True)
    height = driver.execute_script("return document.getElementById(arguments[0]).scrollHeight", element_id)
    driver.set_window_size(PHONE[0], max(PHONE[1], int(height) + 160))
    driver.execute_script("document.getElementById(arguments[0]).scrollIntoView()", element_id)
    time.sleep(0.5)  # Leaflet redraws after the resize
    driver.save_screenshot(str(ARTIFACTS / name))
    driver.set_window_size(*PHONE)


def log_in(driver, stack):
    from selenium.webdriver.common.by import By

    driver.get(stack.base_url + "/")
    wait_until(
        driver,
        lambda d: d.find_element(By.ID, "auth").is_displayed() or d.find_element(By.ID, "report").is_displayed(),
        30,
        "the page",
    )
    if stack.get("/api/v1/auth/register/").status_code == 404:
        # The auth API has not landed here: the page still works with a token it already holds.
        driver.execute_script("localStorage.setItem('rangewatch.token', arguments[0])", stack.token)
        driver.refresh()
    else:
        driver.find_element(By.ID, "username").send_keys(f"web{os.getpid()}")
        driver.find_element(By.ID, "password").send_keys("a long pass phrase 42")
        driver.find_element(By.ID, "register-btn").click()
    wait_until(driver, lambda d: d.find_element(By.ID, "report").is_displayed(), 30, "the report form after logging in")


def test_upload_a_photo_and_see_the_verdict_on_a_phone_sized_screen(browser, stack):
    from selenium.webdriver.common.by import By

    elephant = shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")
    browser.get(stack.base_url + "/")
    assert 'capture="environment"' in browser.page_source and 'accept="image/*"' in browser.page_source
    log_in(browser, stack)

    browser.find_element(By.ID, "photo").send_keys(str(elephant))
    wait_until(browser, lambda d: d.find_element(By.ID, "preview").is_displayed(), 10, "the photo preview")
    browser.find_element(By.ID, "lat").send_keys("-2.33")
    browser.find_element(By.ID, "lon").send_keys("34.83")
    browser.find_element(By.ID, "submit").click()

    result = lambda d: d.find_element(By.ID, "result")  # noqa: E731
    wait_until(
        browser,
        lambda d: result(d).is_displayed() and result(d).get_attribute("data-status") == "done",
        what="the result card",
    )
    assert result(browser).get_attribute("data-verdict") == "native"
    assert (
        "Native here" in browser.find_element(By.ID, "result-verdict").text
        and "Tanzania" in browser.find_element(By.ID, "result-verdict").text
    )
    assert "elephant" in browser.find_element(By.ID, "result-species").text.lower()
    assert "% confident" in browser.find_element(By.ID, "result-confidence").text
    assert browser.find_element(By.ID, "result-facts").is_displayed()
    assert browser.find_element(By.ID, "result-photo").is_displayed()
    # The card's map: the sighting, Tanzania (the verdict's region) and the elephant's native range,
    # over the project's own country outlines (no tile server), with a legend of what is drawn.
    layers = wait_for_map(browser, "#result-map")
    assert layers["leaflet"] and layers["point"] == 1 and layers["verdict"] >= 1
    assert layers["native"] >= 20  # the starter pack's 25 native countries of Loxodonta africana
    assert layers["alien"] == 0
    assert layers["legend"] == ["native", "verdict", "point"]
    assert "/species/" in browser.find_element(By.ID, "result-species-link").get_attribute("href")
    # Phone-sized: nothing wider than the screen.
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")

    screenshot_of(browser, "result", "web_page_native_result.png")

    # The history lists the report; opening it shows the same card.
    wait_until(
        browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#history .history-row")) >= 1, 30, "the history"
    )
    assert "native" in browser.find_element(By.CSS_SELECTOR, "#history .history-row").text


def test_an_alert_shows_contacts_as_tel_and_mailto_links(browser, stack):
    from selenium.webdriver.common.by import By

    elephant = shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")
    browser.get(stack.base_url + "/")
    if not browser.find_element(By.ID, "report").is_displayed():
        log_in(browser, stack)
    browser.find_element(By.ID, "photo").send_keys(str(elephant))
    browser.find_element(By.ID, "lat").send_keys("27.5")
    browser.find_element(By.ID, "lon").send_keys("-81.5")
    browser.find_element(By.ID, "submit").click()
    # Not expected in Florida; the starter model's match is too weak for an alert: "please verify".
    wait_until(
        browser,
        lambda d: d.find_element(By.ID, "result").get_attribute("data-verdict") == "uncertain",
        what="the please-verify card",
    )
    assert browser.find_element(By.ID, "result-alert").is_displayed()
    links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#contacts a")]
    assert any(h.startswith("tel:+1888") for h in links), links
    assert "Florida" in browser.find_element(By.ID, "result-explanation").text
    # Possibly out of range: the sighting in Florida, far from the native range in Africa, both on the map.
    layers = wait_for_map(browser, "#result-map")
    assert layers["point"] == 1 and layers["native"] >= 20 and layers["verdict"] >= 1
    assert layers["legend"] == ["native", "verdict", "point"]
    in_view = browser.execute_script("""
        const box = document.getElementById("result-map").getBoundingClientRect();
        const dot = document.querySelector("#result-map path.rm-point").getBoundingClientRect();
        return dot.left >= box.left && dot.right <= box.right && dot.top >= box.top && dot.bottom <= box.bottom;""")
    assert in_view, "the sighting is inside the map's view"
    screenshot_of(browser, "result", "web_page_alert_result.png")


def test_species_page_maps_native_range_and_alien_records_in_two_colours(browser, stack):
    from selenium.webdriver.common.by import By

    nutria = stack.get("/api/v1/species/", q="Myocastor coypus").json()["results"][0]
    browser.set_window_size(1000, 900)  # a desktop browser: the map fits the range to this width
    browser.get(f"{stack.base_url}/species/{nutria['id']}/")
    layers = wait_for_map(browser, "#species-map")
    # Starter pack: native in South America, invasive in US states and western Europe.
    assert layers["native"] >= 5 and layers["alien"] >= 5
    assert layers["legend"] == ["native", "alien"]
    fills = browser.execute_script("""
        const fill = (cls) => document.querySelector("#species-map path." + cls).getAttribute("fill");
        return [fill("rm-native"), fill("rm-alien")];""")
    assert fills[0] != fills[1], fills
    assert "coypu" in browser.find_element(By.ID, "species-name").text.lower()
    browser.execute_script("window.scrollTo(0, 0)")  # the name, then the map
    time.sleep(0.5)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "species_page_map.png"))
    browser.set_window_size(*PHONE)


def test_admin_region_page_shows_the_region_on_a_map(browser, stack):
    from selenium.webdriver.common.by import By

    stack.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "User.objects.create_superuser('mapadmin', 'maps@example.org', 'a long admin pass 42')",
    )
    browser.set_window_size(1100, 900)
    browser.get(stack.base_url + "/admin/login/")
    browser.find_element(By.ID, "id_username").send_keys("mapadmin")
    browser.find_element(By.ID, "id_password").send_keys("a long admin pass 42")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_until(browser, lambda d: "/admin/login/" not in d.current_url, 30, "the admin after logging in")
    browser.get(stack.base_url + "/admin/ranges/region/?q=TZA")
    browser.find_element(By.LINK_TEXT, "TZA").click()
    layers = wait_for_map(browser, ".rangemap-admin")
    assert layers["leaflet"] and layers["region"] == 1 and layers["legend"] == ["region"]
    # The server-drawn SVG was the fallback: Leaflet replaced it.
    assert not browser.find_elements(By.CSS_SELECTOR, ".rangemap-admin svg.geometry-svg")
    browser.execute_script("document.querySelector('.rangemap-admin').scrollIntoView({block: 'center'})")
    time.sleep(0.3)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "admin_region_map.png"))
    browser.set_window_size(*PHONE)


def test_swagger_ui_runs_under_the_content_security_policy(browser, stack):
    """/api/docs/ sends the site's CSP (scripts from this origin only) and the UI still lists every
    operation: its start-up script is a file of its own, not inline (issue 15: CSP)."""
    import requests
    from selenium.webdriver.common.by import By

    policy = requests.get(stack.base_url + "/api/docs/", timeout=30).headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy + ";" and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(stack.base_url + "/api/docs/")
    wait_until(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock")) > 20, 60, "Swagger")
    violations = [e["message"] for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
    assert not violations, violations
