"""The review desk in headless Chromium against a live stack: a reviewer logs in on the phone page,
sees a queued "please verify" alert with its photo, candidates, verdict, sources and contacts, filters
the queue, confirms the sighting in one click, and the local contact's e-mail goes out.

Needs Debian's `chromium` and `chromium-driver`; skips with the reason otherwise. Screenshots under
test-artifacts/: review_desk.png (the queued alert), review_desk_confirmed.png (after the click).
"""

import json
import time

import pytest

from tests.conftest import shared_path
from tests.e2e.stack import running_stack
from tests.e2e.test_web_page import ARTIFACTS, browser, screenshot_of, wait_until  # noqa: F401 - browser is a fixture

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
By = pytest.importorskip("selenium.webdriver.common.by", reason="needs the selenium package (requirements-dev.txt)").By
Select = pytest.importorskip("selenium.webdriver.support.ui").Select

REVIEWER, PASSWORD = "desk-reviewer", "a long review pass phrase 42"
HOTLINE_EMAIL = "hotline@example.org"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")
    with running_stack(tmp_path_factory.mktemp("desk-stack"), database_url=None, broker_url=None) as live:
        yield live


def upload_elephant_in_florida(stack) -> str:
    elephant = shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")
    answer = stack.upload(elephant, latitude="27.5", longitude="-81.5").json()
    assert answer["status"] == "done" and answer["verdict"]["status"] == "uncertain", answer
    assert answer["alert"]["level"] == "possible"
    return answer["id"]


@pytest.fixture(scope="module")
def queued_alert(stack) -> str:
    """An elephant photographed in Florida by the demo user: not expected there, too weak a match to
    alert at once, so it waits for a reviewer. Florida's hotline takes e-mail in this world."""
    stack.manage(
        "shell",
        "-c",
        (
            "from django.contrib.auth.models import Group, User; from ranges.models import Contact; "
            f"u = User.objects.create_user({REVIEWER!r}, password={PASSWORD!r}); "
            "u.groups.add(Group.objects.get_or_create(name='reviewers')[0]); "
            "Contact.objects.filter(region__code='US-FL', kind='invasive_species_hotline')"
            f".update(email={HOTLINE_EMAIL!r})"
        ),
    )
    return upload_elephant_in_florida(stack)


def sent_deliveries(stack, observation_id: str) -> list[str]:
    out = stack.manage(
        "shell",
        "-c",
        (
            "from alerts.models import AlertDelivery; "
            "import json; "
            f"print(json.dumps(list(AlertDelivery.objects.filter(observation__uuid={observation_id!r}, status='sent')"
            ".values_list('target', flat=True))))"
        ),
    )
    return json.loads(out.strip().splitlines()[-1])


def item_selector(observation_id: str) -> str:
    return f'#desk-queue .review-item[data-id="{observation_id}"]'


def test_a_refused_login_shows_a_sentence_not_a_field_key(browser, stack):  # noqa: F811
    browser.get(stack.base_url + "/")
    wait_until(browser, lambda d: d.find_element(By.ID, "auth").is_displayed(), 30, "the login form")
    browser.find_element(By.ID, "username").send_keys(REVIEWER)
    browser.find_element(By.ID, "password").send_keys("not the password")
    browser.find_element(By.ID, "login-btn").click()
    wait_until(browser, lambda d: d.find_element(By.ID, "auth-error").text, 30, "the login error")
    words = browser.find_element(By.ID, "auth-error").text
    assert "non_field_errors" not in words and "detail" not in words and words[0].isupper(), words
    browser.find_element(By.ID, "password").clear()


def state_of(driver, selector: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, selector).get_attribute("data-state")


def test_a_reviewer_confirms_a_queued_alert_and_its_contact_is_notified(browser, stack, queued_alert):  # noqa: F811
    browser.get(stack.base_url + "/")
    wait_until(browser, lambda d: d.find_element(By.ID, "auth").is_displayed(), 30, "the login form")
    browser.find_element(By.ID, "username").clear()
    browser.find_element(By.ID, "username").send_keys(REVIEWER)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login-btn").click()

    item = item_selector(queued_alert)
    wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, item), 30, "the queued alert on the review desk")
    card = browser.find_element(By.CSS_SELECTOR, item)
    assert card.get_attribute("data-state") == "unreviewed"
    # The photo came through the authorised view as a blob, never a public media URL.
    wait_until(
        browser,
        lambda d: d.execute_script(
            "const img = document.querySelector(arguments[0] + ' .review-photo');"
            "return img && img.complete && img.naturalWidth > 0",
            item,
        ),
        30,
        "the photo",
    )
    assert card.find_element(By.CSS_SELECTOR, ".review-photo").get_attribute("src").startswith("blob:")
    text = card.text
    assert "elephant" in text.lower() and "please verify" in text and "Florida" in text
    assert "not expected here" in text  # the candidates carry expected_here
    assert "Sources" in text and "FWC Exotic Species Hotline" in text  # the verdict's sources and contacts
    confirm = card.find_element(By.CSS_SELECTOR, "button.confirm")
    assert confirm.text.startswith("Confirm ") and confirm.is_enabled()
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")  # phone-wide
    screenshot_of(browser, "review-desk", "review_desk.png")

    # Filters: a taxon it is not keeps it out; its own genus keeps it in.
    Select(browser.find_element(By.ID, "desk-verdict")).select_by_value("native")
    browser.find_element(By.CSS_SELECTOR, "#desk-filters button[type=submit]").click()
    wait_until(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, item), 30, "the queue of native verdicts")
    Select(browser.find_element(By.ID, "desk-verdict")).select_by_value("")
    browser.find_element(By.ID, "desk-taxon").send_keys("Loxodonta")
    browser.find_element(By.CSS_SELECTOR, "#desk-filters button[type=submit]").click()
    wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, item), 30, "the queue filtered to Loxodonta")

    browser.find_element(By.CSS_SELECTOR, f"{item} button.confirm").click()
    wait_until(browser, lambda d: state_of(d, item) == "confirmed", 30, "the confirmation")
    status = browser.find_element(By.CSS_SELECTOR, f"{item} .review-status").text
    assert "Confirmed as" in status and "Out of range here" in status, status
    assert browser.find_element(By.CSS_SELECTOR, f"{item} .review-head .badge").text == "out of range"  # judged again
    assert "notified by e-mail: FWC Exotic Species Hotline" in status, status
    screenshot_of(browser, "review-desk", "review_desk_confirmed.png")

    # What the page said happened did happen: the worker sent the hotline its e-mail.
    deadline = time.monotonic() + 60
    while HOTLINE_EMAIL not in sent_deliveries(stack, queued_alert):
        assert time.monotonic() < deadline, "the hotline's e-mail was never sent"
        time.sleep(1)


def test_a_reviewer_corrects_the_taxon_through_the_species_search(browser, stack):  # noqa: F811
    # Runs after the confirmation above: the reviewer is still logged in on this browser.
    observation_id = upload_elephant_in_florida(stack)
    browser.get(stack.base_url + "/")
    item = item_selector(observation_id)
    wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, item), 30, "the second report on the desk")
    browser.find_element(By.CSS_SELECTOR, f"{item} button.correct").click()
    browser.find_element(By.CSS_SELECTOR, f"{item} .taxon-search input").send_keys("Elephas maximus")
    hit = f"{item} .taxon-search button.hit"
    wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, hit), 30, "the species search's answers")
    pick = browser.find_element(By.CSS_SELECTOR, hit)
    assert "Asian elephant" in pick.text
    pick.click()
    wait_until(browser, lambda d: state_of(d, item) == "confirmed", 30, "the correction")
    status = browser.find_element(By.CSS_SELECTOR, f"{item} .review-status").text
    assert "Confirmed as Asian elephant (Elephas maximus)" in status, status


def test_the_desk_stays_hidden_from_people_who_do_not_review(browser, stack):  # noqa: F811
    browser.get(stack.base_url + "/")
    browser.execute_script("localStorage.setItem('rangewatch.token', arguments[0])", stack.token)  # the demo user
    browser.refresh()
    wait_until(browser, lambda d: d.find_element(By.ID, "report").is_displayed(), 30, "the report form")
    asked = "return performance.getEntriesByType('resource').some((e) => e.name.includes('/review/queue/'))"
    wait_until(browser, lambda d: d.execute_script(asked), 30, "the page asking for the review queue")
    assert not browser.find_element(By.ID, "review-desk").is_displayed()
