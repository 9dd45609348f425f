"""Darwin Core Archive export: occurrence core + multimedia extension, meta.xml, eml.xml.

Coordinates are the public ones (generalised for sensitive records, computed at export time, so a
taxon newly marked sensitive is generalised in the next export), and each row says so in
dataGeneralizations / informationWithheld.
"""
from __future__ import annotations

import csv
import io
import zipfile
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import timezone

from observations.models import Observation, Verification
from observations.selectors import (
    observation_best_taxon,
    observation_public_first_records,
    observation_public_location,
    observation_region_codes,
    public_observations,
)
from ranges.selectors import regions_by_codes

DWC = "http://rs.tdwg.org/dwc/terms/"
DC = "http://purl.org/dc/terms/"
OCCURRENCE_FIELDS = [
    ("occurrenceID", DWC),
    ("basisOfRecord", DWC),
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
    ("dataGeneralizations", DWC),
    ("informationWithheld", DWC),
    ("recordedBy", DWC),
    ("occurrenceRemarks", DWC),
]
MULTIMEDIA_FIELDS = [("type", DC), ("format", DC), ("identifier", DC), ("references", DC), ("license", DC)]
MULTIMEDIA_ROW_TYPE = "http://rs.gbif.org/terms/1.0/Multimedia"
OCCURRENCE_ROW_TYPE = "http://rs.tdwg.org/dwc/terms/Occurrence"

# Verdict → Darwin Core establishmentMeans / degreeOfEstablishment vocabularies.
_ESTABLISHMENT = {"native": ("native", "native"), "introduced": ("introduced", ""), "invasive": ("introduced", "invasive"), "out_of_range": ("uncertain", "")}


def occurrence_row(observation: Observation, regions: dict) -> dict:
    place = observation_public_location(observation)
    taxon = observation_best_taxon(observation)
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
    means, degree = _ESTABLISHMENT.get(stored.status if stored else "", ("", ""))
    withheld = place.latitude is None
    firsts = observation_public_first_records(observation, place.category)  # none finer than the generalisation
    remarks = f"first record in {', '.join(firsts)}" if firsts and not withheld else ""
    return {
        "occurrenceID": f"urn:uuid:{observation.uuid}",
        "basisOfRecord": "HumanObservation" if by_person else "MachineObservation",
        "scientificName": taxon.scientific_name if taxon else "",
        "taxonRank": taxon.rank if taxon else "",
        "kingdom": _kingdom(taxon),
        "eventDate": (observation.observed_at or observation.created).isoformat(),
        "decimalLatitude": "" if withheld else f"{place.latitude:.6f}".rstrip("0").rstrip("."),
        "decimalLongitude": "" if withheld else f"{place.longitude:.6f}".rstrip("0").rstrip("."),
        "geodeticDatum": "" if withheld else "EPSG:4326",
        "coordinateUncertaintyInMeters": "" if place.coordinate_uncertainty_m is None else str(int(place.coordinate_uncertainty_m)),
        "countryCode": country.iso_a2 if country and country.iso_a2 else "",
        "stateProvince": state.name if state and place.category not in ("withhold",) else "",
        "establishmentMeans": means,
        "degreeOfEstablishment": degree,
        "identificationVerificationStatus": {"confirmed": "verified", "rejected": "rejected"}.get(observation.verification, "unverified"),
        "identifiedBy": identified_by,
        "dataGeneralizations": place.data_generalizations,
        "informationWithheld": place.information_withheld,
        "recordedBy": observation.owner.username,
        "occurrenceRemarks": remarks,
    }


def _kingdom(taxon) -> str:
    node, seen = taxon, set()
    while node is not None and node.pk not in seen:
        seen.add(node.pk)
        if node.rank == "kingdom":
            return node.scientific_name
        node = node.parent
    return ""


def _meta_xml() -> str:
    def fields(spec, start):
        return "\n".join(f'    <field index="{i}" term="{ns}{name}"/>' for i, (name, ns) in enumerate(spec, start=start))

    return f"""<?xml version="1.0" encoding="UTF-8"?>
<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml">
  <core encoding="UTF-8" fieldsTerminatedBy="\\t" linesTerminatedBy="\\n" fieldsEnclosedBy="" ignoreHeaderLines="1" rowType="{OCCURRENCE_ROW_TYPE}">
    <files><location>occurrence.txt</location></files>
    <id index="0"/>
{fields(OCCURRENCE_FIELDS, 0)}
  </core>
  <extension encoding="UTF-8" fieldsTerminatedBy="\\t" linesTerminatedBy="\\n" fieldsEnclosedBy="" ignoreHeaderLines="1" rowType="{MULTIMEDIA_ROW_TYPE}">
    <files><location>multimedia.txt</location></files>
    <coreid index="0"/>
{fields(MULTIMEDIA_FIELDS, 1)}
  </extension>
</archive>
"""


def _eml_xml(count: int) -> str:
    now = timezone.now()
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<eml:eml xmlns:eml="eml://ecoinformatics.org/eml-2.1.1" packageId="rangewatch-{now:%Y%m%dT%H%M%S}" system="RangeWatch" xml:lang="en">
  <dataset>
    <title>{escape("RangeWatch citizen-science occurrences")}</title>
    <creator><organizationName>RangeWatch</organizationName></creator>
    <pubDate>{now.date().isoformat()}</pubDate>
    <language>en</language>
    <abstract><para>{escape(f"{count} animal occurrences from geotagged photos, identified by a classifier and, where stated, verified by reviewers. Coordinates of sensitive records are generalised (Chapman 2020); see dataGeneralizations.")}</para></abstract>
    <intellectualRights><para>CC-BY 4.0</para></intellectualRights>
    <contact><organizationName>RangeWatch</organizationName></contact>
  </dataset>
</eml:eml>
"""


def _clean(value) -> str:
    # The archive uses no quoting: tabs and newlines inside values become spaces.
    return " ".join(str(value).split()) if value is not None else ""


def export_observations(*, verified_only: bool = False):
    qs = public_observations().select_related("verified_taxon__parent", "community_taxon__parent", "prediction__taxon__parent")
    if verified_only:
        qs = qs.filter(verification=Verification.CONFIRMED)
    return qs.order_by("created", "id")


def dwca_write(out, *, verified_only: bool = False) -> int:
    """Write the archive to `out` (a path or a binary file object); returns the number of records."""

    observations = list(export_observations(verified_only=verified_only))
    all_codes = {c for o in observations for c in observation_region_codes(o)}
    regions = regions_by_codes(all_codes)
    occ, media = io.StringIO(), io.StringIO()
    occ_writer = csv.writer(occ, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar=None)
    media_writer = csv.writer(media, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar=None)
    occ_writer.writerow([name for name, _ in OCCURRENCE_FIELDS])
    media_writer.writerow(["occurrenceID"] + [name for name, _ in MULTIMEDIA_FIELDS])
    base = settings.RANGEWATCH_PUBLIC_BASE_URL.rstrip("/")
    for observation in observations:
        row = occurrence_row(observation, regions)
        occ_writer.writerow([_clean(row[name]) for name, _ in OCCURRENCE_FIELDS])
        link = f"{base}/api/v1/observations/{observation.uuid}/photo/"
        media_writer.writerow([row["occurrenceID"], "StillImage", "image/jpeg", link, f"{base}/api/v1/feed/{observation.uuid}/", "CC-BY 4.0"])
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("meta.xml", _meta_xml())
        archive.writestr("eml.xml", _eml_xml(len(observations)))
        archive.writestr("occurrence.txt", occ.getvalue())
        archive.writestr("multimedia.txt", media.getvalue())
    return len(observations)
