"""Exports of a list's matches, managed ones included: CSV and a Darwin Core Archive (occurrence
core with the terms GBIF reads). Points are those the requesting user may see."""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile

from watchlists.selectors import shown_records

CHUNK = 2000
# (CSV column, Darwin Core term URI or None for RangeWatch's own columns)
COLUMNS = [
    ("occurrenceID", "http://rs.tdwg.org/dwc/terms/occurrenceID"),
    ("scientificName", "http://rs.tdwg.org/dwc/terms/scientificName"),
    ("eventDate", "http://rs.tdwg.org/dwc/terms/eventDate"),
    ("decimalLatitude", "http://rs.tdwg.org/dwc/terms/decimalLatitude"),
    ("decimalLongitude", "http://rs.tdwg.org/dwc/terms/decimalLongitude"),
    ("geodeticDatum", "http://rs.tdwg.org/dwc/terms/geodeticDatum"),
    ("dataGeneralizations", "http://rs.tdwg.org/dwc/terms/dataGeneralizations"),
    ("basisOfRecord", "http://rs.tdwg.org/dwc/terms/basisOfRecord"),
    ("license", "http://purl.org/dc/terms/license"),
    ("bibliographicCitation", "http://purl.org/dc/terms/bibliographicCitation"),
    ("references", "http://purl.org/dc/terms/references"),
    ("establishmentMeans", "http://rs.tdwg.org/dwc/terms/establishmentMeans"),
    ("occurrenceRemarks", "http://rs.tdwg.org/dwc/terms/occurrenceRemarks"),
    ("source", "https://rangewatch.invalid/terms/source"),
    ("triageStatus", "https://rangewatch.invalid/terms/triageStatus"),
    ("triageNote", "https://rangewatch.invalid/terms/triageNote"),
]
_MEANS = {"native": "native", "introduced": "introduced", "invasive": "introduced"}


def _rows(qs, user):
    last = None
    while True:
        page_qs = qs.select_related("occurrence").order_by("id")
        if last is not None:
            page_qs = page_qs.filter(pk__gt=last)
        page = list(page_qs[:CHUNK])
        if not page:
            return
        last = page[-1].pk
        shown = shown_records(page, user)
        for m in page:
            r = shown.get(m.pk)
            if r is None:
                continue
            yield [
                r.record_id,
                r.scientific_name,
                m.observed_on.isoformat() if m.observed_on else "",
                "" if r.latitude is None else r.latitude,
                "" if r.longitude is None else r.longitude,
                "EPSG:4326",
                r.generalised,
                "HumanObservation" if m.observation_id else "Occurrence",
                r.license,
                r.citation,
                r.record_url,
                _MEANS.get(m.verdict_status, ""),
                f"RangeWatch verdict: {m.verdict_status or 'unknown'}",
                m.source,
                m.status,
                m.note,
            ]


def csv_chunks(qs, user, delimiter: str = ","):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow([name for name, _ in COLUMNS])
    for i, row in enumerate(_rows(qs, user)):
        writer.writerow(row)
        if i % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0), buffer.truncate()
    yield buffer.getvalue()


def meta_xml() -> str:
    fields = "\n".join(f'    <field index="{i}" term="{term}"/>' for i, (_, term) in enumerate(COLUMNS))
    return (
        '<archive xmlns="http://rs.tdwg.org/dwc/text/">\n'
        '  <core encoding="UTF-8" fieldsTerminatedBy="\\t" linesTerminatedBy="\\n" fieldsEnclosedBy=""'
        ' ignoreHeaderLines="1" rowType="http://rs.tdwg.org/dwc/terms/Occurrence">\n'
        "    <files><location>occurrence.txt</location></files>\n"
        '    <id index="0"/>\n'
        f"{fields}\n  </core>\n</archive>\n"
    )


def dwca_chunks(qs, user):
    """A zip with occurrence.txt (tab-separated, tabs and newlines in values flattened) and meta.xml,
    built in a temporary file (a zip's directory comes last) and streamed out."""
    with tempfile.TemporaryFile() as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("meta.xml", meta_xml())
            with archive.open("occurrence.txt", "w") as raw:
                out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                out.write("\t".join(name for name, _ in COLUMNS) + "\n")
                for row in _rows(qs, user):
                    out.write("\t".join(" ".join(str(v).split()) for v in row) + "\n")
                out.flush()
                out.detach()
        tmp.seek(0)
        while chunk := tmp.read(64 * 1024):
            yield chunk
