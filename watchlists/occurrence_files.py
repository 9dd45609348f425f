"""Readers of occurrence files from outside: a GBIF Darwin Core Archive (zip or unpacked folder
with meta.xml), GBIF's simple tab-separated download and an iNaturalist CSV export. No Django here.

Two readers over the same formats and rules: read_occurrence_chunks (what the import uses) parses
the file in chunks of tens of thousands of rows with pandas' C parser and cleans them column by
column into OccurrenceChunk; read_occurrences yields one OccurrenceRow (or a skip reason) at a time
and is the rules' plain statement, which the chunks are tested against. Memory is constant in both."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import queue
import re
import sys
import threading
import zipfile
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd

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


# -- the same rules, a chunk at a time, column by column ------------------------------------------

CHUNK_ROWS = 50_000
# The Darwin Core terms and iNaturalist columns the rules above read; the parser skips the rest.
DWC_TERMS = frozenset(
    {
        "occurrenceStatus",
        "decimalLatitude",
        "decimalLongitude",
        "gbifID",
        "occurrenceID",
        "species",
        "scientificName",
        "datasetKey",
        "datasetName",
        "bibliographicCitation",
        "references",
        "coordinateUncertaintyInMeters",
        "eventDate",
        "license",
        "rightsHolder",
    }
)
INATURALIST_COLUMNS = frozenset(
    {
        "id",
        "observed_on",
        "time_observed_at",
        "url",
        "license",
        "scientific_name",
        "latitude",
        "longitude",
        "positional_accuracy",
        "user_name",
        "user_login",
    }
)
# OccurrenceRow's fields, then the row's hash: the columns of OccurrenceChunk.columns.
CHUNK_COLUMNS = (
    "occurrence_id",
    "dataset_key",
    "gbif_id",
    "scientific_name",
    "latitude",
    "longitude",
    "coordinate_uncertainty_m",
    "event_date",
    "license",
    "rights_holder",
    "citation",
    "source_url",
    "row_sha1",
)


@dataclass
class OccurrenceChunk:
    """Consecutive rows of a file: `read` counts them all, `skipped` the ones the rules leave out
    (by reason), `columns` holds the kept ones column-wise (CHUNK_COLUMNS, numpy arrays): floats
    with NaN for "none", ISO date strings or None, ints or None for gbif_id, str otherwise."""

    read: int
    skipped: Counter = field(default_factory=Counter)
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.columns.get("occurrence_id", ()))


def _strings(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), "", dtype=object)
    return frame[name].fillna("").to_numpy(dtype=object)


def _objects(values) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _floats(values: np.ndarray) -> np.ndarray:
    """_float over an array: float64, NaN where _float gives None. One C loop unless a value is not
    a number (then each value goes through _float)."""
    try:
        return np.where(values == "", "nan", values).astype(np.float64)
    except (TypeError, ValueError):
        return np.array([np.nan if (f := _float(v)) is None else f for v in values], dtype=np.float64)


def _dates(values: np.ndarray) -> np.ndarray:
    """_date over an array as ISO strings (None: no date); each distinct value is parsed once."""
    parsed = {}
    for value in dict.fromkeys(values.tolist()):
        day = _date(value)
        parsed[value] = day.isoformat() if day else None
    return _objects([parsed[v] for v in values.tolist()])


def _on_earth(latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (np.abs(latitude) <= 90) & (np.abs(longitude) <= 180)  # NaN compares False


def _kept(read: int, rules: list[tuple[str, np.ndarray]]) -> tuple[np.ndarray, Counter]:
    """The rows no rule skips (their positions) and the skipped ones counted by their first rule."""
    left, skipped = np.ones(read, dtype=bool), Counter()
    for reason, hit in rules:
        count = int((left & hit).sum())
        if count:
            skipped[reason] = count
        left &= ~hit
    return np.flatnonzero(left), skipped


def _with_sha1(read: int, skipped: Counter, columns: dict) -> OccurrenceChunk:
    """OccurrenceRow.sha1 for every row (the same hash, so files imported row by row stay unchanged)."""
    columns = {name: values if isinstance(values, np.ndarray) else _objects(values) for name, values in columns.items()}
    parts = zip(
        columns["gbif_id"].tolist(),
        columns["scientific_name"].tolist(),
        columns["latitude"].tolist(),
        columns["longitude"].tolist(),
        columns["coordinate_uncertainty_m"].tolist(),
        columns["event_date"].tolist(),
        columns["license"].tolist(),
        columns["rights_holder"].tolist(),
        columns["citation"].tolist(),
        columns["source_url"].tolist(),
    )
    columns["row_sha1"] = _objects(
        [
            hashlib.sha1(
                f"{'' if g is None else g}\x1f{n}\x1f{la!r}\x1f{lo!r}\x1f{'' if u != u else u}\x1f{d or ''}"
                f"\x1f{li}\x1f{r}\x1f{c}\x1f{s}".encode()
            ).hexdigest()
            for g, n, la, lo, u, d, li, r, c, s in parts
        ]
    )
    return OccurrenceChunk(read=read, skipped=skipped, columns=columns)


def columns_from_dwc(frame: pd.DataFrame, dataset_titles: dict[str, str] | None = None) -> OccurrenceChunk:
    """row_from_dwc over a frame of Darwin Core columns (str values, "" where empty)."""
    read = len(frame)
    get = lambda name: _strings(frame, name)  # noqa: E731
    absent = np.array([s.strip().upper() == "ABSENT" for s in get("occurrenceStatus")], dtype=bool)
    latitude, longitude = _floats(get("decimalLatitude")), _floats(get("decimalLongitude"))
    gbif = get("gbifID")
    ids = _objects([o.strip() or (f"gbif:{g}" if g else "") for o, g in zip(get("occurrenceID"), gbif)])
    names = _objects([(s or n).strip() for s, n in zip(get("species"), get("scientificName"))])
    keep, skipped = _kept(
        read,
        [
            (SKIP_ABSENT, absent),
            (SKIP_NO_COORDINATES, ~_on_earth(latitude, longitude)),
            (SKIP_NO_ID, ids == ""),
            (SKIP_NO_NAME, names == ""),
        ],
    )
    gbif, ids, keys = gbif[keep].tolist(), ids[keep].tolist(), get("datasetKey")[keep]
    titles = dataset_titles or {}
    title = [titles.get(k) or n or k for k, n in zip(keys.tolist(), get("datasetName")[keep].tolist())]
    urls = [f"https://www.gbif.org/occurrence/{g}" if g else "" for g in gbif]
    own = [c.strip() for c in get("bibliographicCitation")[keep].tolist()]
    citations = [
        (f"{o}. {t}" if o else f"{t}. Occurrence {i}") + (f" via GBIF.org ({u})" if u else "")
        for o, t, i, u in zip(own, title, ids, urls)
    ]
    columns = {
        "occurrence_id": [i[:300] for i in ids],
        "dataset_key": keys,
        "gbif_id": [int(g) if g.isdigit() else None for g in gbif],
        "scientific_name": [n[:300] for n in names[keep].tolist()],
        "latitude": latitude[keep],
        "longitude": longitude[keep],
        "coordinate_uncertainty_m": _floats(get("coordinateUncertaintyInMeters")[keep]),
        "event_date": _dates(get("eventDate")[keep]),
        "license": [v[:200] for v in get("license")[keep].tolist()],
        "rights_holder": [v[:300] for v in get("rightsHolder")[keep].tolist()],
        "citation": citations,
        "source_url": [(u or r)[:500] for u, r in zip(urls, get("references")[keep].tolist())],
    }
    return _with_sha1(read, skipped, columns)


def columns_from_inaturalist(frame: pd.DataFrame) -> OccurrenceChunk:
    """row_from_inaturalist over a frame of iNaturalist's export columns."""
    read = len(frame)
    get = lambda name: _strings(frame, name)  # noqa: E731
    latitude, longitude = _floats(get("latitude")), _floats(get("longitude"))
    urls = _objects(
        [u or (f"https://www.inaturalist.org/observations/{i}" if i else "") for u, i in zip(get("url"), get("id"))]
    )
    names = _objects([s.strip() for s in get("scientific_name")])
    keep, skipped = _kept(
        read,
        [
            (SKIP_NO_COORDINATES, ~_on_earth(latitude, longitude)),
            (SKIP_NO_ID, urls == ""),
            (SKIP_NO_NAME, names == ""),
        ],
    )
    urls = urls[keep].tolist()
    observers = [
        a or b or "an iNaturalist observer" for a, b in zip(get("user_name")[keep].tolist(), get("user_login")[keep])
    ]
    observed = [a or b for a, b in zip(get("observed_on")[keep].tolist(), get("time_observed_at")[keep].tolist())]
    columns = {
        "occurrence_id": [u[:300] for u in urls],
        "dataset_key": np.full(len(keep), "inaturalist", dtype=object),
        "gbif_id": np.full(len(keep), None, dtype=object),
        "scientific_name": [n[:300] for n in names[keep].tolist()],
        "latitude": latitude[keep],
        "longitude": longitude[keep],
        "coordinate_uncertainty_m": _floats(get("positional_accuracy")[keep]),
        "event_date": _dates(_objects(observed)),
        "license": [v[:200] for v in get("license")[keep].tolist()],
        "rights_holder": [o[:300] for o in observers],
        "citation": [
            f"{o} ({d[:4] or 'undated'}). iNaturalist observation {u}" for o, d, u in zip(observers, observed, urls)
        ],
        "source_url": [u[:500] for u in urls],
    }
    return _with_sha1(read, skipped, columns)


def _frames(source, chunk_rows: int, **options):
    """pandas' C parser, every value a str ("" where empty), `chunk_rows` rows at a time."""
    try:
        with pd.read_csv(
            source, dtype=object, keep_default_na=False, na_filter=False, chunksize=chunk_rows, **options
        ) as frames:
            yield from frames
    except pd.errors.EmptyDataError:
        return


def archive_chunks(path: Path, chunk_rows: int = CHUNK_ROWS):
    archive = Archive(path)
    if "meta.xml" not in archive.names():
        raise OccurrenceFileError(f"{path}: a Darwin Core Archive holds meta.xml")
    core = parse_meta_xml(archive.read_text("meta.xml"))
    titles = _dataset_titles(archive)
    if not core.columns:
        return
    wanted = {
        term: i for i, term in core.columns.items() if term in DWC_TERMS
    }  # a term twice: the last, as row_from_dwc
    quoting = (
        {"quoting": csv.QUOTE_MINIMAL, "quotechar": core.quotechar} if core.quotechar else {"quoting": csv.QUOTE_NONE}
    )
    options = {
        "sep": core.delimiter,
        "header": None,
        "names": list(range(max(core.columns) + 1)),
        "usecols": sorted(set(wanted.values()) | {0}),
        "skiprows": core.header_lines,
        **quoting,
    }
    names = {i: term for term, i in wanted.items()}
    with archive.open_text(core.location, core.encoding) as stream:
        for frame in _frames(stream, chunk_rows, **options):
            yield columns_from_dwc(frame.rename(columns=names), titles)


def delimited_chunks(path: Path, chunk_rows: int = CHUNK_ROWS):
    """read_delimited's formats, a chunk at a time."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        first = fh.readline()
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    header = next(_reader(io.StringIO(first), delimiter, "" if delimiter == "\t" else '"'), [])
    if "decimalLatitude" in header:
        to_columns, wanted = columns_from_dwc, DWC_TERMS
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    elif "latitude" in header and "scientific_name" in header:
        to_columns, wanted, quoting = columns_from_inaturalist, INATURALIST_COLUMNS, csv.QUOTE_MINIMAL
    else:
        raise OccurrenceFileError(
            f"{path}: expected a GBIF download (decimalLatitude, ... columns) or an iNaturalist CSV export"
            " (latitude, longitude, scientific_name, ...)"
        )
    options = {"sep": delimiter, "encoding": "utf-8-sig", "quoting": quoting, "usecols": lambda c: c in wanted}
    for frame in _frames(path, chunk_rows, **options):
        yield to_columns(frame)


def read_occurrence_chunks(path: str | Path, chunk_rows: int = CHUNK_ROWS):
    """Every record of the file, in order, as OccurrenceChunk of at most `chunk_rows` rows."""
    path = Path(path)
    if not path.exists():
        raise OccurrenceFileError(f"{path}: no such file or folder")
    if path.is_dir() or zipfile.is_zipfile(path):
        return archive_chunks(path, chunk_rows)
    return delimited_chunks(path, chunk_rows)


_DONE = object()


def read_ahead(chunks, depth: int = 1):
    """The chunks, parsed and cleaned by a thread while the caller works on the one before (the
    parser and the database wait without the GIL, so the two overlap on two cores). At most
    `depth` chunks wait; an error of the reader is raised here; stopping early stops the thread."""
    waiting: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce():
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        waiting.put(chunk, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            waiting.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread and raised there
            waiting.put(exc)

    thread = threading.Thread(target=produce, name="occurrence-reader", daemon=True)
    thread.start()
    try:
        while (item := waiting.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
