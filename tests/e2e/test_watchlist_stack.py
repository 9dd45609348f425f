"""Issue 26's "done when", on real processes: the stack started by backend.launcher (migrate,
bootstrap with the starter pack's regions, statuses and model, one worker, the web server), driven
over HTTP and by manage.py commands run as the operator runs them:

- a list over Belgium (region BEL) with the rule invasive_here, made through the API;
- a GBIF simple download of invasive and native animals in Belgium and elsewhere, imported with
  `manage.py import_occurrences`; the list's matches are exactly the invasive records inside Belgium;
- `manage.py send_watchlist_digests --frequency daily` (file-based e-mail backend) writes one digest
  listing them, whose List-Unsubscribe one-click link works over HTTP without login;
- a status change and "mark seen" persist (read back through the API);
- an upload in Belgium that an expert's review puts on the list, and the expert's correction (a
  second review through the API) takes it off again.

In the starter pack the animals alien in Belgium are the American bullfrog and the pond slider; the
shared photos show neither, so the upload is an elephant photo whose taxon the expert names.
"""

from __future__ import annotations

import email
import email.policy
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.conftest import shared_path
from tests.e2e.stack import REPO, reachable, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REVIEWER, PASSWORD = "watch-expert", "an expert's long pass phrase 26"
HEADER = (
    "gbifID\tdatasetKey\toccurrenceID\tkingdom\tspecies\tscientificName\tdecimalLatitude\tdecimalLongitude\t"
    "occurrenceStatus\teventDate\tlicense\trightsHolder\tcoordinateUncertaintyInMeters\n"
)
# (species, latitude, longitude, the starter pack's verdict there, where the test checks it);
# gbifID 1001.. in this order.
ROWS = [
    ("Lithobates catesbeianus", 50.85, 4.35, "invasive"),  # Brussels: invasive in Belgium
    ("Trachemys scripta", 51.05, 3.72, "invasive"),  # Ghent: invasive in Belgium
    ("Vulpes vulpes", 50.63, 5.57, "native"),  # Liège: native
    ("Trachemys scripta", 48.85, 2.35, "invasive"),  # Paris: invasive, but outside the area
    ("Vulpes vulpes", 45.76, 4.83, "native"),  # Lyon: native, outside
    ("Lithobates catesbeianus", 39.96, -83.0, None),  # Columbus, Ohio: in its native range, outside
]
INSIDE_INVASIVE = {"d-1:urn:rw26:1", "d-1:urn:rw26:2"}
FILE_EMAIL = "django.core.mail.backends.filebased.EmailBackend"


def gbif_simple_download(path: Path) -> None:
    """GBIF's simple download: tab-separated, Darwin Core column names, one record a line."""
    lines = [HEADER]
    for i, (name, lat, lon, _) in enumerate(ROWS, start=1):
        lines.append(
            f"{1000 + i}\td-1\turn:rw26:{i}\tAnimalia\t{name}\t{name}\t{lat}\t{lon}\tPRESENT\t"
            f"2024-05-{i:02d}\tCC_BY_4_0\tObserver {i}\t10\n"
        )
    path.write_text("".join(lines), encoding="utf-8")


def manage(stack, *args: str, **env: str) -> str:
    """A manage.py command as a process of its own, with the stack's settings and `env` on top."""
    out = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env={**stack.env, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def mails_in(directory: Path) -> list[email.message.EmailMessage]:
    """The messages Django's file-based backend wrote (each followed by a line of 79 dashes)."""
    messages = []
    for path in sorted(directory.glob("*.log")) if directory.exists() else []:
        for part in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if part.strip():
                messages.append(email.message_from_bytes(part, policy=email.policy.default))
    return messages


class Api:
    def __init__(self, base_url: str, token: str):
        self.base_url, self.headers = base_url, {"Authorization": f"Token {token}"}

    def __call__(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, self.base_url + path, headers=self.headers, timeout=60, **kwargs)

    def until(self, path: str, holds, what: str, timeout: float = 120) -> dict:
        """GET `path` until `holds(body)`: the worker matches uploads after the request has answered."""
        deadline = time.monotonic() + timeout
        while True:
            body = self("GET", path).json()
            if holds(body):
                return body
            assert time.monotonic() < deadline, f"{what}: never came; last answer {body}"
            time.sleep(0.5)


def record_ids(page: dict) -> set[str]:
    return {m["record_id"] for m in page["results"]}


def exercise(stack, tmp_path: Path) -> None:
    owner = Api(stack.base_url, stack.token)  # the demo user (demo@example.org), made by bootstrap
    # The starter pack's verdicts at the download's points, over HTTP: the world the list runs on.
    for name, lat, lon, expected in [row for row in ROWS if row[3]]:
        verdict = stack.get("/api/v1/check/", taxon=name, lat=lat, lon=lon).json()["verdict"]["status"]
        assert verdict == expected, (name, lat, lon, verdict)

    created = owner(
        "POST",
        "/api/v1/watchlists/",
        json={"name": "Belgium invaders", "regions": ["BEL"], "rule": "invasive_here", "frequency": "daily"},
    )
    assert created.status_code == 201, created.text
    list_id = created.json()["id"]
    matches = f"/api/v1/watchlists/{list_id}/matches/"

    download = tmp_path / "0012345-260101000000000.csv"
    gbif_simple_download(download)
    report = json.loads(manage(stack, "import_occurrences", str(download)).strip().splitlines()[-1])
    assert report["read"] == len(ROWS) and report["created"] == len(ROWS), report
    page = owner("GET", matches).json()
    assert record_ids(page) == INSIDE_INVASIVE  # exactly the invasive records inside Belgium
    assert {m["verdict"] for m in page["results"]} == {"invasive"}
    assert all(m["license"] == "CC_BY_4_0" and m["citation"] for m in page["results"])

    # The digest, written by the file-based backend: one e-mail, both records, the links.
    outbox = tmp_path / "digests"
    digest_env = {
        "DJANGO_EMAIL_BACKEND": FILE_EMAIL,
        "EMAIL_FILE_PATH": str(outbox),
        "RANGEWATCH_PUBLIC_BASE_URL": stack.base_url,
    }
    assert manage(stack, "send_watchlist_digests", "--frequency", "daily", **digest_env).strip() == (
        "1 digest e-mail(s) sent"
    )
    (digest,) = mails_in(outbox)
    assert digest["To"] == "demo@example.org"
    assert digest["Subject"] == "[RangeWatch] Belgium invaders: 2 new record(s)"
    text = digest.get_body(preferencelist=("plain",)).get_content()
    html = digest.get_body(preferencelist=("html",)).get_content()
    assert "Lithobates catesbeianus (1)" in text and "Trachemys scripta (1)" in text
    assert "https://www.gbif.org/occurrence/1001" in text and "https://www.gbif.org/occurrence/1002" in text
    assert "Vulpes vulpes" not in text and "occurrence/1004" not in text
    assert "<em>Trachemys scripta</em> (1)" in html
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = str(digest["List-Unsubscribe"]).strip().strip("<>")  # the header may be folded
    assert unsubscribe.startswith(stack.base_url + "/") and unsubscribe in text

    # One-click unsubscribe over HTTP: no login, no cookie, no CSRF token (RFC 8058); a GET only asks.
    asked = requests.get(unsubscribe, timeout=30)
    assert asked.status_code == 200 and "Belgium invaders" in asked.text and "Unsubscribe</button>" in asked.text
    done = requests.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}, timeout=30)
    assert done.status_code == 200 and "no longer receive the digest" in done.text

    # Triage: a status with a note, and "mark seen", persist.
    first = min(m["id"] for m in page["results"])
    patched = owner("PATCH", f"{matches}{first}/", json={"status": "managed", "note": "pond drained by the team"})
    assert patched.status_code == 200 and patched.json()["status"] == "managed", patched.text
    assert owner("POST", f"{matches}seen/", json={"all": True}).json() == {"matches": 2, "seen": True}
    again = owner("GET", f"{matches}{first}/").json()
    assert again["status"] == "managed" and again["note"] == "pond drained by the team" and again["seen"]
    assert [h["status"] for h in again["history"]] == ["managed"]
    assert owner("GET", matches, params={"seen": "false"}).json()["results"] == []
    assert first not in {m["id"] for m in owner("GET", matches, params={"view": "new"}).json()["results"]}

    # An upload in Brussels: the starter model sees elephants, not an alien here, so not on the list.
    answer = stack.upload(
        shared_path("photos", "speciesnet_test_images", "african_elephants.jpg"), latitude=50.85, longitude=4.35
    )
    assert answer.status_code in (200, 202), answer.text
    upload = answer.json() if answer.json()["status"] == "done" else stack.result(answer.headers["Location"])
    assert upload["status"] == "done" and upload["verdict"]["status"] not in ("invasive", "introduced"), upload
    expert = expert_api(stack)
    # The expert names it a pond slider: invasive in Belgium, so the worker puts it on the list.
    review = f"/api/v1/observations/{upload['id']}/review/"
    reviewed = expert("POST", review, json={"decision": "confirm", "taxon": "Trachemys scripta"})
    assert reviewed.status_code == 200, reviewed.text
    listed = owner.until(matches, lambda body: len(body["results"]) == 3, "the reviewed upload on the list")
    (on_list,) = [m for m in listed["results"] if m["source"] == "uploads"]
    assert on_list["taxon"] == "Trachemys scripta" and on_list["verdict"] == "invasive"

    # Unsubscribed: a new record, and yet no digest goes out.
    assert manage(stack, "send_watchlist_digests", "--frequency", "daily", **digest_env).strip() == (
        "0 digest e-mail(s) sent"
    )
    assert len(mails_in(outbox)) == 1

    # The correction: the expert reviews again, a red fox (native here); the worker takes it off.
    corrected = expert(
        "POST",
        review,
        json={"decision": "confirm", "taxon": "Vulpes vulpes", "note": "a red fox, not a slider"},
    )
    assert corrected.status_code == 200, corrected.text
    left = owner.until(matches, lambda body: len(body["results"]) == 2, "the corrected upload off the list")
    assert record_ids(left) == INSIDE_INVASIVE
    assert owner("GET", f"{matches}{first}/").json()["status"] == "managed"  # the triage is untouched


def expert_api(stack) -> Api:
    """A reviewer: the account made as an administrator makes one (the group), the token by logging in."""
    manage(
        stack,
        "shell",
        "-c",
        (
            "from django.contrib.auth.models import Group, User; "
            f"u = User.objects.create_user({REVIEWER!r}, password={PASSWORD!r}); "
            "u.groups.add(Group.objects.get_or_create(name='reviewers')[0])"
        ),
    )
    login = requests.post(
        f"{stack.base_url}/api/v1/auth/login/", json={"username": REVIEWER, "password": PASSWORD}, timeout=30
    )
    assert login.status_code == 200, login.text
    return Api(stack.base_url, login.json()["token"])


def test_production_topology_postgres_and_redis(tmp_path):
    shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")
    if not (reachable("127.0.0.1", 5432) and reachable("127.0.0.1", 6379)):
        pytest.skip("needs PostgreSQL and Redis on 127.0.0.1 (CI starts them)")
    import psycopg
    import redis

    name = f"rangewatch_wl_{uuid.uuid4().hex[:8]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    redis.Redis(db=11).flushdb()  # a database of its own: test_end_to_end flushes 9
    mail = {"DJANGO_EMAIL_BACKEND": FILE_EMAIL, "EMAIL_FILE_PATH": str(tmp_path / "stack-mail")}
    try:
        with running_stack(
            tmp_path,
            database_url=f"postgres://postgres@127.0.0.1:5432/{name}",
            broker_url="redis://127.0.0.1:6379/11",
            extra_env=mail,
        ) as stack:
            exercise(stack, tmp_path)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_embedded_default_sqlite_and_filesystem_broker(tmp_path):
    shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")
    mail = {"DJANGO_EMAIL_BACKEND": FILE_EMAIL, "EMAIL_FILE_PATH": str(tmp_path / "stack-mail")}
    with running_stack(tmp_path, database_url=None, broker_url=None, extra_env=mail) as stack:
        exercise(stack, tmp_path)
