"""Bring a camera-trap data set into a project: a Camtrap DP package or COCO Camera Traps JSON
(LILA's format) with its image folder. Each readable local frame becomes an observation of the
project (classified on the batch queue); deployments come from the data set. Re-running changes
nothing: frames already in the project (by mediaID) are skipped before any file is read."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone
from pathlib import Path

from django.core.files import File
from django.utils import timezone

from backend.errors import ServiceError
from cameratraps.models import Media, Project
from cameratraps.services import deployment_upsert, media_upload


class ImportRefused(ServiceError):
    """The data set cannot be read as the format it claims to be."""


@dataclass
class FrameRecord:
    """One frame to import, whatever format it came from."""

    media_id: str
    deployment_id: str
    path: Path
    timestamp: datetime | None
    latitude: float | None = None
    longitude: float | None = None


@dataclass
class ImportReport:
    deployments: int = 0
    created: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> frames

    def lines(self) -> list[str]:
        out = [f"deployments: {self.deployments}", f"frames imported and queued: {self.created}"]
        out += [f"frames skipped ({reason}): {n}" for reason, n in sorted(self.skipped.items())]
        return out


def _parse_time(value: str | None) -> datetime | None:
    """ISO 8601 (Camtrap DP) or EXIF style '2010:08:04 08:43:15' (COCO Camera Traps); naive -> UTC."""
    if not value:
        return None
    text = value.strip()
    try:
        parsed = datetime.strptime(text, "%Y:%m:%d %H:%M:%S")
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    return timezone.make_aware(parsed, dt_timezone.utc) if timezone.is_naive(parsed) else parsed


def _read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        raise ImportRefused(f"{path.name} is missing from the Camtrap DP package at {path.parent}", code="bad_package")
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _float(value) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def import_camtrap_dp(*, project: Project, package_dir: Path) -> ImportReport:
    """Deployments from deployments.csv; frames from media.csv whose filePath is a local file of
    the package (remote URLs are counted as skipped: nothing is downloaded)."""
    package_dir = package_dir if package_dir.is_dir() else package_dir.parent
    report = ImportReport()
    known = {}
    for row in _read_csv(package_dir / "deployments.csv"):
        lat, lon = _float(row.get("latitude")), _float(row.get("longitude"))
        if not row.get("deploymentID") or lat is None or lon is None:
            report.skipped["deployment without id or coordinates"] += 1
            continue
        uncertainty = _float(row.get("coordinateUncertainty"))
        known[row["deploymentID"]] = deployment_upsert(
            project=project,
            deployment_id=row["deploymentID"],
            latitude=lat,
            longitude=lon,
            location_id=row.get("locationID", ""),
            location_name=row.get("locationName", "")[:300],
            coordinate_uncertainty_m=int(uncertainty) if uncertainty else None,
            camera_id=row.get("cameraID", ""),
            camera_model=row.get("cameraModel", ""),
            start=_parse_time(row.get("deploymentStart")),
            end=_parse_time(row.get("deploymentEnd")),
        )
    report.deployments = len(known)
    records = []
    for row in _read_csv(package_dir / "media.csv"):
        file_path = row.get("filePath", "")
        if row.get("deploymentID") not in known:
            report.skipped["unknown deployment"] += 1
        elif "://" in file_path or not (package_dir / file_path).is_file():
            report.skipped["file not in the package (remote or missing)"] += 1
        else:
            records.append(
                FrameRecord(
                    row["mediaID"], row["deploymentID"], package_dir / file_path, _parse_time(row.get("timestamp"))
                )
            )
    _import_frames(project, known, records, report)
    return report


def import_coco(
    *,
    project: Project,
    coco_path: Path,
    images_dir: Path,
    latitude: float | None = None,
    longitude: float | None = None,
) -> ImportReport:
    """COCO Camera Traps: each `location` is a deployment, placed at its images' latitude/longitude
    when they carry one, else at the given point; `datetime` is the capture time."""
    try:
        data = json.loads(coco_path.read_text())
        images = data["images"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ImportRefused(f"{coco_path} is not COCO Camera Traps JSON ({exc})", code="bad_package") from exc
    report = ImportReport()
    places: dict[str, tuple[float, float]] = {}
    for image in images:
        lat, lon = _float(image.get("latitude")), _float(image.get("longitude"))
        location = str(image.get("location") or "unknown location")
        if lat is not None and lon is not None:
            places.setdefault(location, (lat, lon))
        elif latitude is not None and longitude is not None:
            places.setdefault(location, (latitude, longitude))
    known = {}
    for location, (lat, lon) in places.items():
        # deploymentID: Camtrap DP ids are short; the location name is kept as locationName.
        deployment_id = hashlib.sha1(location.encode()).hexdigest()[:8]
        known[location] = deployment_upsert(
            project=project, deployment_id=deployment_id, latitude=lat, longitude=lon, location_name=location[:300]
        )
    report.deployments = len(known)
    records = []
    for image in images:
        location = str(image.get("location") or "unknown location")
        path = images_dir / str(image.get("file_name", ""))
        if location not in known:
            report.skipped["no coordinates (give --latitude/--longitude)"] += 1
        elif not path.is_file():
            report.skipped["image file missing"] += 1
        else:
            records.append(FrameRecord(str(image["id"]), location, path, _parse_time(image.get("datetime"))))
    _import_frames(project, known, records, report)
    return report


def _import_frames(project: Project, deployments: dict, records: list[FrameRecord], report: ImportReport) -> None:
    """One observation per new frame. The idempotency key is the file's hash within the project,
    so the same card imported twice, or a frame the batch client already sent, is one row."""
    done = set(
        Media.objects.filter(project=project, media_id__in=[r.media_id for r in records]).values_list(
            "media_id", flat=True
        )
    )
    for record in records:
        if record.media_id in done:
            report.skipped["already in the project"] += 1
            continue
        data = record.path.read_bytes()
        key = f"{project.name}:sha256:{hashlib.sha256(data).hexdigest()}"
        with record.path.open("rb") as fh:
            try:
                upload = media_upload(
                    project=project,
                    uploader=project.owner,
                    photo=File(fh, name=record.path.name),
                    deployment=deployments[record.deployment_id],
                    latitude=record.latitude,
                    longitude=record.longitude,
                    observed_at=record.timestamp,
                    idempotency_key=key,
                    media_id=record.media_id,
                    file_name=record.path.name,
                )
            except ServiceError as exc:
                report.skipped[f"refused: {exc.code}"] += 1
                continue
        if upload.created:
            report.created += 1
        else:
            report.skipped["same file already in the project"] += 1
        done.add(record.media_id)
