"""Batch identify as a camera-trap team runs it, against a live server: interrupted by a real SIGKILL
and run again, every image becomes exactly one observation; the result files are checked."""

import json
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import pytest
import requests

from mobile_client_stub.batch import JOURNAL_FILE
from tests.conftest import shared_path
from tests.e2e.stack import REPO
from tests.mobile_client_stub.conftest import Phone, make_card, read_batch_outputs

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SERENGETI = ("--lat", "-2.33", "--lon", "34.83")


@pytest.fixture
def team(live_stack, tmp_path, worker_stays_up):
    """A fresh account, so that its observations on the server are exactly what this test sent."""
    username = f"trap{uuid.uuid4().hex[:12]}"
    answer = requests.post(
        f"{live_stack.base_url}/api/v1/auth/register/",
        timeout=30,
        json={"username": username, "password": "camera trap pass phrase 42"},
    )
    assert answer.status_code in (200, 201), answer.text
    device = Phone(live_stack, tmp_path / "laptop", answer.json()["token"])
    device.username = username
    return device


def server_observations(stack, username: str) -> dict[str, int]:
    """Idempotency-Key -> number of observations, for everything the account has on the server."""
    code = (
        "import json; from collections import Counter; from observations.models import Observation; "
        f"print(json.dumps(Counter(Observation.objects.filter(owner__username={username!r})"
        ".values_list('idempotency_key', flat=True))))"
    )
    return json.loads(stack.manage("shell", "-v0", "-c", code).strip().splitlines()[-1])


def journal_states(out_dir) -> dict[str, int]:
    try:
        db = sqlite3.connect(f"file:{out_dir / JOURNAL_FILE}?mode=ro", uri=True, timeout=5)
        return dict(db.execute("SELECT state, COUNT(*) FROM image GROUP BY state").fetchall())
    except sqlite3.OperationalError:  # not created yet
        return {}


def journal_uploads(out_dir) -> dict[str, int]:
    db = sqlite3.connect(out_dir / JOURNAL_FILE)
    return dict(db.execute("SELECT filepath, uploads FROM image").fetchall())


def test_sigkill_mid_batch_then_rerun_sends_each_image_exactly_once(live_stack, team, tmp_path):
    card = make_card(tmp_path / "card" / "100RECNX", 60, seed=1)
    out = tmp_path / "results"
    args = (
        "identify",
        str(tmp_path / "card"),
        *SERENGETI,
        "--out",
        str(out),
        "--concurrency",
        "2",
        "--max-queued",
        "8",
    )

    client = team.start(*args)
    deadline = time.monotonic() + 120
    while journal_states(out).get("done", 0) < 5 and time.monotonic() < deadline and client.poll() is None:
        time.sleep(0.02)
    client.send_signal(signal.SIGKILL)  # a real kill: no handler, no cleanup, mid-way
    client.communicate()
    at_kill = journal_states(out)
    assert client.returncode == -signal.SIGKILL
    assert at_kill.get("done", 0) >= 5 and sum(at_kill.values()) < len(card), at_kill  # killed mid-way
    finished_before = [
        row[0]
        for row in sqlite3.connect(out / JOURNAL_FILE).execute(
            "SELECT filepath FROM image WHERE state IN ('done', 'accepted')"
        )
    ]

    rerun = team.run(*args)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "were finished by an earlier run" in rerun.stdout

    on_server = server_observations(live_stack, team.username)
    assert len(on_server) == len(card) and set(on_server.values()) == {1}  # one observation per image, nothing else
    uploads = journal_uploads(out)
    assert all(uploads[f] == 1 for f in finished_before)  # accepted before the kill: never sent again
    rows, predictions = read_batch_outputs(out)
    assert len(rows) == len(card) and {r["status"] for r in rows} == {"done"}
    assert len({r["observation_id"] for r in rows}) == len(card)
    assert {f"sha256:{r['sha256']}" for r in rows} == set(on_server)


def test_killed_after_the_server_accepted_but_before_the_journal_knew_then_resent_with_the_same_key(
    live_stack, team, tmp_path
):
    """The worst moment: the upload reached the server, the client died before writing it down."""
    card = make_card(tmp_path / "card", 6, seed=2)
    out = tmp_path / "results"
    argv = ["identify", str(tmp_path / "card"), *SERENGETI, "--out", str(out), "--concurrency", "1"]
    crash = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import os, signal, sys\n"
                "from mobile_client_stub import cli, journal\n"
                "accepted = journal.BatchJournal.mark_accepted\n"
                "def die_on_the_third(self, path, observation_id, calls=[]):\n"
                "    calls.append(path)\n"
                "    if len(calls) == 3:\n"
                "        os.kill(os.getpid(), signal.SIGKILL)\n"
                "    accepted(self, path, observation_id)\n"
                "journal.BatchJournal.mark_accepted = die_on_the_third\n"
                f"sys.exit(cli.main({argv!r}))\n"
            ),
        ],
        cwd=REPO,
        env=team.env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert crash.returncode == -signal.SIGKILL, crash.stdout + crash.stderr
    journal = sqlite3.connect(out / JOURNAL_FILE)
    [(unrecorded,)] = journal.execute("SELECT filepath FROM image WHERE state = 'sending'").fetchall()
    sent_so_far = [sha for (sha,) in journal.execute("SELECT sha256 FROM image")]
    assert len(sent_so_far) == 3  # two recorded as accepted, the third only as sending...
    assert server_observations(live_stack, team.username) == {
        f"sha256:{sha}": 1 for sha in sent_so_far
    }  # ...yet on the server

    rerun = team.run(*argv)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    on_server = server_observations(live_stack, team.username)
    assert len(on_server) == len(card) and set(on_server.values()) == {1}
    assert journal_uploads(out)[unrecorded] == 2  # sent twice, one observation: the key named it
    rows, _ = read_batch_outputs(out)
    assert {r["status"] for r in rows} == {"done"}


def test_two_hundred_images_with_bounded_concurrency(live_stack, team, tmp_path):
    card = make_card(tmp_path / "card", 200, seed=3)
    out = tmp_path / "results"
    run = team.run(
        "identify",
        str(tmp_path / "card" / "*.JPG"),
        *SERENGETI,
        "--out",
        str(out),
        "--concurrency",
        "4",
        "--timeout",
        "60",
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "200 image(s) found; in the results: 200 identified." in run.stdout
    rows, predictions = read_batch_outputs(out)
    assert len(rows) == 200 and {r["status"] for r in rows} == {"done"}
    assert {(r["latitude"], r["longitude"], r["location_source"]) for r in rows} == {("-2.33", "34.83", "typed")}
    assert all(p["model_version"] and "classifications" in p for p in predictions)
    on_server = server_observations(live_stack, team.username)
    assert len(on_server) == len(card) and set(on_server.values()) == {1}
    assert set(journal_uploads(out).values()) == {1}

    again = team.run("identify", str(tmp_path / "card" / "*.JPG"), *SERENGETI, "--out", str(out))
    assert again.returncode == 0 and "This run sent 0, finished 0; 200 were finished by an earlier run." in again.stdout


def test_the_mica_camtrap_dp_package_is_placed_by_its_deployments(live_stack, team, tmp_path):
    package = shared_path("photos", "mica_invasive_camtrap_sample")
    out = tmp_path / "results"
    run = team.run(
        "identify", str(package / "media"), "--deployments", str(package / "deployments.csv"), "--out", str(out)
    )
    assert run.returncode == 0, run.stdout + run.stderr
    rows, predictions = read_batch_outputs(out)
    assert len(rows) == 10 and {r["status"] for r in rows} == {"done"}
    assert {(r["deployment_id"], r["latitude"], r["longitude"], r["location_source"]) for r in rows} == {
        ("62c200a9", "50.699", "4.013", "deployment")
    }
    assert {r["region"] for r in rows} == {"Belgium"}
    assert rows[0]["observed_at"] == "2021-04-11T20:43:09+01:00"  # media.csv's time, not the camera's zone-less EXIF
    assert {p["rangewatch"]["deployment_id"] for p in predictions} == {"62c200a9"}


def test_images_no_deployment_names_are_not_sent_and_say_why(live_stack, team, tmp_path):
    make_card(tmp_path / "cards" / "S1", 2, seed=4)
    make_card(tmp_path / "cards" / "unlisted", 1, seed=5)
    (tmp_path / "deployments.csv").write_text("folder,latitude,longitude\nS1,-2.33,34.83\n")
    out = tmp_path / "results"
    run = team.run(
        "identify", str(tmp_path / "cards"), "--deployments", str(tmp_path / "deployments.csv"), "--out", str(out)
    )
    assert run.returncode == 1 and "run the same command again" in run.stdout, run.stdout + run.stderr
    rows, _ = read_batch_outputs(out)
    assert [(r["status"], r["error_code"]) for r in rows] == [("done", ""), ("done", ""), ("not_sent", "no_deployment")]
    assert len(server_observations(live_stack, team.username)) == 2

    bad = team.run("identify", str(tmp_path / "cards"), "--deployments", str(tmp_path / "missing.csv"))
    assert bad.returncode == 2 and "Cannot use the deployments" in bad.stderr


def test_with_the_worker_down_results_stay_accepted_and_the_next_run_collects_them_without_resending(
    live_stack, team, tmp_path
):
    card = make_card(tmp_path / "card", 12, seed=6)
    out = tmp_path / "results"
    args = ("identify", str(tmp_path / "card"), *SERENGETI, "--out", str(out), "--timeout", "3")
    live_stack.stop_worker()
    try:
        started = time.monotonic()
        waiting = team.run(*args)
        # One wait of --timeout for the first job, then one look each: not 12 x 3 s.
        assert time.monotonic() - started < 30
    finally:
        live_stack.start_worker()
    assert waiting.returncode == 1 and "did not come in time" in waiting.stdout, waiting.stdout + waiting.stderr
    assert journal_states(out) == {"accepted": len(card)}
    rows, predictions = read_batch_outputs(out)
    assert {r["status"] for r in rows} == {"pending"} and {p["failures"][0] for p in predictions} == {"PENDING"}

    collected = team.run(*args[:-2], "--timeout", "120")
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert "This run sent 0, finished 12." in collected.stdout
    assert set(journal_uploads(out).values()) == {1}
    assert len(server_observations(live_stack, team.username)) == len(card)


def project_frames(stack, name: str) -> dict[str, list]:
    """deploymentID -> [(batch queue?, idempotency key)] for the project's frames on the server."""
    code = (
        "import json; from cameratraps.models import Media; "
        f"rows = Media.objects.filter(project__name={name!r}).values_list("
        "'deployment__deployment_id', 'observation__batch', 'observation__idempotency_key'); "
        "out = {}; [out.setdefault(d, []).append([b, k]) for d, b, k in rows]; print(json.dumps(out))"
    )
    return json.loads(stack.manage("shell", "-v0", "-c", code).strip().splitlines()[-1])


def test_a_card_sent_into_a_project_uses_its_deployments_and_the_batch_queue(live_stack, team, tmp_path):
    name = f"marsh-{uuid.uuid4().hex[:8]}"
    created = requests.post(
        f"{live_stack.base_url}/api/v1/projects/",
        json={"name": name},
        headers={"Authorization": f"Token {team.env['RANGEWATCH_TOKEN']}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    make_card(tmp_path / "cards" / "cam1", 3, seed=7)
    first = team.run(
        "identify", str(tmp_path / "cards" / "cam1"), *SERENGETI, "--project", name, "--out", str(tmp_path / "r1")
    )
    assert first.returncode == 0, first.stdout + first.stderr
    rows, _ = read_batch_outputs(tmp_path / "r1")
    assert {(r["status"], r["deployment_id"], r["region"]) for r in rows} == {("done", "cam1", "Tanzania")}
    frames = project_frames(live_stack, name)
    assert list(frames) == ["cam1"] and len(frames["cam1"]) == 3 and all(batch for batch, _ in frames["cam1"])

    # A later card without coordinates: cam1's frames are placed at the deployment the server knows
    # (and, being the same files, are the same observations); cam2 is new and nowhere: refused, saying so.
    make_card(tmp_path / "cards" / "cam2", 1, seed=8)
    second = team.run("identify", str(tmp_path / "cards"), "--project", name, "--out", str(tmp_path / "r2"))
    assert second.returncode == 0 and "3 identified, 1 refused at upload" in second.stdout, (
        second.stdout + second.stderr
    )
    rows, _ = read_batch_outputs(tmp_path / "r2")
    by_folder = {(r["deployment_id"], r["status"], r["error_code"], r["region"]) for r in rows}
    assert by_folder == {("cam1", "done", "", "Tanzania"), ("cam2", "rejected", "unknown_deployment", "")}
    assert {d: len(f) for d, f in project_frames(live_stack, name).items()} == {"cam1": 3}

    unknown = team.run("identify", str(tmp_path / "cards"), *SERENGETI, "--project", "no-such-project")
    assert unknown.returncode == 2 and "No project 'no-such-project'" in unknown.stderr
