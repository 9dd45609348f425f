"""The batch journal's states across runs, and the result files written from it: results.csv's
columns and predictions.json in SpeciesNet's format. The observations are real server answers
(the elephant at Serengeti, a MICA heron frame in Belgium), trimmed."""

import sqlite3

from mobile_client_stub.batch_results import write_results
from mobile_client_stub.journal import BatchJournal, idempotency_key
from tests.mobile_client_stub.conftest import read_batch_outputs

ELEPHANT = {
    "id": "ba63f780-4ab2-4212-a130-c1925aad5d98",
    "status": "done",
    "observed_at": "2010-08-04T08:43:15Z",
    "location": {"latitude": -2.33, "longitude": 34.83, "source": "client", "flags": []},
    "model_version": "starter-imagenet-efficientnet_lite0",
    "predictions": [
        {
            "taxon": {"id": 156, "scientific_name": "Elephantidae", "common_name": "elephants", "rank": "family"},
            "key": "Elephantidae",
            "score": 0.277669,
        },
        {
            "taxon": {
                "id": 475,
                "scientific_name": "Loxodonta africana",
                "common_name": "African bush elephant",
                "rank": "species",
            },
            "key": "Loxodonta africana",
            "score": 0.224715,
        },
        {"taxon": None, "key": "no_animal", "score": 0.0713},
    ],
    "identification": {
        "taxon": {"id": 156, "scientific_name": "Elephantidae", "common_name": "elephants", "rank": "family"},
        "score": 0.554286,
    },
    "verdict": {
        "status": "native",
        "explanation": "Every member of Elephantidae recorded here (Loxodonta africana) is native.",
        "region": {"code": "TZA", "name": "Tanzania", "kind": "country"},
        "regions": [{"code": "TZA", "name": "Tanzania", "kind": "country"}],
        "sources": [],
    },
    "species_info": {"summary": "The elephant family"},
    "alert": None,
    "failure": None,
}
HERON_FRAME = {
    "id": "8b18a408-9326-4ffb-a333-82a32d760d37",
    "status": "done",
    "observed_at": "2021-04-11T19:43:09Z",
    "location": {"latitude": 50.699, "longitude": 4.013, "source": "client", "flags": []},
    "model_version": "starter-imagenet-efficientnet_lite0",
    "predictions": [
        {"taxon": None, "key": "no_animal", "score": 0.260697},
        {
            "taxon": {"id": 437, "scientific_name": "Ciconia nigra", "common_name": "black stork", "rank": "species"},
            "key": "Ciconia nigra",
            "score": 0.110106,
        },
    ],
    "identification": None,
    "verdict": {
        "status": "uncertain",
        "explanation": "The model is not confident (best guess Ciconia nigra at 11%).",
        "region": None,
        "regions": [{"code": "BEL", "name": "Belgium", "kind": "country"}],
        "sources": [],
    },
    "species_info": None,
    "alert": None,
    "failure": None,
}
BLANK = {
    **HERON_FRAME,
    "id": "0c2b7a0e-0000-4000-8000-000000000003",
    "predictions": [{"taxon": None, "key": "no_animal", "score": 0.91}],
    "verdict": {**HERON_FRAME["verdict"], "status": "no_animal"},
}
CORRUPT = {
    **HERON_FRAME,
    "id": "0c2b7a0e-0000-4000-8000-000000000004",
    "status": "failed",
    "predictions": [],
    "verdict": None,
    "model_version": None,
    "failure": {"code": "image_corrupt", "detail": "the image data is truncated"},
}


def _sending(journal, name, sha="ab" * 32, **place):
    place = {"deployment_id": None, "latitude": -2.33, "longitude": 34.83, "location_source": "typed", **place}
    journal.mark_sending(path=f"/card/{name}", filepath=f"card/{name}", sha256=sha, observed_at=None, **place)


def test_journal_states_survive_a_reopen_and_count_every_upload(tmp_path):
    journal = BatchJournal(tmp_path / "journal.sqlite3")
    _sending(journal, "a.jpg")
    journal.mark_accepted("/card/a.jpg", ELEPHANT["id"])
    _sending(journal, "b.jpg", sha="cd" * 32)
    journal.mark_unsent(path="/card/b.jpg", filepath="card/b.jpg", code="unavailable", detail="503 after retries")
    journal.mark_unsent(path="/card/c.jpg", filepath="card/c.jpg", code="unreadable", detail="cannot read this image")
    journal.close()

    reopened = BatchJournal(tmp_path / "journal.sqlite3")  # as the next run finds it
    a, b, c = (reopened.get(f"/card/{n}.jpg") for n in "abc")
    assert (a.state, a.observation_id, a.uploads) == ("accepted", ELEPHANT["id"], 1)
    # b's upload may have reached the server: it stays "sending", to be resent with the same key.
    assert (b.state, b.error_code, b.idempotency_key) == ("sending", "unavailable", "sha256:" + "cd" * 32)
    assert (c.state, c.sha256, c.error_code) == ("unsent", None, "unreadable")
    _sending(reopened, "b.jpg", sha="cd" * 32)
    reopened.mark_done("/card/b.jpg", HERON_FRAME)
    b = reopened.get("/card/b.jpg")
    assert (b.state, b.uploads, b.error_code, b.result["id"]) == ("done", 2, None, HERON_FRAME["id"])
    assert reopened.counts() == {"accepted": 1, "done": 1, "unsent": 1}
    assert idempotency_key("ef" * 32) == "sha256:" + "ef" * 32


def test_the_journal_is_written_in_wal_mode(tmp_path):
    BatchJournal(tmp_path / "journal.sqlite3").close()
    assert sqlite3.connect(tmp_path / "journal.sqlite3").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_results_csv_and_speciesnet_json_cover_every_state(tmp_path):
    journal = BatchJournal(tmp_path / "journal.sqlite3")
    for name, observation in (
        ("1_elephant.jpg", ELEPHANT),
        ("2_heron.jpg", HERON_FRAME),
        ("3_blank.jpg", BLANK),
        ("4_corrupt.jpg", CORRUPT),
    ):
        _sending(journal, name, sha=name[0] * 64, deployment_id="62c200a9", location_source="deployment")
        journal.mark_done(f"/card/{name}", observation)
    _sending(journal, "5_refused.jpg", sha="5" * 64)
    journal.mark_rejected("/card/5_refused.jpg", "unsupported_format", "not an accepted image format")
    _sending(journal, "6_waiting.jpg", sha="6" * 64)
    journal.mark_accepted("/card/6_waiting.jpg", "0c2b7a0e-0000-4000-8000-000000000006")
    journal.mark_unsent(
        path="/card/7_unplaced.jpg", filepath="card/7_unplaced.jpg", code="no_deployment", detail="no deployment"
    )

    tally = write_results(journal.records(), tmp_path)
    rows, predictions = read_batch_outputs(tmp_path)

    assert [r["status"] for r in rows] == ["done", "done", "done", "failed", "rejected", "pending", "not_sent"]
    elephant, heron, blank, corrupt, refused, waiting, unplaced = predictions
    assert (rows[0]["scientific_name"], rows[0]["rank"], rows[0]["verdict"], rows[0]["region"]) == (
        "Elephantidae",
        "family",
        "native",
        "Tanzania",
    )
    assert (
        rows[1]["region"] == "Belgium" and rows[1]["deployment_id"] == "62c200a9"
    )  # the point's region when no verdict region
    assert (rows[3]["error_code"], rows[4]["error_code"], rows[6]["error_code"]) == (
        "image_corrupt",
        "unsupported_format",
        "no_deployment",
    )

    assert elephant["prediction"] == "Elephantidae" and elephant["prediction_source"] == "classifier_rollup_to_family"
    assert elephant["classifications"]["classes"][:2] == ["Elephantidae", "Loxodonta africana"]
    assert (
        elephant["rangewatch"]["verdict"] == "native"
        and elephant["model_version"] == "starter-imagenet-efficientnet_lite0"
    )
    assert (heron["prediction"], heron["prediction_source"]) == ("unknown", "classifier_uncertain")
    assert (blank["prediction"], blank["prediction_score"]) == ("blank", 0.91)
    assert corrupt["failures"] == ["CLASSIFIER"] and corrupt["rangewatch"]["error"]["code"] == "image_corrupt"
    assert refused["failures"] == ["UPLOAD"] and unplaced["failures"] == ["UPLOAD"] and "latitude" not in unplaced
    assert waiting["failures"] == ["PENDING"] and waiting["rangewatch"]["observation_id"].endswith("6")
    assert tally["status:done"] == 3 and tally["verdict:native"] == 1 and tally["status:pending"] == 1
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_results_csv_says_the_answer_in_the_words_of_the_card():
    """Issue 22: the batch results carry the server's answer summary, as the card and the lists say it."""
    from mobile_client_stub.batch_results import CSV_COLUMNS, csv_row
    from mobile_client_stub.journal import DONE, ImageRecord

    fields = {name: None for name in ImageRecord.__dataclass_fields__}
    answer = {"summary": "Nothing we can name: Not sure: nothing we can name from this photo."}
    record = ImageRecord(**{**fields, "state": DONE, "result": {"status": "done", "answer": answer}})
    row = csv_row(record)
    assert CSV_COLUMNS[-1] == "answer" and row["answer"] == answer["summary"]
