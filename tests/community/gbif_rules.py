"""The GBIF data validator's rules that apply offline, and a Darwin Core Archive read back with
python-dwca-reader: shared by the export tests."""

import re
from datetime import datetime

import pycountry
from dwca.read import DwCAReader

DWC = "http://rs.tdwg.org/dwc/terms/"
DC = "http://purl.org/dc/terms/"
CC_BY = "http://creativecommons.org/licenses/by/4.0/legalcode"
# GBIF accepts exactly these dataset licences (IPT wording).
GBIF_LICENSE_URIS = {
    "http://creativecommons.org/publicdomain/zero/1.0/legalcode",
    CC_BY,
    "http://creativecommons.org/licenses/by-nc/4.0/legalcode",
}
BASIS_OF_RECORD = {
    "PreservedSpecimen",
    "FossilSpecimen",
    "LivingSpecimen",
    "MaterialSample",
    "MaterialEntity",
    "MaterialCitation",
    "HumanObservation",
    "MachineObservation",
    "Occurrence",
    "Event",
    "Taxon",
}
ESTABLISHMENT_MEANS = {
    "",
    "native",
    "nativeReintroduced",
    "introduced",
    "introducedAssistedColonisation",
    "vagrant",
    "uncertain",
}
DEGREE_OF_ESTABLISHMENT = {
    "",
    "native",
    "captive",
    "cultivated",
    "released",
    "failing",
    "casual",
    "reproducing",
    "established",
    "colonising",
    "invasive",
    "widespreadInvasive",
}
TAXON_RANKS = {"kingdom", "phylum", "class", "order", "family", "subfamily", "genus", "species", "subspecies"}
MAX_UNCERTAINTY_M = 20_037_509


def read_archive(path):
    """(rows by occurrenceID: (core terms, [multimedia rows]), the EML root) via python-dwca-reader."""
    with DwCAReader(str(path)) as archive:
        assert archive.descriptor.core.type == DWC + "Occurrence"
        assert [ext.type for ext in archive.descriptor.extensions] == ["http://rs.gbif.org/terms/1.0/Multimedia"]
        rows = {}
        for row in archive:
            data = {term.replace(DWC, "").replace(DC, "dcterms:"): value for term, value in row.data.items()}
            assert data["occurrenceID"] not in rows, "occurrenceID must be unique"
            rows[data["occurrenceID"]] = (data, [ext.data for ext in row.extensions])
        return rows, archive.metadata


def gbif_offline_problems(rows) -> list[str]:
    """The GBIF data validator's checks that need no network, one message per failing value."""
    problems = []
    for occurrence_id, (row, media) in rows.items():
        for term in ("occurrenceID", "basisOfRecord", "scientificName", "eventDate", "kingdom", "countryCode"):
            if not row.get(term):
                problems.append(f"{occurrence_id}: {term} is empty")
        if row["basisOfRecord"] not in BASIS_OF_RECORD:
            problems.append(f"{occurrence_id}: basisOfRecord {row['basisOfRecord']!r} not in the vocabulary")
        try:
            datetime.fromisoformat(row["eventDate"])
        except ValueError:
            problems.append(f"{occurrence_id}: eventDate {row['eventDate']!r} is not ISO 8601")
        lat, lon = row["decimalLatitude"], row["decimalLongitude"]
        if bool(lat) != bool(lon):
            problems.append(f"{occurrence_id}: only one of decimalLatitude/decimalLongitude")
        if lat and not (-90 <= float(lat) <= 90 and -180 <= float(lon) <= 180):
            problems.append(f"{occurrence_id}: coordinates out of range")
        if lat and row["geodeticDatum"] != "EPSG:4326":
            problems.append(f"{occurrence_id}: geodeticDatum missing")
        uncertainty = row["coordinateUncertaintyInMeters"]
        if uncertainty and not (re.fullmatch(r"\d+", uncertainty) and 1 <= int(uncertainty) <= MAX_UNCERTAINTY_M):
            problems.append(f"{occurrence_id}: coordinateUncertaintyInMeters {uncertainty!r} invalid")
        if uncertainty and not lat:
            problems.append(f"{occurrence_id}: coordinateUncertaintyInMeters without coordinates")
        if pycountry.countries.get(alpha_2=row["countryCode"]) is None:
            problems.append(f"{occurrence_id}: countryCode {row['countryCode']!r} is not ISO 3166-1 alpha-2")
        if (
            row["establishmentMeans"] not in ESTABLISHMENT_MEANS
            or row["degreeOfEstablishment"] not in DEGREE_OF_ESTABLISHMENT
        ):
            problems.append(f"{occurrence_id}: establishment terms outside their vocabularies")
        if row["taxonRank"] not in TAXON_RANKS:
            problems.append(f"{occurrence_id}: taxonRank {row['taxonRank']!r}")
        if row["occurrenceStatus"] not in ("present", "absent"):
            problems.append(f"{occurrence_id}: occurrenceStatus {row['occurrenceStatus']!r}")
        if row["dcterms:license"] not in GBIF_LICENSE_URIS:
            problems.append(f"{occurrence_id}: license {row['dcterms:license']!r} is not a GBIF licence URI")
        for item in media:
            if item[DC + "license"] not in GBIF_LICENSE_URIS or not item[DC + "identifier"].startswith("https://"):
                problems.append(f"{occurrence_id}: multimedia row without an absolute link or licence URI")
    return problems
