"""GRIIS values as published (Alien/alien/introduced, Invasive/Yes/Null/FALSE, ...) -> Darwin Core vocabularies.

Pure functions: one published value in, the Darwin Core term (or None: not an alien record) out.
Vocabularies: https://dwc.tdwg.org/em/ (establishmentMeans, degreeOfEstablishment).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# establishmentMeans as published -> Darwin Core establishmentMeans. GRIIS separates two values with
# '|' or '/'; Darwin Core lists use '|'. "Native|Alien" (native in part of the country, alien in the
# rest) is kept as the list "native|introduced" so that the verdict can tell it from a plain alien.
_MEANS = {
    "alien": "introduced",
    "introduced": "introduced",
    "cryptogenic|uncertain": "uncertain",  # origin unknown: may be native
    "cryptogenic|unknown": "uncertain",
    "native|alien": "native|introduced",
    "alien|native": "native|introduced",
    "native|introduced": "native|introduced",
    "native|invasive": "native|introduced",
}
_TYPOS = {"uncerain": "uncertain"}

NOT_PRESENT = {"absent", "excluded", "doubtful", "uncertain"}
_SYNONYM_WORDS = ("SYNONYM", "SYNOYM", "BASIONYM")
_STATUS_WORDS = ("ACCEPTED", "DOUBTFUL", *_SYNONYM_WORDS)
# taxonRank as published -> the project's ranks (varieties and forms are kept as subspecies).
_RANKS = {
    "species": "species",
    "hybrid": "species",
    "subspecies": "subspecies",
    "variety": "subspecies",
    "form": "subspecies",
    "genus": "genus",
    "family": "family",
}


def establishment_means(value: str) -> str | None:
    """'Alien' -> 'introduced'; 'Cryptogenic/Uncerain' -> 'uncertain'; 'Native|Alien' ->
    'native|introduced'; '' -> 'introduced' (a GRIIS checklist lists alien taxa only);
    None for a value that is not in the vocabulary."""
    key = re.sub(r"\s*[|/]\s*", "|", (value or "").strip().lower())
    for typo, fixed in _TYPOS.items():
        key = key.replace(typo, fixed)
    if not key:
        return "introduced"
    return _MEANS.get(key)


@dataclass(frozen=True)
class Invasiveness:
    degree: str  # Darwin Core degreeOfEstablishment: "invasive", or "" (not assessed / not invasive)
    note: str = ""  # what was read, when it was not a plain yes or no
    recognised: bool = True


def invasiveness(value: str) -> Invasiveness:
    """isInvasive as published: 'Invasive'/'invasive'/'Yes'/'TRUE' -> invasive; 'Null'/'null'/'FALSE'/''
    -> not assessed; 'Invasive?' -> not counted (a doubt is not an assessment); a sentence that
    starts with 'Invasive' ('Invasive in the north of the island') -> invasive, the sentence kept."""
    text = " ".join((value or "").split())
    key = text.lower()
    if key in ("invasive", "yes", "true"):
        return Invasiveness("invasive")
    if key in ("", "null", "false", "no"):
        return Invasiveness("")
    if "?" in key:
        return Invasiveness("", f"isInvasive {text!r}: doubtful, not counted as invasive")
    if key.startswith("invasive"):
        return Invasiveness("invasive", f"isInvasive: {text}")
    return Invasiveness("", f"isInvasive {text!r} not recognised", recognised=False)


def occurrence_present(value: str) -> bool:
    """Present unless the checklist says absent, excluded, doubtful or uncertain (empty is present:
    a GRIIS checklist lists taxa present in its area)."""
    return (value or "").strip().lower() not in NOT_PRESENT


def rank_and_synonymy(taxon_rank: str, taxonomic_status: str) -> tuple[str, bool]:
    """(project rank or '' if unknown, is a synonym). Ten checklists have the two columns swapped in
    some rows (taxonRank 'ACCEPTED', taxonomicStatus 'SPECIES'): they are read the right way round."""
    rank, status = (taxon_rank or "").strip().upper(), (taxonomic_status or "").strip().upper()
    if rank.startswith(_STATUS_WORDS) and not status.startswith(_STATUS_WORDS):
        rank, status = status, rank
    synonym = any(word in status for word in _SYNONYM_WORDS)
    return _RANKS.get(rank.lower(), ""), synonym
