"""Darwin Core Archive export: occurrence core + multimedia extension, meta.xml, eml.xml (GBIF profile).

Only animal records are exported: an observation whose photo shows no animal, or that nobody could
name, is not an occurrence. Coordinates are the public ones (generalised for sensitive records,
computed at export time, so a taxon newly marked sensitive is generalised in the next export), and
each row says so in dataGeneralizations / informationWithheld; coordinateUncertaintyInMeters is the
device's accuracy plus the generalisation cell, empty where the accuracy is unknown (Darwin Core:
"leave the value empty if the uncertainty is unknown"). Photo links are signed links to the
EXIF-stripped derivative on RANGEWATCH_PUBLIC_BASE_URL, left out where nobody outside could follow
them (a loopback base URL) or where the observer or the taxon withholds the location.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import math
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from django.conf import settings
from django.utils import timezone

from core.errors import ServiceError
from observations.geoprivacy import WITHHOLD
from observations.models import Observation, Verification
from observations.photos import photo_link
from observations.selectors import (
    observation_best_taxon,
    observation_public_first_records,
    observation_public_location,
    observation_region_codes,
    public_observations,
)
from ranges.selectors import regions_by_codes
from ranges.verdict import INTRODUCED, INVASIVE, NATIVE, NO_ANIMAL, OUT_OF_RANGE

DWC = "http://rs.tdwg.org/dwc/terms/"
DC = "http://purl.org/dc/terms/"
OCCURRENCE_FIELDS = [
    ("occurrenceID", DWC),
    ("basisOfRecord", DWC),
    ("occurrenceStatus", DWC),
    ("scientificName", DWC),
    ("taxonRank", DWC),
    ("kingdom", DWC),
    ("eventDate", DWC),
    ("decimalLatitude", DWC),
    ("decimalLongitude", DWC),
    ("geodeticDatum", DWC),
    ("coordinateUncertaintyInMeters", DWC),
    ("countryCode", DWC),
    ("stateProvince", DWC),
    ("establishmentMeans", DWC),
    ("degreeOfEstablishment", DWC),
    ("identificationVerificationStatus", DWC),
    ("identifiedBy", DWC),
    ("dateIdentified", DWC),
    ("dataGeneralizations", DWC),
    ("informationWithheld", DWC),
    ("recordedBy", DWC),
    ("occurrenceRemarks", DWC),
    ("license", DC),
]
MULTIMEDIA_FIELDS = [
    ("type", DC),
    ("format", DC),
    ("identifier", DC),
    ("references", DC),
    ("creator", DC),
    ("license", DC),
]
MULTIMEDIA_ROW_TYPE = "http://rs.gbif.org/terms/1.0/Multimedia"
OCCURRENCE_ROW_TYPE = "http://rs.tdwg.org/dwc/terms/Occurrence"
EML_NS = "eml://ecoinformatics.org/eml-2.1.1"
GBIF_EML_SCHEMA = "http://rs.gbif.org/schema/eml-gbif-profile/1.2/eml.xsd"

# The three licences GBIF accepts for a dataset, as the IPT writes them, with the title it shows.
GBIF_LICENSES = {
    "http://creativecommons.org/publicdomain/zero/1.0/legalcode": "Public Domain (CC0 1.0)",
    "http://creativecommons.org/licenses/by/4.0/legalcode": "Creative Commons Attribution (CC-BY) 4.0",
    "http://creativecommons.org/licenses/by-nc/4.0/legalcode": (
        "Creative Commons Attribution Non Commercial (CC-BY-NC) 4.0"
    ),
}

# Verdict → Darwin Core establishmentMeans / degreeOfEstablishment (both controlled vocabularies).
# An out-of-range animal may be a vagrant or a new introduction: its origin is "uncertain".
ESTABLISHMENT = {
    NATIVE: ("native", "native"),
    INTRODUCED: ("introduced", ""),
    INVASIVE: ("introduced", "invasive"),
    OUT_OF_RANGE: ("uncertain", ""),
}
ANIMALIA = "Animalia"


class ExportConfigError(ServiceError):
    def __init__(self, detail: str):
        super().__init__(detail, code="export_misconfigured")


@dataclass
class ExportSummary:
    occurrences: int = 0
    media: int = 0
    # reason → records left out: no_animal (the photo shows none), unidentified (no taxon),
    # not_animal (a reviewer named a plant or a fungus)
    left_out: Counter = field(default_factory=Counter)
    media_withheld: str = ""  # why no photo links were written at all, if so


def export_license() -> str:
    """The configured licence URI; anything GBIF would refuse stops the export before it starts."""
    uri = settings.RANGEWATCH_DWCA_LICENSE
    if uri not in GBIF_LICENSES:
        raise ExportConfigError(f"RANGEWATCH_DWCA_LICENSE must be one of {', '.join(GBIF_LICENSES)}; got {uri!r}")
    return uri


def public_base_url() -> str:
    return settings.RANGEWATCH_PUBLIC_BASE_URL.rstrip("/")


def base_url_is_public(base: str) -> bool:
    """False for localhost and loopback addresses: links there answer nobody outside this machine."""
    host = (urlsplit(base).hostname or "").lower()
    if not host or host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a host name


def _kingdom(taxon, memo: dict[int, str]) -> str:
    """The kingdom above `taxon` ("" if its lineage has none); each taxon's parents are walked once per export."""
    if taxon is None:
        return ""
    if taxon.pk not in memo:
        memo[taxon.pk] = ""  # a cycle in a damaged tree ends here
        memo[taxon.pk] = taxon.scientific_name if taxon.rank == "kingdom" else _kingdom(taxon.parent, memo)
    return memo[taxon.pk]


def left_out_reason(observation: Observation, taxon, kingdom: str) -> str:
    """Why a record is not an animal occurrence ("" when it is one)."""
    stored = getattr(observation, "verdict", None)
    if (
        stored is not None
        and stored.status == NO_ANIMAL
        and observation.verified_taxon is None
        and observation.community_taxon is None
    ):
        return "no_animal"
    if taxon is None:
        return "unidentified"
    if kingdom != ANIMALIA:
        return "not_animal"
    return ""


def _decimal(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _iso(moment) -> str:
    return moment.replace(microsecond=0).isoformat() if moment else ""


def occurrence_row(observation: Observation, regions: dict, *, taxon, kingdom: str, place, license_uri: str) -> dict:
    stored = getattr(observation, "verdict", None)
    prediction = getattr(observation, "prediction", None)
    codes = observation_region_codes(observation)
    country = next((regions[c] for c in codes if c in regions and regions[c].kind == "country"), None)
    state = next((regions[c] for c in codes if c in regions and regions[c].kind == "admin1"), None)
    by_person = observation.verification == Verification.CONFIRMED
    if by_person:
        identified_by = observation.verified_by.username if observation.verified_by else ""
    elif observation.community_taxon_id:
        identified_by = "RangeWatch community"
    else:
        identified_by = f"RangeWatch model {prediction.model_version.name}" if prediction else ""
    means, degree = ESTABLISHMENT.get(stored.status if stored else "", ("", ""))
    withheld = place.latitude is None
    firsts = observation_public_first_records(observation, place.category)  # none finer than the generalisation
    uncertainty = place.coordinate_uncertainty_m
    return {
        "occurrenceID": f"urn:uuid:{observation.uuid}",
        # A photo whose identification a reviewer confirmed is a person's observation; the rest is the model's.
        "basisOfRecord": "HumanObservation" if by_person else "MachineObservation",
        "occurrenceStatus": "present",
        "scientificName": taxon.scientific_name,
        "taxonRank": taxon.rank,
        "kingdom": kingdom,
        "eventDate": _iso(observation.observed_at or observation.created),
        "decimalLatitude": "" if withheld else _decimal(place.latitude),
        "decimalLongitude": "" if withheld else _decimal(place.longitude),
        "geodeticDatum": "" if withheld else "EPSG:4326",
        # Whole metres, at least 1 (GBIF flags 0); rounded up so the circle still holds the point.
        "coordinateUncertaintyInMeters": "" if withheld or uncertainty is None else str(max(1, math.ceil(uncertainty))),
        "countryCode": country.iso_a2 if country and country.iso_a2 else "",
        "stateProvince": state.name if state and place.category != WITHHOLD else "",
        "establishmentMeans": means,
        "degreeOfEstablishment": degree,
        "identificationVerificationStatus": {"confirmed": "verified", "rejected": "rejected"}.get(
            observation.verification, "unverified"
        ),
        "identifiedBy": identified_by,
        "dateIdentified": _iso(observation.verified_at) if by_person else "",
        "dataGeneralizations": place.data_generalizations,
        "informationWithheld": place.information_withheld,
        "recordedBy": observation.owner.username,
        "occurrenceRemarks": f"first record in {', '.join(firsts)}" if firsts and not withheld else "",
        "license": license_uri,
    }


def media_row(observation: Observation, occurrence: dict, base: str) -> dict:
    return {
        "type": "StillImage",
        "format": "image/jpeg",  # the served derivative is always a JPEG without EXIF
        "identifier": photo_link(observation=observation),
        "references": f"{base}/api/v1/feed/{observation.uuid}/",
        "creator": occurrence["recordedBy"],
        "license": occurrence["license"],
    }


def _meta_xml() -> str:
    def fields(spec, start):
        return "\n".join(
            f'    <field index="{i}" term="{ns}{name}"/>' for i, (name, ns) in enumerate(spec, start=start)
        )

    files = (
        'encoding="UTF-8" fieldsTerminatedBy="\\t" linesTerminatedBy="\\n" fieldsEnclosedBy="" ignoreHeaderLines="1"'
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml">
  <core {files} rowType="{OCCURRENCE_ROW_TYPE}">
    <files><location>occurrence.txt</location></files>
    <id index="0"/>
{fields(OCCURRENCE_FIELDS, 0)}
  </core>
  <extension {files} rowType="{MULTIMEDIA_ROW_TYPE}">
    <files><location>multimedia.txt</location></files>
    <coreid index="0"/>
{fields(MULTIMEDIA_FIELDS, 1)}
  </extension>
</archive>
"""


def _party(parent, tag: str, base: str) -> None:
    """creator / metadataProvider / contact: the publishing organisation, its e-mail and site."""
    party = ET.SubElement(parent, tag)
    ET.SubElement(party, "organizationName").text = settings.RANGEWATCH_DWCA_PUBLISHER
    if settings.RANGEWATCH_DWCA_CONTACT_EMAIL:
        ET.SubElement(party, "electronicMailAddress").text = settings.RANGEWATCH_DWCA_CONTACT_EMAIL
    if base_url_is_public(base):
        ET.SubElement(party, "onlineUrl").text = base


def _eml_xml(summary: ExportSummary, license_uri: str, dates: list, photo_days: int | None) -> bytes:
    now = timezone.now()
    base = public_base_url()
    ET.register_namespace("eml", EML_NS)
    root = ET.Element(
        f"{{{EML_NS}}}eml",
        {
            "packageId": f"rangewatch-{now:%Y%m%dT%H%M%S}",
            "system": "http://gbif.org",
            "scope": "system",
            "{http://www.w3.org/XML/1998/namespace}lang": "en",
            "{http://www.w3.org/2001/XMLSchema-instance}schemaLocation": f"{EML_NS} {GBIF_EML_SCHEMA}",
        },
    )
    dataset = ET.SubElement(root, "dataset")
    ET.SubElement(
        dataset, "title", {"{http://www.w3.org/XML/1998/namespace}lang": "en"}
    ).text = "RangeWatch citizen-science occurrences"
    _party(dataset, "creator", base)
    _party(dataset, "metadataProvider", base)
    ET.SubElement(dataset, "pubDate").text = now.date().isoformat()
    ET.SubElement(dataset, "language").text = "eng"
    abstract = (
        f"{summary.occurrences} animal occurrences from geotagged photos, identified by a classifier and, where "
        "basisOfRecord is HumanObservation, confirmed by a reviewer. Coordinates of sensitive records are "
        "generalised (Chapman 2020; see dataGeneralizations); coordinateUncertaintyInMeters is the device's "
        "reported accuracy plus any generalisation."
    )
    if photo_days:
        abstract += f" Photo links are signed and valid for {photo_days} days after the export date."
    ET.SubElement(ET.SubElement(dataset, "abstract"), "para").text = abstract
    # The IPT's machine-readable form: GBIF reads the licence from the ulink's url.
    para = ET.SubElement(ET.SubElement(dataset, "intellectualRights"), "para")
    para.text = "This work is licensed under a "
    link = ET.SubElement(para, "ulink", {"url": license_uri})
    ET.SubElement(link, "citetitle").text = f"{GBIF_LICENSES[license_uri]} License"
    link.tail = "."
    if base_url_is_public(base):
        online = ET.SubElement(
            ET.SubElement(ET.SubElement(dataset, "distribution", {"scope": "document"}), "online"), "url"
        )
        online.set("function", "information")
        online.text = base
    if dates:
        temporal = ET.SubElement(ET.SubElement(dataset, "coverage"), "temporalCoverage")
        span = ET.SubElement(temporal, "rangeOfDates")
        ET.SubElement(ET.SubElement(span, "beginDate"), "calendarDate").text = min(dates).isoformat()
        ET.SubElement(ET.SubElement(span, "endDate"), "calendarDate").text = max(dates).isoformat()
    _party(dataset, "contact", base)
    gbif = ET.SubElement(ET.SubElement(ET.SubElement(root, "additionalMetadata"), "metadata"), "gbif")
    ET.SubElement(gbif, "dateStamp").text = now.replace(microsecond=0).isoformat()
    ET.SubElement(gbif, "hierarchyLevel").text = "dataset"
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def _clean(value) -> str:
    # The archive uses no quoting: tabs and newlines inside values become spaces.
    return " ".join(str(value).split()) if value is not None else ""


def export_observations(*, verified_only: bool = False):
    qs = public_observations()
    if verified_only:
        qs = qs.filter(verification=Verification.CONFIRMED)
    return qs.order_by("created", "id")


def dwca_write(out, *, verified_only: bool = False) -> ExportSummary:
    """Write the archive to `out` (a path or a binary file object); says what it wrote and left out."""
    license_uri = export_license()
    base = public_base_url()
    summary = ExportSummary()
    if not base_url_is_public(base):
        summary.media_withheld = f"RANGEWATCH_PUBLIC_BASE_URL ({base}) is not reachable from outside this machine"
    observations = list(export_observations(verified_only=verified_only))
    regions = regions_by_codes({c for o in observations for c in observation_region_codes(o)})
    occ, media = io.StringIO(), io.StringIO()
    occ_writer = csv.writer(occ, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar=None)
    media_writer = csv.writer(media, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar=None)
    occ_writer.writerow([name for name, _ in OCCURRENCE_FIELDS])
    media_writer.writerow(["occurrenceID"] + [name for name, _ in MULTIMEDIA_FIELDS])
    dates, kingdoms = [], {}
    for observation in observations:
        taxon = observation_best_taxon(observation)
        kingdom = _kingdom(taxon, kingdoms)
        reason = left_out_reason(observation, taxon, kingdom)
        if reason:
            summary.left_out[reason] += 1
            continue
        place = observation_public_location(observation)
        row = occurrence_row(observation, regions, taxon=taxon, kingdom=kingdom, place=place, license_uri=license_uri)
        occ_writer.writerow([_clean(row[name]) for name, _ in OCCURRENCE_FIELDS])
        summary.occurrences += 1
        dates.append((observation.observed_at or observation.created).date())
        # A withheld location keeps its photo too: a background can place a record as well as GPS can.
        if not summary.media_withheld and place.category != WITHHOLD:
            extension = media_row(observation, row, base)
            media_writer.writerow([row["occurrenceID"]] + [_clean(extension[name]) for name, _ in MULTIMEDIA_FIELDS])
            summary.media += 1
    photo_days = settings.RANGEWATCH_PHOTO_LINK_MAX_AGE_DAYS if summary.media else None
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("meta.xml", _meta_xml())
        archive.writestr("eml.xml", _eml_xml(summary, license_uri, dates, photo_days))
        archive.writestr("occurrence.txt", occ.getvalue())
        archive.writestr("multimedia.txt", media.getvalue())
    return summary
