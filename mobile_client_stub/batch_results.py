"""A batch's result files, written from the journal in one streamed pass: `results.csv` (one row per
image, for spreadsheets and R) and `predictions.json` in SpeciesNet's `run_model` format.

Why SpeciesNet's format rather than MegaDetector's: RangeWatch classifies whole images, and the
MegaDetector format hangs classifications on detection boxes, which this server does not produce.
SpeciesNet's `predictions.json` carries per-image `classifications` (the raw top-k), a final
`prediction` with its score and source, `failures`, the coordinates and the model version.
Labels are RangeWatch's (scientific names; `no_animal` in the raw classes, `blank` as the final
prediction, `unknown` when nothing is confident), not SpeciesNet's taxonomy strings. Each entry
adds a `rangewatch` object: the observation, the range verdict (native, invasive, introduced,
out_of_range, unknown, uncertain, no_animal), its region and the alert level.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

from mobile_client_stub.journal import DONE, REJECTED, UNSENT, ImageRecord

RESULTS_CSV, PREDICTIONS_JSON = "results.csv", "predictions.json"
CSV_COLUMNS = [
    "filepath",
    "deployment_id",
    "latitude",
    "longitude",
    "location_source",
    "observed_at",
    "status",
    "observation_id",
    "scientific_name",
    "common_name",
    "rank",
    "score",
    "verdict",
    "region",
    "alert_level",
    "model_version",
    "error_code",
    "error_detail",
    "sha256",
    "answer",  # the answer in the words of the card and the lists (the API's answer.summary)
]
# SpeciesNet names the component that failed; these are RangeWatch's steps.
FAILED_STEP = {"failed": "CLASSIFIER", "rejected": "UPLOAD", "not_sent": "UPLOAD", "pending": "PENDING"}


def image_status(record: ImageRecord) -> str:
    """done / failed (the server's answer), rejected (refused at upload), not_sent, or pending (the
    server may hold it; running the batch again finishes it)."""
    if record.state == DONE:
        return record.result["status"]
    return {REJECTED: "rejected", UNSENT: "not_sent"}.get(record.state, "pending")


def _verdict(observation: dict) -> dict:
    return observation.get("verdict") or {}


def _region(observation: dict) -> str | None:
    """The region the verdict speaks for, else the most specific one the point lies in."""
    verdict = _verdict(observation)
    region = verdict.get("region") or next(iter(verdict.get("regions") or []), None)
    return region["name"] if region else None


def csv_row(record: ImageRecord) -> dict:
    observation = record.result or {}
    identification = observation.get("identification") or {}
    taxon = identification.get("taxon") or {}
    failure = observation.get("failure") or {}
    return {
        "filepath": record.filepath,
        "deployment_id": record.deployment_id,
        "latitude": record.latitude,
        "longitude": record.longitude,
        "location_source": record.location_source,
        "observed_at": record.observed_at,
        "status": image_status(record),
        "observation_id": record.observation_id,
        "scientific_name": taxon.get("scientific_name"),
        "common_name": taxon.get("common_name"),
        "rank": taxon.get("rank"),
        "score": identification.get("score"),
        "verdict": _verdict(observation).get("status"),
        "region": _region(observation),
        "alert_level": (observation.get("alert") or {}).get("level"),
        "model_version": observation.get("model_version"),
        "error_code": failure.get("code") or record.error_code,
        "error_detail": failure.get("detail") or record.error_detail,
        "sha256": record.sha256,
        "answer": (observation.get("answer") or {}).get("summary"),
    }


def _final_prediction(observation: dict) -> tuple[str, float, str]:
    """(label, score, source) as SpeciesNet's ensemble reports them: the identification (rolled up
    to genus or family when the species is doubtful), else blank, else unknown."""
    identification = observation.get("identification")
    predictions = observation.get("predictions") or []
    if identification:
        rank = identification["taxon"].get("rank") or "species"
        source = "classifier" if rank == "species" else f"classifier_rollup_to_{rank}"
        return identification["taxon"]["scientific_name"], identification["score"], source
    if _verdict(observation).get("status") == "no_animal":
        score = next(
            (p["score"] for p in predictions if p["key"] == "no_animal"),
            predictions[0]["score"] if predictions else 0.0,
        )
        return "blank", score, "classifier_blank"
    return "unknown", predictions[0]["score"] if predictions else 0.0, "classifier_uncertain"


def speciesnet_prediction(record: ImageRecord) -> dict:
    observation = record.result or {}
    status = image_status(record)
    entry: dict = {"filepath": record.filepath}
    if status in FAILED_STEP:
        entry["failures"] = [FAILED_STEP[status]]
    if record.latitude is not None:
        entry.update(latitude=record.latitude, longitude=record.longitude)
    if status == "done":
        predictions = observation.get("predictions") or []
        entry["classifications"] = {
            "classes": [p["key"] for p in predictions],
            "scores": [p["score"] for p in predictions],
        }
        entry["prediction"], entry["prediction_score"], entry["prediction_source"] = _final_prediction(observation)
    if observation.get("model_version"):
        entry["model_version"] = observation["model_version"]
    row = csv_row(record)
    entry["rangewatch"] = {
        "observation_id": record.observation_id,
        "status": status,
        "deployment_id": record.deployment_id,
        "verdict": row["verdict"],
        "region": row["region"],
        "alert_level": row["alert_level"],
        "error": {"code": row["error_code"], "detail": row["error_detail"]} if row["error_code"] else None,
    }
    return entry


@contextmanager
def _replaced_atomically(path: Path):
    """Write beside `path`, then rename over it: a reader never sees half a results file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_results(records: Iterable[ImageRecord], out_dir: Path) -> Counter:
    """Both files from one pass over the records (streamed: memory does not grow with the batch).
    Returns how many images ended with each status and each verdict, for the summary."""
    tally: Counter = Counter()
    with _replaced_atomically(out_dir / RESULTS_CSV) as table, _replaced_atomically(out_dir / PREDICTIONS_JSON) as js:
        writer = csv.DictWriter(table, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        js.write('{"predictions": [')
        for number, record in enumerate(records):
            row = csv_row(record)
            writer.writerow(row)
            js.write(("," if number else "") + "\n" + json.dumps(speciesnet_prediction(record)))
            tally[f"status:{row['status']}"] += 1
            if row["verdict"]:
                tally[f"verdict:{row['verdict']}"] += 1
        js.write("\n]}\n")
    return tally
