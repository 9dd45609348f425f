"""Write a project as a Camtrap DP 1.0.2 package: datapackage.json, deployments.csv, media.csv and
observations.csv (https://camtrap-dp.tdwg.org).

Observations: one event-level row per sequence with the model's answer for the whole burst
(`classificationMethod` machine), and one media-level row per frame a reviewer confirmed
(`classificationMethod` human). Deployment coordinates are the public ones: the strictest
generalisation among the deployment's frames (sensitive taxa, the project's geoprivacy) applies,
unless the export is for the team itself (`exact=True`).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from cameratraps.models import Project
from cameratraps.selectors import media_frame, project_deployments, project_media
from cameratraps.sequences import group_sequences, label_sequence
from observations.geoprivacy import GEOPRIVACY_CATEGORY, NONE, WITHHOLD, generalise, strictest
from observations.models import Observation, Verification
from observations.selectors import observation_sensitivity

VERSION = "1.0.2"
BASE_URL = f"https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}"
PROFILE_URL = f"{BASE_URL}/camtrap-dp-profile.json"
SCHEMAS = Path(__file__).resolve().parent / "camtrap_dp"  # the vendored 1.0.2 profile and table schemas


def table_fields(table: str) -> list[str]:
    """Every column of a Camtrap DP table, in its schema's order (validators expect them all)."""
    return [f["name"] for f in json.loads((SCHEMAS / f"{table}-table-schema.json").read_text())["fields"]]


@dataclass
class ExportSummary:
    path: Path
    deployments: int
    media: int
    sequences: int
    machine_rows: int
    human_rows: int
    warnings: list[str] = field(default_factory=list)


def when(value: datetime) -> str:
    """Camtrap DP datetimes: ISO 8601 with a zone, %Y-%m-%dT%H:%M:%S%z."""
    return value.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def export_camtrap_dp(*, project: Project, out_dir: Path, exact: bool = False) -> ExportSummary:
    """Write the package into `out_dir` (created; existing files are replaced)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    media = list(
        project_media(project=project)
        .select_related("observation__verified_taxon", "observation__verified_by")
        .order_by("timestamp", "id")
    )
    frames = {m.media_id: media_frame(m) for m in media}
    sequences = group_sequences(list(frames.values()), project.sequence_interval_s)
    sequence_of = {frame.media_id: seq for seq in sequences for frame in seq.frames}

    deployment_rows = _deployment_rows(project, media, exact)
    exported = {row["deploymentID"] for row in deployment_rows}
    media = [m for m in media if m.deployment.deployment_id in exported]
    base_url = public_base_url()
    warnings = []
    if base_url is None:
        warnings.append(
            f"media.csv: no public address set (RANGEWATCH_PUBLIC_BASE_URL is "
            f"{settings.RANGEWATCH_PUBLIC_BASE_URL!r}): filePath is each frame's file name, not a link"
        )
    media_rows = [_media_row(m, base_url) for m in media]
    by_id = {m.media_id: m for m in media}
    confidence = settings.RANGEWATCH_CONFIDENCE_THRESHOLD
    machine_rows = [_machine_row(seq, by_id, confidence) for seq in sequences if seq.deployment_id in exported]
    human_rows = [_human_row(m, sequence_of[m.media_id].sequence_id) for m in media if _reviewed(m)]

    _write_csv(out_dir / "deployments.csv", table_fields("deployments"), deployment_rows)
    _write_csv(out_dir / "media.csv", table_fields("media"), media_rows)
    _write_csv(out_dir / "observations.csv", table_fields("observations"), machine_rows + human_rows)
    descriptor = _descriptor(project, deployment_rows, media_rows, machine_rows + human_rows)
    (out_dir / "datapackage.json").write_text(json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n")
    return ExportSummary(
        out_dir,
        len(deployment_rows),
        len(media_rows),
        len(machine_rows),
        len(machine_rows),
        len(human_rows),
        warnings,
    )


def public_base_url() -> str | None:
    """The server's public address for links in files that leave it, or None when it is not set to one
    (the development default http://localhost:8000 is no address anyone else can open)."""
    url = (settings.RANGEWATCH_PUBLIC_BASE_URL or "").rstrip("/")
    host = urlsplit(url).hostname or ""
    if not url or host in {"localhost", "127.0.0.1", "::1", "0.0.0.0"} or host.endswith(".localhost"):
        return None
    return url


def _deployment_rows(project: Project, media, exact: bool) -> list[dict]:
    by_deployment: dict[int, list] = {}
    for m in media:
        by_deployment.setdefault(m.deployment_id, []).append(m)
    rows = []
    for deployment in project_deployments(project=project):
        frames = by_deployment.get(deployment.pk, [])
        start = deployment.start or (frames[0].timestamp if frames else None)
        end = deployment.end or (frames[-1].timestamp if frames else None)
        if start is None or end is None:
            continue  # Camtrap DP needs the period: a deployment with neither dates nor frames is left out
        # The project's geoprivacy applies to every deployment, with frames or without (a deployment
        # without frames kept its exact point while the one with frames was generalised).
        project_category = GEOPRIVACY_CATEGORY[project.default_geoprivacy]
        category = (
            NONE if exact else strictest([project_category, *(observation_sensitivity(m.observation) for m in frames)])
        )
        comment = ""
        if category == WITHHOLD:
            # Camtrap DP requires coordinates: the coarsest cell instead of none.
            category, comment = "1", "Coordinates generalised to a 1° cell: the records here are withheld elsewhere."
        place = generalise(deployment.latitude, deployment.longitude, category, deployment.coordinate_uncertainty_m)
        rows.append(
            {
                "deploymentID": deployment.deployment_id,
                "locationID": deployment.location_id,
                "locationName": deployment.location_name if category == NONE else "",
                "latitude": round(place.latitude, 6),
                "longitude": round(place.longitude, 6),
                "coordinateUncertainty": int(place.coordinate_uncertainty_m) if place.coordinate_uncertainty_m else "",
                "deploymentStart": when(min(start, end)),
                "deploymentEnd": when(max(start, end)),
                "cameraID": deployment.camera_id,
                "cameraModel": deployment.camera_model,
                "deploymentComments": comment or place.data_generalizations,
            }
        )
    return rows


def _media_row(m, base_url: str | None) -> dict:
    # The served photo (EXIF-stripped, behind login): originals never leave the server. Without a public
    # address the file's own name (relative, as the camera wrote it) rather than a localhost link.
    path = reverse("observation-photo", kwargs={"observation_id": m.observation.uuid})
    return {
        "mediaID": m.media_id,
        "deploymentID": m.deployment.deployment_id,
        "captureMethod": "activityDetection",
        "timestamp": when(m.timestamp),
        "filePath": base_url + path if base_url else m.file_name,
        "filePublic": "false",
        "fileName": m.file_name,
        "fileMediatype": "image/jpeg",
    }


def _machine_row(sequence, media_by_id: dict, confidence: float) -> dict:
    label = label_sequence(sequence, confidence)
    frames = [media_by_id[f.media_id] for f in sequence.frames]
    predictions = [m.observation.prediction for m in frames if m.observation.status == Observation.Status.DONE]
    models = sorted({p.model_version.name for p in predictions})
    classified = label.observation_type != "unclassified"
    return {
        "observationID": f"{sequence.sequence_id}-machine",
        "deploymentID": sequence.deployment_id,
        "mediaID": "",
        "eventID": sequence.sequence_id,
        "eventStart": when(sequence.start),
        "eventEnd": when(sequence.end),
        "observationLevel": "event",
        "observationType": label.observation_type,
        "scientificName": label.scientific_name,
        "classificationMethod": "machine" if classified else "",
        "classifiedBy": " | ".join(models) if classified else "",
        "classificationTimestamp": when(max(p.created for p in predictions)) if predictions else "",
        "classificationProbability": label.probability if label.probability is not None else "",
        "observationComments": f"{len(sequence.frames)} frames; scores averaged over the non-empty ones"
        + ("; below the confidence threshold: no taxon named" if label.observation_type == "unknown" else "")
        + (f"; clearest frame {label.best_media_id}" if label.best_media_id else ""),
    }


def _reviewed(m) -> bool:
    return m.observation.verification == Verification.CONFIRMED and m.observation.verified_taxon_id is not None


def _human_row(m, sequence_id: str) -> dict:
    observation = m.observation
    name = observation.verified_taxon.scientific_name
    return {
        "observationID": f"{m.media_id}-human",
        "deploymentID": m.deployment.deployment_id,
        "mediaID": m.media_id,
        "eventID": sequence_id,
        "eventStart": when(m.timestamp),
        "eventEnd": when(m.timestamp),
        "observationLevel": "media",
        "observationType": "human" if name == "Homo sapiens" else "animal",
        "scientificName": name,
        "classificationMethod": "human",
        "classifiedBy": observation.verified_by.username if observation.verified_by else "",
        "classificationTimestamp": when(observation.verified_at) if observation.verified_at else "",
        "classificationProbability": "",
        "observationComments": "confirmed by a reviewer",
    }


# A text cell starting with one of these is a formula to a spreadsheet (issue 23, Low: `=HYPERLINK(...)`
# as a deploymentID or cameraModel): such cells get a leading apostrophe (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """Text that no spreadsheet runs as a formula; numbers are left alone."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def _write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows({k: spreadsheet_safe(v) for k, v in row.items()} for row in rows)


def _descriptor(project: Project, deployments: list[dict], media: list[dict], observations: list[dict]) -> dict:
    resources = [
        {
            "name": name,
            "path": f"{name}.csv",
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": f"{BASE_URL}/{name}-table-schema.json",
        }
        for name in ("deployments", "media", "observations")
    ]
    lats = [row["latitude"] for row in deployments]
    lons = [row["longitude"] for row in deployments]
    starts = [row["deploymentStart"] for row in deployments] or [when(timezone.now())]
    ends = [row["deploymentEnd"] for row in deployments] or starts
    owner = project.owner
    return {
        "resources": resources,
        "profile": PROFILE_URL,
        "name": project.name,
        "created": when(timezone.now()),
        "title": project.title or project.name,
        "contributors": [{"title": owner.get_full_name() or owner.username, "role": "contact"}],
        "sources": [{"title": "RangeWatch"}],
        "project": {
            "id": project.name,
            "title": project.title or project.name,
            "description": project.description
            or f"Sequences: frames of one deployment at most {project.sequence_interval_s} s apart.",
            "samplingDesign": project.sampling_design,
            "captureMethod": ["activityDetection"],
            "individualAnimals": False,
            "observationLevel": sorted({row["observationLevel"] for row in observations}) or ["event"],
        },
        "spatial": _bbox(lats, lons),
        "temporal": {"start": min(starts)[:10], "end": max(ends)[:10]},
        "taxonomic": [
            {"scientificName": name}
            for name in sorted({row["scientificName"] for row in observations if row["scientificName"]})
        ],
    }


def _bbox(lats: list[float], lons: list[float]) -> dict:
    """GeoJSON of the deployments: a point for one place, else their bounding box."""
    if not lats:
        return {"type": "Point", "coordinates": [0.0, 0.0]}
    if min(lats) == max(lats) and min(lons) == max(lons):
        return {"type": "Point", "coordinates": [lons[0], lats[0]]}
    w, e, s, n = min(lons), max(lons), min(lats), max(lats)
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
