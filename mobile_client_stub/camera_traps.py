"""A camera-trap batch's inputs: the images under folders and glob patterns, and where each was taken.

Images are found one at a time (a card of 10,000 frames is never listed in memory), in a stable
order. Where comes from a deployments CSV: Camtrap DP's `deployments.csv` (deploymentID, latitude,
longitude) or a plain `folder,latitude,longitude` table. An image belongs to the deployment that
the package's `media.csv` names for it, when that file lies beside the deployments, else to the
deployment named by its nearest enclosing folder (`cards/<deploymentID>/IMG_0001.JPG`).
"""

from __future__ import annotations

import csv
import glob
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# What the server accepts (README: JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp", ".heic", ".heif"})
ID_COLUMNS = ("deploymentID", "folder", "deployment")  # Camtrap DP's name first


class DeploymentsError(ValueError):
    """The deployments CSV cannot be used: a missing column or a bad coordinate, with its row."""


@dataclass(frozen=True)
class Deployment:
    id: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Placement:
    """Where an image was taken and, when Camtrap DP's media.csv says, when (ISO 8601 with its
    offset: better than EXIF time, which cameras write without a zone)."""

    deployment: Deployment
    timestamp: str | None = None


def is_batch_input(argument: str) -> bool:
    """A folder, or a glob pattern the shell did not expand (quoted): the batch path."""
    path = Path(argument)
    return path.is_dir() or (not path.exists() and glob.has_magic(argument))


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def find_images(inputs: list[str]) -> Iterator[Path]:
    """Every image file under the given folders (recursively), glob patterns and files, yielded one
    at a time; folders are walked in name order so that a re-run meets the images in the same order."""
    for argument in inputs:
        path = Path(argument)
        if path.is_dir():
            for folder, subfolders, files in os.walk(path):
                subfolders.sort()
                yield from (Path(folder, name) for name in sorted(files) if _is_image(Path(name)))
        elif path.is_file():
            yield path
        else:
            yield from (
                Path(match)
                for match in sorted(glob.iglob(argument, recursive=True))
                if Path(match).is_file() and _is_image(Path(match))
            )


def _coordinate(row: dict, column: str, limit: float, where: str) -> float:
    try:
        value = float(row[column])
    except (TypeError, ValueError):
        raise DeploymentsError(f"{where}: {column} {row[column]!r} is not a number") from None
    if not math.isfinite(value) or abs(value) > limit:
        raise DeploymentsError(f"{where}: {column} {value} is outside -{limit:g}..{limit:g}")
    return value


class DeploymentTable:
    """Deployments by id, and (from a Camtrap DP media.csv) the deployment of each media file."""

    def __init__(
        self,
        deployments: dict[str, Deployment],
        media: dict[Path, MediaRow] | None = None,
        media_names: dict[str, MediaRow] | None = None,
    ):
        self.deployments = deployments
        self.media = media or {}  # absolute file path -> its media.csv row
        self.media_names = media_names or {}  # file name -> its row, for names no other deployment uses

    @classmethod
    def from_csv(cls, path: Path) -> DeploymentTable:
        path = Path(path)
        try:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                columns = reader.fieldnames or []
                id_column = next((c for c in ID_COLUMNS if c in columns), None)
                missing = [c for c in ("latitude", "longitude") if c not in columns]
                if id_column is None or missing:
                    raise DeploymentsError(
                        f"{path}: needs a {' or '.join(ID_COLUMNS)} column and latitude, longitude "
                        f"(found: {', '.join(columns) or 'no header'})"
                    )
                deployments = {}
                for number, row in enumerate(reader, start=2):
                    where = f"{path}, line {number}"
                    deployment_id = (row[id_column] or "").strip()
                    if not deployment_id:
                        raise DeploymentsError(f"{where}: empty {id_column}")
                    deployments[deployment_id] = Deployment(
                        deployment_id,
                        _coordinate(row, "latitude", 90, where),
                        _coordinate(row, "longitude", 180, where),
                    )
        except OSError as exc:
            raise DeploymentsError(f"{path}: cannot read it ({exc.strerror or exc})") from None
        media_csv = path.with_name("media.csv")
        if id_column == "deploymentID" and media_csv.is_file():
            return cls(deployments, *_camtrap_dp_media(media_csv))
        return cls(deployments)

    def locate(self, image: Path) -> Placement | None:
        """Where this image was taken, or None when nothing names its deployment."""
        image = Path(image)
        media = self.media.get(image.resolve()) or self.media_names.get(image.name)
        if media is not None and media.deployment_id in self.deployments:
            return Placement(self.deployments[media.deployment_id], media.timestamp or None)
        folder = next((folder.name for folder in image.parents if folder.name in self.deployments), None)
        return Placement(self.deployments[folder]) if folder else None


@dataclass(frozen=True)
class MediaRow:
    deployment_id: str
    timestamp: str | None


def _camtrap_dp_media(media_csv: Path) -> tuple[dict[Path, MediaRow], dict[str, MediaRow]]:
    """Camtrap DP media.csv, by each local filePath (relative to the package) and by file name when
    no other deployment uses the same name (cameras restart at RCNX0001)."""
    by_path, by_name, ambiguous = {}, {}, set()
    with media_csv.open(newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            if not row.get("deploymentID"):
                continue
            media = MediaRow(row["deploymentID"], row.get("timestamp"))
            file_path, name = row.get("filePath") or "", row.get("fileName")
            if file_path and "://" not in file_path:
                by_path[(media_csv.parent / file_path).resolve()] = media
            if name:
                if name in by_name and by_name[name].deployment_id != media.deployment_id:
                    ambiguous.add(name)
                by_name[name] = media
    return by_path, {name: media for name, media in by_name.items() if name not in ambiguous}
