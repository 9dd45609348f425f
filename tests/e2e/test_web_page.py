"""The web page at / in headless Chromium against a live stack: log in, upload a photo, read the verdict.

Needs Debian's `chromium` and `chromium-driver` (.ci/run installs them); skips with the reason otherwise.
The screenshots are kept under test-artifacts/ (gitignored).
"""
import os
import shutil
import time

import pytest

from tests.conftest import shared_path
from tests.e2e.stack import REPO, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
PHONE = (390, 844)  # a phone-sized viewport, CSS pixels


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs the selenium package (requirements-dev.txt)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--window-size={PHONE[0]},{PHONE[1]}",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_window_size(*PHONE)
    yield driver
    driver.quit()


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


def log_in(driver, stack):
    from selenium.webdriver.common.by import By

    driver.get(stack.base_url + "/")
    wait_until(driver, lambda d: d.find_element(By.ID, "auth").is_displayed() or d.find_element(By.ID, "report").is_displayed(), 30, "the page")
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
    wait_until(browser, lambda d: result(d).is_displayed() and result(d).get_attribute("data-status") == "done", what="the result card")
    assert result(browser).get_attribute("data-verdict") == "native"
    assert "Native here" in browser.find_element(By.ID, "result-verdict").text and "Tanzania" in browser.find_element(By.ID, "result-verdict").text
    assert "elephant" in browser.find_element(By.ID, "result-species").text.lower()
    assert "% confident" in browser.find_element(By.ID, "result-confidence").text
    assert browser.find_element(By.ID, "result-facts").is_displayed()
    assert browser.find_element(By.ID, "result-photo").is_displayed()
    # Phone-sized: nothing wider than the screen.
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")

    ARTIFACTS.mkdir(exist_ok=True)
    browser.execute_script("document.getElementById('result').scrollIntoView()")
    browser.save_screenshot(str(ARTIFACTS / "web_page_native_result.png"))

    # The history lists the report; opening it shows the same card.
    wait_until(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#history .history-row")) >= 1, 30, "the history")
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
    wait_until(browser, lambda d: d.find_element(By.ID, "result").get_attribute("data-verdict") == "uncertain", what="the please-verify card")
    assert browser.find_element(By.ID, "result-alert").is_displayed()
    links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#contacts a")]
    assert any(h.startswith("tel:+1888") for h in links), links
    assert "Florida" in browser.find_element(By.ID, "result-explanation").text
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "web_page_alert_result.png"))
