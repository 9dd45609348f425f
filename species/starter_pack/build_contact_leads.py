"""Build contacts_griis_leads.csv: public bodies named in the national GRIIS checklists, as contacts.

Input: ../shared/data/contacts/griis_checklist_organisations.csv (the organisations named in each
checklist's EML metadata; people's names and e-mails left out; CC BY 4.0 like the checklists) and
../shared/data/invasive/griis_countries/INDEX.csv (each checklist's GBIF dataset page).

Each organisation below was read and judged by hand: a government ministry, department or agency,
a public research institute that compiled the country's alien-species checklist, or the Pacific's
intergovernmental environment programme (SPREP) where a small island state's checklist names no
national body. Universities, NGOs, companies, consultants, museums and botanic gardens are left out:
compiling a register does not make them a reporting route. Only countries with no contact in
contacts.csv get a lead. Every row cites the checklist's GBIF page and stays unverified (empty
`verified_on`): nobody has checked its reporting page yet.

Run:  .venv/bin/python species/starter_pack/build_contact_leads.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pycountry

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
OUTPUT = "contacts_griis_leads.csv"
FIELDS = [
    "region_code",
    "kind",
    "organisation",
    "phone",
    "email",
    "url",
    "hours",
    "languages",
    "notes",
    "source_url",
    "verified_on",
]
SPREP = "Secretariat of the Pacific Regional Environment Programme (SPREP)"
SPREP_NOTE = (
    "an intergovernmental body of the Pacific (not a national agency) that runs invasive-species programmes "
    "for its member states; named by the checklist, where no national body is named"
)
RESEARCH_NOTE = "a public research institute that compiled the checklist; it may not take reports itself"

# checklist countryCode -> [(organisation as the CSV writes it, the name shown, kind, what it is)]
ACCEPTED: dict[str, list[tuple[str, str, str, str]]] = {
    "AE": [
        (
            "UAE Ministry of Climate Change and Environment",
            "Ministry of Climate Change and Environment, United Arab Emirates",
            "national_agency",
            "",
        )
    ],
    "AI": [
        (
            "Department of Environment, Government of Anguilla",
            "Department of Environment, Government of Anguilla",
            "national_agency",
            "",
        )
    ],
    "AS": [
        (
            "National Park of American Samoa (NPSA) -Governor's Office (ASG) Invasive American Samoa",
            "American Samoa Government, Governor's Office (Invasive American Samoa)",
            "national_agency",
            "",
        )
    ],
    "BL": [
        (
            "Agence territoriale de l’environnement de Saint-Barthélemy",
            "Agence territoriale de l'environnement de Saint-Barthélemy",
            "national_agency",
            "",
        )
    ],
    "BM": [
        (
            "Government of Bermuda | Department of Environment and Natural Resources",
            "Department of Environment and Natural Resources, Government of Bermuda",
            "national_agency",
            "",
        )
    ],
    "BY": [
        (
            "Scientific and Practical Centre on Bioresources Belarus Academy of Sciences.",
            "Scientific and Practical Centre for Bioresources, National Academy of Sciences of Belarus",
            "national_agency",
            RESEARCH_NOTE,
        )
    ],
    "CK": [
        (
            "National Environment Service. Government of the Cook Islands. Rarotonga, Cook Islands",
            "National Environment Service (Tu'anga Taporoporo), Government of the Cook Islands",
            "national_agency",
            "",
        )
    ],
    "CU": [
        (
            '"Instituto de Ecología y Sistemática (CITMA) Cuba"',
            "Instituto de Ecología y Sistemática (CITMA)",
            "national_agency",
            RESEARCH_NOTE,
        )
    ],
    "EG": [
        (
            "National Institute of Oceanography, Egypt",
            "National Institute of Oceanography and Fisheries, Egypt",
            "national_agency",
            RESEARCH_NOTE,
        )
    ],
    "FM": [("Secretariat of the Pacific Region Environment Programme (SPREP)", SPREP, "national_agency", SPREP_NOTE)],
    "GH": [("CSIR Water Research Institute", "CSIR Water Research Institute, Ghana", "national_agency", RESEARCH_NOTE)],
    "KH": [
        (
            "Department of Forestry and Community Forestry, Forestry Administration, Ministry of Agriculture Forestry and Fishery (MAFF), Cambodia",
            "Forestry Administration, Ministry of Agriculture, Forestry and Fisheries, Cambodia",
            "national_agency",
            "",
        )
    ],
    "KI": [("Secretariat of the Pacific Regional Environment Programme (SPREP)", SPREP, "national_agency", SPREP_NOTE)],
    "LI": [
        (
            "Office of Environment, Department Forests and Landscape",
            "Office of Environment (Amt für Umwelt), Liechtenstein",
            "national_agency",
            "",
        )
    ],
    "LK": [
        (
            "Biodiversity Secretariat, Ministry of Mahaweli Development and Environment",
            "Biodiversity Secretariat, Ministry of Environment, Sri Lanka",
            "national_agency",
            "",
        )
    ],
    "LS": [
        (
            "Department of Range Resources Management, Lesotho",
            "Department of Range Resources Management, Lesotho",
            "national_agency",
            "",
        )
    ],
    "MD": [
        (
            "Institute of Zoology, Academy of Sciences of Moldova",
            "Institute of Zoology, Academy of Sciences of Moldova",
            "national_agency",
            RESEARCH_NOTE,
        )
    ],
    "MH": [
        (
            "RMI Ministry of Natural Resources and Commerce",
            "Ministry of Natural Resources and Commerce, Republic of the Marshall Islands",
            "national_agency",
            "",
        )
    ],
    "MM": [
        (
            "Forest Department Ministry of Natural Resources and Environmental Conservation",
            "Forest Department, Ministry of Natural Resources and Environmental Conservation, Myanmar",
            "national_agency",
            "",
        )
    ],
    "MV": [
        (
            "Agriculture Training, Extension and Adaptive Research Section Ministry of Fisheries, Marine Resources and Agriculture",
            "Ministry of Fisheries, Marine Resources and Agriculture, Maldives",
            "national_agency",
            "",
        )
    ],
    "NR": [("Secretariat of the Pacific Region Environment Programme (SPREP)", SPREP, "national_agency", SPREP_NOTE)],
    "NU": [
        (
            "Department of Environment, Government of Niue",
            "Department of Environment, Government of Niue",
            "national_agency",
            "",
        )
    ],
    "PA": [
        (
            "Departamento de Biodiversidad Dirección de Áreas Protegidas y Biodiversidad Ministerio de Ambiente de Panamá",
            "Ministerio de Ambiente de Panamá, Dirección de Áreas Protegidas y Biodiversidad",
            "national_agency",
            "",
        )
    ],
    "PN": [
        (
            "Environmental, Conservation & Natural Resources Government of Pitcairn Islands",
            "Environment, Conservation & Natural Resources Division, Government of the Pitcairn Islands",
            "national_agency",
            "",
        )
    ],
    "PW": [("Secretariat of the Pacific Region Environment Programme (SPREP)", SPREP, "national_agency", SPREP_NOTE)],
    "RU": [
        (
            "Institute of Ecology and Evolution, Russian Academy of sciences",
            "A. N. Severtsov Institute of Ecology and Evolution, Russian Academy of Sciences",
            "national_agency",
            RESEARCH_NOTE,
        )
    ],
    "SB": [("Secretariat of the Pacific Region Environment Programme (SPREP)", SPREP, "national_agency", SPREP_NOTE)],
    "SC": [
        (
            "Seychelles Islands Foundation",
            "Seychelles Islands Foundation",
            "national_agency",
            "a public trust set up by the government to manage Aldabra and the Vallée de Mai; not a national agency",
        )
    ],
    "SG": [("National Parks Board, Singapore", "National Parks Board (NParks), Singapore", "wildlife_agency", "")],
    "SJ": [
        (
            "Artsdatabanken, Norwegian Biodiversity Information Centre",
            "Norwegian Biodiversity Information Centre (Artsdatabanken)",
            "national_agency",
            "",
        )
    ],
    "TL": [
        (
            "Biodiversity Directorate, Government of Timor Leste",
            "Biodiversity Directorate, Government of Timor-Leste",
            "national_agency",
            "",
        )
    ],
    "TM": [
        (
            "Lab. of Biodiversity of the National Institute Deresrts, Flora and Fauna, Turkmenistan",
            "National Institute of Deserts, Flora and Fauna, Turkmenistan",
            "national_agency",
            RESEARCH_NOTE,
        )
    ],
    "TN": [
        (
            "National Institute of Sea Sciences and Technologies, Monastir",
            "National Institute of Marine Sciences and Technologies (INSTM), Tunisia",
            "national_agency",
            RESEARCH_NOTE,
        )
    ],
    "TO": [
        (
            "Ministry of Environment and Climate Change, Government of Tonga",
            "Ministry of Environment and Climate Change, Government of Tonga",
            "national_agency",
            "",
        )
    ],
    "TV": [
        (
            "Ministry of Agriculture & Local Government",
            "Ministry of Agriculture & Local Government, Tuvalu",
            "national_agency",
            "",
        )
    ],
    "UG": [
        (
            "National Invasive Species Coordination Unit National Agricultural Research Organization (NARO) PO Box 292 Entebbe Uganda",
            "National Invasive Species Coordination Unit, National Agricultural Research Organisation (NARO)",
            "invasive_species_council",
            "",
        )
    ],
    "VU": [
        (
            "Department of Environmental Protection and Conservation. Ministry of Meterology, Natural Disaster, Environment and Energy",
            "Department of Environmental Protection and Conservation, Vanuatu",
            "national_agency",
            "",
        ),
        (
            "Vanuatu Quarantine & Inspection Service (VQIS)",
            "Vanuatu Quarantine & Inspection Service (VQIS)",
            "national_agency",
            "",
        ),
    ],
    "WF": [
        (
            "Service de l'Environnement",
            "Service de l'Environnement, Wallis et Futuna",
            "national_agency",
            "",
        )
    ],
    "WS": [("Secretariat of the Pacific Region Environment Programme (SPREP)", SPREP, "national_agency", SPREP_NOTE)],
    "YT": [
        (
            "Unité Biodiversité Service Environnement et Prévention des Risques DEAL de Mayotte",
            "DEAL de Mayotte, Service Environnement et Prévention des Risques",
            "national_agency",
            "",
        )
    ],
}


def alpha3(code: str) -> str | None:
    country = pycountry.countries.get(alpha_2=code)
    return country.alpha_3 if country else None


def build(shared: Path) -> list[dict]:
    with open(shared / "contacts" / "griis_checklist_organisations.csv", newline="", encoding="utf-8") as fh:
        named = {(r["countryCode"], r["organisation"]): r for r in csv.DictReader(fh)}
    with open(shared / "invasive" / "griis_countries" / "INDEX.csv", newline="", encoding="utf-8") as fh:
        pages = {}
        for r in csv.DictReader(fh):
            if not r["locationID"]:
                key = r["gbif_dataset_key"].strip()
                pages.setdefault(r["countryCode"], f"https://www.gbif.org/dataset/{key}" if key else r["datasetID"])
    with open(HERE / "contacts.csv", newline="", encoding="utf-8") as fh:
        covered = {r["region_code"] for r in csv.DictReader(fh)}
    rows = []
    for code, organisations in sorted(ACCEPTED.items()):
        region = alpha3(code)
        if region is None or region in covered:
            continue
        for as_written, name, kind, what in organisations:
            lead = named.get((code, as_written))
            if lead is None:
                raise SystemExit(f"{code}: {as_written!r} is not in the organisations table")
            note = f"Named as {lead['role']} of '{lead['checklist']}'; not yet checked for a reporting page."
            rows.append(
                {
                    "region_code": region,
                    "kind": kind,
                    "organisation": name,
                    "phone": "",
                    "email": "",
                    "url": "",
                    "hours": "",
                    "languages": "",
                    "notes": f"{note} It is {what}." if what else note,
                    "source_url": pages[code],
                    "verified_on": "",
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    rows = build(parser.parse_args().shared.resolve())
    with open(HERE / OUTPUT, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {OUTPUT} ({len(rows)} rows, {len({r['region_code'] for r in rows})} countries)")


if __name__ == "__main__":
    main()
