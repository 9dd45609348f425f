"""Readers of occurrence files from outside, one row at a time (constant memory): a GBIF Darwin
Core Archive (zip or unpacked folder with meta.xml), GBIF's simple tab-separated download and an
iNaturalist CSV export. Each yields OccurrenceRow (or a skip reason); no Django here."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import re
import sys
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

# Darwin Core Archives hold whole paragraphs in a field; the csv module's default 128 KiB is too little.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

SKIP_ABSENT = "absent"
SKIP_NO_COORDINATES = "no_coordinates"
SKIP_NO_ID = "no_id"
SKIP_NO_NAME = "no_name"


class OccurrenceFileError(ValueError):
    """The file is not one of the formats read here; the message says what was expected."""


@dataclass(frozen=True)
class OccurrenceRow:
    occurrence_id: str
    dataset_key: str
    gbif_id: int | None
    scientific_name: str
    latitude: float
    longitude: float
    coordinate_uncertainty_m: float | None
    event_date: datetime.date | None
    license: str
    rights_holder: str
    citation: str
    source_url: str

    @property
    def sha1(self) -> str:
        fields = (
            self.gbif_id,
            self.scientific_name,
            repr(self.latitude),
            repr(self.longitude),
            self.coordinate_uncertainty_m,
            self.event_date,
            self.license,
            self.rights_holder,
            self.citation,
            self.source_url,
        )
        return hashlib.sha1("\x1f".join("" if f is None else str(f) for f in fields).encode()).hexdigest()


@dataclass(frozen=True)
class Skipped:
    reason: str


def _float(value: str | None) -> float | None:
    try:
        out = float(value) if value not in (None, "") else None
    except ValueError:
        return None
    return out if out is not None and out == out else None  # NaN is no coordinate


def _date(value: str | None) -> datetime.date | None:
    """The start of an ISO 8601 date, date-time or interval ("2018-05-01/2018-05-31")."""
    match = re.match(r"\s*(\d{4})-(\d{2})-(\d{2})", value or "")
    if not match:
        return None
    try:
        return datetime.date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def _point(lat: str | None, lon: str | None) -> tuple[float, float] | None:
    latitude, longitude = _float(lat), _float(lon)
    if latitude is None or longitude is None or not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return latitude, longitude


def row_from_dwc(terms: dict[str, str], dataset_titles: dict[str, str] | None = None) -> OccurrenceRow | Skipped:
    """One record keyed by Darwin Core term names (GBIF's downloads use them as column names)."""
    if (terms.get("occurrenceStatus") or "").strip().upper() == "ABSENT":
        return Skipped(SKIP_ABSENT)
    point = _point(terms.get("decimalLatitude"), terms.get("decimalLongitude"))
    if point is None:
        return Skipped(SKIP_NO_COORDINATES)
    gbif_id = terms.get("gbifID") or ""
    occurrence_id = (terms.get("occurrenceID") or "").strip() or (f"gbif:{gbif_id}" if gbif_id else "")
    if not occurrence_id:
        return Skipped(SKIP_NO_ID)
    name = (terms.get("species") or terms.get("scientificName") or "").strip()
    if not name:
        return Skipped(SKIP_NO_NAME)
    dataset_key = terms.get("datasetKey") or ""
    title = (dataset_titles or {}).get(dataset_key) or terms.get("datasetName") or dataset_key
    gbif_url = f"https://www.gbif.org/occurrence/{gbif_id}" if gbif_id else ""
    # The record's own citation where it has one (a specimen's label), always with its dataset.
    own = (terms.get("bibliographicCitation") or "").strip()
    citation = f"{own}. {title}" if own else f"{title}. Occurrence {occurrence_id}"
    citation += f" via GBIF.org ({gbif_url})" if gbif_url else ""
    references = terms.get("references") or ""
    return OccurrenceRow(
        occurrence_id=occurrence_id[:300],
        dataset_key=dataset_key,
        gbif_id=int(gbif_id) if gbif_id.isdigit() else None,
        scientific_name=name[:300],
        latitude=point[0],
        longitude=point[1],
        coordinate_uncertainty_m=_float(terms.get("coordinateUncertaintyInMeters")),
        event_date=_date(terms.get("eventDate")),
        license=(terms.get("license") or "")[:200],
        rights_holder=(terms.get("rightsHolder") or "")[:300],
        citation=citation,
        source_url=(gbif_url or references)[:500],
    )


def row_from_inaturalist(row: dict[str, str]) -> OccurrenceRow | Skipped:
    """One row of iNaturalist's CSV export (id, observed_on, url, license, latitude, ...)."""
    point = _point(row.get("latitude"), row.get("longitude"))
    if point is None:
        return Skipped(SKIP_NO_COORDINATES)
    url = row.get("url") or (f"https://www.inaturalist.org/observations/{row['id']}" if row.get("id") else "")
    if not url:
        return Skipped(SKIP_NO_ID)
    name = (row.get("scientific_name") or "").strip()
    if not name:
        return Skipped(SKIP_NO_NAME)
    observer = row.get("user_name") or row.get("user_login") or "an iNaturalist observer"
    observed = row.get("observed_on") or row.get("time_observed_at") or ""
    return OccurrenceRow(
        occurrence_id=url[:300],
        dataset_key="inaturalist",
        gbif_id=None,
        scientific_name=name[:300],
        latitude=point[0],
        longitude=point[1],
        coordinate_uncertainty_m=_float(row.get("positional_accuracy")),
        event_date=_date(observed),
        license=(row.get("license") or "")[:200],
        rights_holder=observer[:300],
        citation=f"{observer} ({observed[:4] or 'undated'}). iNaturalist observation {url}",
        source_url=url[:500],
    )


# -- formats -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoreFile:
    location: str
    delimiter: str
    quotechar: str
    header_lines: int
    encoding: str
    columns: dict[int, str]  # index -> Darwin Core term (local name)


def _local(term: str) -> str:
    return re.split(r"[/#]", term)[-1]


def parse_meta_xml(text: str) -> CoreFile:
    """The core file of a Darwin Core Archive and what its columns are (TDWG text guide)."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise OccurrenceFileError(f"meta.xml is not XML ({exc})") from exc
    core = next((el for el in root if el.tag.endswith("core")), None)
    if core is None:
        raise OccurrenceFileError("meta.xml has no <core> element")
    location = next((el.text for el in core.iter() if el.tag.endswith("location")), None)
    if not location:
        raise OccurrenceFileError("meta.xml names no core file")
    columns = {
        int(el.get("index")): _local(el.get("term", ""))
        for el in core
        if el.tag.endswith("field") and el.get("index") is not None
    }
    delimiter = (core.get("fieldsTerminatedBy") or "\\t").encode().decode("unicode_escape") or "\t"
    return CoreFile(
        location=location.strip(),
        delimiter=delimiter,
        quotechar=core.get("fieldsEnclosedBy") or "",
        header_lines=int(core.get("ignoreHeaderLines") or 0),
        encoding=core.get("encoding") or "UTF-8",
        columns=columns,
    )


def _reader(stream, delimiter: str, quotechar: str = ""):
    if quotechar:
        return csv.reader(stream, delimiter=delimiter, quotechar=quotechar)
    return csv.reader(stream, delimiter=delimiter, quoting=csv.QUOTE_NONE)


class Archive:
    """A zip or an unpacked folder: the same calls for both."""

    def __init__(self, path: Path):
        self.path = path
        self.zip = zipfile.ZipFile(path) if path.is_file() else None

    def names(self) -> list[str]:
        if self.zip:
            return self.zip.namelist()
        return [str(p.relative_to(self.path)) for p in self.path.rglob("*") if p.is_file()]

    def read_text(self, name: str) -> str:
        if self.zip:
            return self.zip.read(name).decode("utf-8", "replace")
        return (self.path / name).read_text(encoding="utf-8", errors="replace")

    @contextmanager
    def open_text(self, name: str, encoding: str):
        if self.zip:
            with self.zip.open(name) as raw:
                yield io.TextIOWrapper(raw, encoding=encoding, newline="")
        else:
            with open(self.path / name, encoding=encoding, newline="") as fh:
                yield fh


def _dataset_titles(archive: Archive) -> dict[str, str]:
    """GBIF downloads hold one EML per source dataset: dataset/<datasetKey>.xml."""
    titles = {}
    for name in archive.names():
        if name.startswith("dataset/") and name.endswith(".xml"):
            match = re.search(r"<title[^>]*>([^<]+)</title>", archive.read_text(name))
            if match:
                titles[Path(name).stem] = " ".join(match.group(1).split())
    return titles


def read_archive(path: Path):
    archive = Archive(path)
    if "meta.xml" not in archive.names():
        raise OccurrenceFileError(f"{path}: a Darwin Core Archive holds meta.xml")
    core = parse_meta_xml(archive.read_text("meta.xml"))
    titles = _dataset_titles(archive)
    width = max(core.columns) + 1 if core.columns else 0
    with archive.open_text(core.location, core.encoding) as stream:
        rows = _reader(stream, core.delimiter, core.quotechar)
        for _ in range(core.header_lines):
            next(rows, None)
        for values in rows:
            if not values or values == [""]:
                continue
            values = values + [""] * (width - len(values))
            yield row_from_dwc({term: values[i] for i, term in core.columns.items()}, titles)


def read_delimited(path: Path):
    """GBIF's simple download (tab-separated, Darwin Core names) or iNaturalist's CSV export."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        first = fh.readline()
        fh.seek(0)
        delimiter = "\t" if first.count("\t") > first.count(",") else ","
        header = next(_reader(io.StringIO(first), delimiter, "" if delimiter == "\t" else '"'), [])
        if "decimalLatitude" in header:
            reader = csv.DictReader(fh, delimiter=delimiter, quoting=csv.QUOTE_NONE if delimiter == "\t" else 0)
            for row in reader:
                yield row_from_dwc(row)
        elif "latitude" in header and "scientific_name" in header:
            for row in csv.DictReader(fh, delimiter=delimiter):
                yield row_from_inaturalist(row)
        else:
            raise OccurrenceFileError(
                f"{path}: expected a GBIF download (decimalLatitude, ... columns) or an iNaturalist CSV export"
                " (latitude, longitude, scientific_name, ...)"
            )


def read_occurrences(path: str | Path):
    """Every record of the file, in order: OccurrenceRow or Skipped."""
    path = Path(path)
    if not path.exists():
        raise OccurrenceFileError(f"{path}: no such file or folder")
    if path.is_dir() or zipfile.is_zipfile(path):
        return read_archive(path)
    return read_delimited(path)
