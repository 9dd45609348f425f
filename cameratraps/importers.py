"""Bring a camera-trap data set into a project: a Camtrap DP package or COCO Camera Traps JSON
(LILA's format) with its image folder. Each readable local frame becomes an observation of the
project (classified on the batch queue); deployments come from the data set. Re-running changes
nothing: frames already in the project (by mediaID) are skipped before any file is read."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from cameratraps.models import Media, Project
from cameratraps.serializers import DeploymentInputSerializer, MediaRowSerializer, PointRowSerializer
from cameratraps.services import deployment_upsert, media_upload
from core.errors import ServiceError


class ImportRefused(ServiceError):
    """The data set cannot be read as the format it claims to be."""


# The columns each Camtrap DP table must have for an import (checked before anything is written).
REQUIRED_COLUMNS = {
    "deployments.csv": ("deploymentID", "latitude", "longitude"),
    "media.csv": ("mediaID", "deploymentID", "timestamp", "filePath"),
}
# media.csv is read and imported this many rows at a time: a 300k-row file in bounded memory.
CHUNK_ROWS = 1000
REPORTED_ERRORS = 50  # row errors printed; the rest counted


@dataclass
class FrameRecord:
    """One frame to import, whatever format it came from."""

    media_id: str
    deployment_id: str
    path: Path
    timestamp: datetime | None
    latitude: float | None = None
    longitude: float | None = None
    where: str = ""  # "media.csv row 12": for the report


@dataclass
class ImportReport:
    deployments: int = 0
    created: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> frames
    errors: list[str] = field(default_factory=list)  # "<file> row <n>: <field>: <message>", per row
    error_count: int = 0

    def error(self, where: str, messages) -> None:
        self.error_count += 1
        if len(self.errors) < REPORTED_ERRORS:
            self.errors.append(f"{where}: {_flat(messages)}")

    def lines(self) -> list[str]:
        out = [f"deployments: {self.deployments}", f"frames imported and queued: {self.created}"]
        out += [f"frames skipped ({reason}): {n}" for reason, n in sorted(self.skipped.items())]
        if self.error_count:
            out.append(f"rows refused: {self.error_count}")
            out += [f"  {line}" for line in self.errors]
            if self.error_count > len(self.errors):
                out.append(f"  ... and {self.error_count - len(self.errors)} more")
        return out


def _flat(messages) -> str:
    """A serializer's errors as one line: `latitude: Ensure this value ...; end: ...`."""
    if isinstance(messages, dict):
        return "; ".join(f"{name}: {_flat(m)}" for name, m in messages.items())
    if isinstance(messages, list | tuple):
        return " ".join(_flat(m) for m in messages)
    return str(messages)


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


def _csv_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, row) of a Camtrap DP table, read as it streams. A table missing a required
    column, or that is not CSV (a field over the csv module's limit, a NUL byte), is refused."""
    if not path.is_file():
        raise ImportRefused(f"{path.name} is missing from the Camtrap DP package at {path.parent}", code="bad_package")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        try:
            missing = [c for c in REQUIRED_COLUMNS[path.name] if c not in (reader.fieldnames or [])]
            if missing:
                raise ImportRefused(f"{path.name} has no column {', '.join(missing)}", code="bad_package")
            for row in reader:
                yield reader.line_num, row
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ImportRefused(
                f"{path.name} line {reader.line_num}: not readable CSV ({exc})", code="bad_package"
            ) from exc


def _float(value) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _blank_is_none(value):
    return None if value in (None, "") else value


def _coco_media_id(value) -> str:
    """COCO ids are often file paths, longer than a mediaID's 100 characters: those become a stable
    hash of the id (as COCO locations become short deploymentIDs)."""
    text = str(value)
    return text if len(text) <= 100 else "sha1-" + hashlib.sha1(text.encode()).hexdigest()


def _coco_time(value):
    """EXIF-style or ISO time as a datetime; unreadable text passed on for the serializer to refuse."""
    if value in (None, ""):
        return None
    return _parse_time(str(value)) or str(value)


def package_file(package_dir: Path, relative: str) -> tuple[Path | None, str]:
    """The package's file at `relative`, or (None, why not). The path must resolve (symbolic links
    followed) inside the package: `../../outside/secret.jpg`, `/etc/passwd` or a link out are refused
    (issue 23); so is a file over the upload cap, before a byte of it is read."""
    if not relative:
        return None, "filePath is empty"
    candidate = Path(relative)
    if candidate.is_absolute():
        return None, "filePath is absolute: it must be relative to the package"
    base = package_dir.resolve()
    resolved = (base / candidate).resolve()
    if not resolved.is_relative_to(base):
        return None, "filePath leads outside the package"
    if not resolved.is_file():
        return None, "missing"
    size = resolved.stat().st_size
    if size > settings.RANGEWATCH_MAX_UPLOAD_BYTES:
        return None, f"file_too_large: {size} bytes, over the upload cap of {settings.RANGEWATCH_MAX_UPLOAD_BYTES}"
    return resolved, ""


def import_camtrap_dp(*, project: Project, package_dir: Path) -> ImportReport:
    """Deployments from deployments.csv; frames from media.csv whose filePath is a local file of
    the package (remote URLs are counted as skipped: nothing is downloaded). Every row is checked by
    the API's rules (DeploymentInputSerializer, MediaRowSerializer); a refused row is reported with
    its line and the rest imported. The whole package is one transaction: an unexpected failure
    leaves the project as it was (and removes the photos already stored)."""
    package_dir = package_dir if package_dir.is_dir() else package_dir.parent
    for table in REQUIRED_COLUMNS:  # both headers before anything is written
        next(iter(_csv_rows(package_dir / table)), None)
    report = ImportReport()
    with _one_transaction() as stored:
        known = {}
        for line, row in _csv_rows(package_dir / "deployments.csv"):
            data = DeploymentInputSerializer(
                data={
                    "deployment_id": row.get("deploymentID") or "",
                    "latitude": row.get("latitude"),
                    "longitude": row.get("longitude"),
                    "coordinate_uncertainty_m": _blank_is_none(row.get("coordinateUncertainty")),
                    "location_id": row.get("locationID") or "",
                    "location_name": row.get("locationName") or "",
                    "camera_id": row.get("cameraID") or "",
                    "camera_model": row.get("cameraModel") or "",
                    "start": _blank_is_none(row.get("deploymentStart")),
                    "end": _blank_is_none(row.get("deploymentEnd")),
                }
            )
            if not data.is_valid():
                report.error(f"deployments.csv row {line}", data.errors)
                continue
            known[data.validated_data["deployment_id"]] = deployment_upsert(project=project, **data.validated_data)
        report.deployments = len(known)
        chunk: list[FrameRecord] = []
        for line, row in _csv_rows(package_dir / "media.csv"):
            where = f"media.csv row {line}"
            data = MediaRowSerializer(data={**row, "timestamp": _blank_is_none(row.get("timestamp"))})
            if not data.is_valid():
                report.error(where, data.errors)
                continue
            fields = data.validated_data
            if fields["deploymentID"] not in known:
                report.skipped["unknown deployment"] += 1
                continue
            if "://" in fields["filePath"]:
                report.skipped["file not in the package (remote or missing)"] += 1
                continue
            path, why = package_file(package_dir, fields["filePath"])
            if path is None:
                if why == "missing":
                    report.skipped["file not in the package (remote or missing)"] += 1
                else:
                    report.error(where, {"filePath": why})
                continue
            chunk.append(FrameRecord(fields["mediaID"], fields["deploymentID"], path, fields["timestamp"], where=where))
            if len(chunk) >= CHUNK_ROWS:
                _import_frames(project, known, chunk, report, stored)
                chunk = []
        _import_frames(project, known, chunk, report, stored)
    return report


@contextmanager
def _one_transaction():
    """One transaction for a package; the photo files stored in it are removed if it rolls back
    (storage is not transactional)."""
    stored: list[str] = []
    try:
        with transaction.atomic():
            yield stored
    except BaseException:
        for name in stored:
            default_storage.delete(name)
        raise


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
    with _one_transaction() as stored:
        _import_coco_images(project, images, images_dir, latitude, longitude, report, stored)
    return report


def _import_coco_images(project, images, images_dir: Path, latitude, longitude, report, stored) -> None:
    """The COCO import inside its transaction: coordinates, ids and dates by the API's rules."""
    places: dict[str, tuple[float, float]] = {}
    checked = []
    for n, image in enumerate(images):
        where = f"images[{n}]"
        if not isinstance(image, dict):
            report.error(where, "not an object")
            continue
        point = PointRowSerializer(data={"latitude": image.get("latitude"), "longitude": image.get("longitude")})
        row = MediaRowSerializer(
            data={
                "mediaID": _coco_media_id(image.get("id", "")),
                "deploymentID": str(image.get("location") or "unknown location")[:100],
                "timestamp": _coco_time(image.get("datetime")),
                "filePath": str(image.get("file_name", "")),
            }
        )
        if not point.is_valid() or not row.is_valid():
            report.error(where, {**point.errors, **row.errors})
            continue
        location = str(image.get("location") or "unknown location")
        if point.validated_data.get("latitude") is not None:
            places.setdefault(location, (point.validated_data["latitude"], point.validated_data["longitude"]))
        elif latitude is not None and longitude is not None:
            places.setdefault(location, (latitude, longitude))
        checked.append((where, location, row.validated_data))
    known = {}
    for location, (lat, lon) in places.items():
        # deploymentID: Camtrap DP ids are short; the location name is kept as locationName.
        deployment_id = hashlib.sha1(location.encode()).hexdigest()[:8]
        known[location] = deployment_upsert(
            project=project, deployment_id=deployment_id, latitude=lat, longitude=lon, location_name=location[:300]
        )
    report.deployments = len(known)
    records = []
    for where, location, fields in checked:
        if location not in known:
            report.skipped["no coordinates (give --latitude/--longitude)"] += 1
            continue
        path, why = package_file(images_dir, fields["filePath"])
        if path is None:
            if why == "missing":
                report.skipped["image file missing"] += 1
            else:
                report.error(where, {"file_name": why})
            continue
        records.append(FrameRecord(fields["mediaID"], location, path, fields["timestamp"], where=where))
    _import_frames(project, known, records, report, stored)


def _import_frames(
    project: Project, deployments: dict, records: list[FrameRecord], report: ImportReport, stored: list[str]
) -> None:
    """One observation per new frame. The idempotency key is the file's hash within the project,
    so the same card imported twice, or a frame the batch client already sent, is one row. The
    hash is read in blocks; the frame (within the upload cap) goes through the upload's checks."""
    done = set(
        Media.objects.filter(project=project, media_id__in=[r.media_id for r in records]).values_list(
            "media_id", flat=True
        )
    )
    for record in records:
        if record.media_id in done:
            report.skipped["already in the project"] += 1
            continue
        with record.path.open("rb") as fh:
            key = f"{project.name}:sha256:{hashlib.file_digest(fh, 'sha256').hexdigest()}"
            fh.seek(0)
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
                if record.where:
                    report.error(record.where, {"file": f"{exc.code}: {exc.detail}"})
                continue
        if upload.created:
            report.created += 1
            stored.append(upload.media.observation.photo.name)
        else:
            report.skipped["same file already in the project"] += 1
        done.add(record.media_id)
