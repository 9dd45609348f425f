"""How an answer is said to people: the one place that words it (issue 22).

The result card, "Your reports", the review desk, the terminal client, alert e-mails and the batch
client's results all show what `answer_words` returns (through the API's `answer` field, or by calling
it), so one answer is never worded two ways. Pure: plain dicts in, plain data out; no Django.

What it decides:
- the status words (the verdict's headline, with the region said the way people say it);
- what the answer names: the identified taxon, common name first, with its rank when it is not a
  species; for a "please verify" answer the taxon asked about ("possibly …"); below the review
  threshold nothing at all ("nothing we can name", or "no animal" when that leads);
- the confidence of *that* taxon, never another candidate's score.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

NO_ANIMAL_KEY = "no_animal"
# Keys a classifier may use for a person (SpeciesNet's "human", the taxon Homo sapiens).
PERSON_KEYS = frozenset({"human", "homo sapiens", "person"})
SPECIES_RANKS = frozenset({"species", "subspecies"})

HEADLINES = {
    "native": "Native here: it belongs in {region}.",
    "invasive": "Invasive here: a known invasive species in {region}. Please report it.",
    "introduced": "Introduced here: not native to {region}; people brought it. Please report it.",
    "out_of_range": "Out of its known range in {region}: possibly a new introduction or an escaped animal. "
    "Please report it.",
    "unknown": "No range data: we cannot say whether it belongs in {region}.",
    "uncertain": "Not sure: nothing we can name from this photo.",
    "no_animal": "No animal found in the photo.",
    "domestic": "A domestic animal: people keep it nearly everywhere, so there is nothing to report in {region}.",
}
PLEASE_VERIFY = (
    "Please verify: possibly an animal not expected in {region}. A reviewer checks it before anyone is told."
)
PERSON_HEADLINE = "A person, not an animal we identify."
PENDING_HEADLINE = "Still working on it: open it again from Your reports in a moment."
FAILED_HEADLINE = "We could not read this photo."
NOTHING_NAMED = "nothing we can name"
NO_ANIMAL = "no animal"
A_PERSON = "a person"
NOT_DONE = ""
# Short status words for badges and list columns.
STATUS_WORDS = {
    "native": "native",
    "invasive": "invasive",
    "introduced": "introduced",
    "out_of_range": "out of range",
    "unknown": "no range data",
    "uncertain": "not sure",
    "no_animal": "no animal",
    "domestic": "domestic animal",
}

# Country names said with "the" ("in the United States", "in the Netherlands").
_WITH_THE = re.compile(
    r"^(United |Republic |Democratic Republic|Central African Republic|Czech Republic|Dominican Republic|"
    r"Netherlands|Philippines|Bahamas|Gambia|Maldives|Comoros|Seychelles|Vatican|"
    r"Contiguous |.* Islands$|.* Republic$|.* Territories$|.* Emirates$)"
)
_CODE_SUFFIX = re.compile(r"\s*\((?:[A-Z0-9]{2,4}|[A-Z]{2}-[A-Z0-9]{1,3})\)$")


def region_phrase(name: str | None) -> str:
    """A region as people say it after "in": "Contiguous United States (L48)" -> "the contiguous United
    States", "United States of America" -> "the United States of America", "Doña Ana County, NM" as it is;
    no region -> "this place"."""
    if not name:
        return "this place"
    name = _CODE_SUFFIX.sub("", name.strip())
    if not _WITH_THE.match(name):
        return name
    if name.startswith("Contiguous "):
        name = "contiguous " + name.removeprefix("Contiguous ")
    return f"the {name}"


def taxon_label(taxon: dict | None) -> str:
    """Common name first, then the scientific name; a genus or family says its rank:
    "African bush elephant (Loxodonta africana)", "Mongooses (family Herpestidae)"."""
    if not taxon:
        return NO_ANIMAL
    scientific = taxon.get("scientific_name") or taxon.get("key") or "?"
    common = (taxon.get("common_name") or "").strip()
    rank = taxon.get("rank") or "species"
    latin = scientific if rank in SPECIES_RANKS else f"{rank} {scientific}"
    if common and common.lower() != scientific.lower():
        return f"{common[0].upper()}{common[1:]} ({latin})"
    return latin[0].upper() + latin[1:] if rank not in SPECIES_RANKS else scientific


def percent(score: float | None) -> str:
    return f"{round(100 * (score or 0))}%"


@dataclass(frozen=True)
class AnswerWords:
    """One answer, worded. `kind`: named (an identified taxon), possibly (a taxon asked about, please
    verify), nothing_named (below the review threshold), no_animal, person, pending, failed."""

    kind: str
    name: str  # what the answer names, as a person reads it
    confidence: str  # "88% confident" for the named taxon's own score; "" when nothing is named
    headline: str  # the status in a sentence, with the region as people say it
    status: str  # short status words for badges ("out of range", "not sure")
    region: str  # the region phrase ("the contiguous United States")
    score: float | None  # the named taxon's score, 0..1
    taxon_key: str  # the scientific name the answer names ("" when none)

    @property
    def summary(self) -> str:
        """One line for lists, e-mail subjects and CSV cells."""
        named = self.name[0].upper() + self.name[1:] if self.name else ""
        sure = f", {self.confidence}" if self.confidence else ""
        return f"{named}{sure}: {self.headline}" if named else self.headline

    def as_dict(self) -> dict:
        return {**asdict(self), "summary": self.summary}


def _asked_about(predictions: list[dict], review_min_score: float) -> dict | None:
    """The candidate a "please verify" answer asks about: the best one not expected here with a score
    from the photo of at least the review threshold (as the card's map shows it). `expected_here` None
    (not judged, or no range data there) never counts as "not expected"."""
    flagged = next((p for p in predictions if p.get("asked_about")), None)
    if flagged is not None:  # the classification step marks it
        return flagged
    unexpected = [p for p in predictions if p.get("taxon") and p.get("expected_here") is False]
    return next((p for p in unexpected if (p.get("score") or 0) >= review_min_score), None) or next(
        iter(unexpected), None
    )


def _is_person(key: str | None, taxon: dict | None) -> bool:
    names = {(key or "").lower(), ((taxon or {}).get("scientific_name") or "").lower()}
    common = ((taxon or {}).get("common_name") or "").lower()
    return bool(names & PERSON_KEYS) or common in PERSON_KEYS


UNSURE_WITH_A_GUESS = "Not sure which animal this is, so we cannot say whether it belongs in {region}."


def answer_words(
    *,
    status: str,
    verdict: dict | None,
    identification: dict | None,
    predictions: list[dict],
    alert_level: str | None,
    review_min_score: float,
) -> AnswerWords:
    """Word an observation's answer. `status`: the job (queued, processing, done, failed); `verdict`:
    {"status", "region": {"name"}} or None; `identification`: {"taxon": {scientific_name, common_name,
    rank}, "score"} or None; `predictions`: [{"key", "taxon", "score", "expected_here"}], best first;
    `alert_level`: "alert", "possible" (please verify) or ""; `review_min_score`: below it a candidate
    is not worth naming."""
    if status in ("queued", "processing"):
        return AnswerWords("pending", NOT_DONE, "", PENDING_HEADLINE, status, "", None, "")
    if status == "failed" or verdict is None:
        return AnswerWords("failed", NOT_DONE, "", FAILED_HEADLINE, "failed", "", None, "")
    verdict_status = verdict.get("status") or "uncertain"
    region = region_phrase(((verdict.get("region") or {}).get("name")) or None)
    headline = HEADLINES.get(verdict_status, verdict_status).format(region=region)
    words = STATUS_WORDS.get(verdict_status, verdict_status.replace("_", " "))
    lead = predictions[0] if predictions else None

    if alert_level == "possible":
        # "Please verify": about the candidate not expected here, at that candidate's own score.
        asked = _asked_about(predictions, review_min_score)
        if asked is None and identification:
            asked = {"taxon": identification.get("taxon"), "score": identification.get("score")}
        taxon = (asked or {}).get("taxon")
        score = (asked or {}).get("score")
        return AnswerWords(
            "possibly",
            f"possibly {taxon_label(taxon)}" if taxon else NOTHING_NAMED,
            f"{percent(score)} from the photo alone" if score is not None else "",
            PLEASE_VERIFY.format(region=region),
            "please verify",
            region,
            score,
            (taxon or {}).get("scientific_name", ""),
        )
    if identification and verdict_status not in ("no_animal", "uncertain"):
        taxon, score = identification.get("taxon") or {}, identification.get("score")
        confidence = f"{percent(score)} confident" if score is not None else "named by a reviewer"
        if score is not None and taxon.get("rank") and taxon["rank"] not in SPECIES_RANKS:
            confidence += ": we can't tell which species from this photo"
        return AnswerWords(
            "named", taxon_label(taxon), confidence, headline, words, region, score, taxon.get("scientific_name", "")
        )
    # Nothing identified: say what leads only when it is no animal or a person; never a 5 % guess.
    if verdict_status == "no_animal" or (lead and lead.get("key") == NO_ANIMAL_KEY):
        return AnswerWords(
            "no_animal", NO_ANIMAL, "", HEADLINES["no_animal"], STATUS_WORDS["no_animal"], region, None, ""
        )
    if lead and _is_person(lead.get("key"), lead.get("taxon")):
        return AnswerWords("person", A_PERSON, "", PERSON_HEADLINE, "a person", region, None, "")
    if lead and lead.get("taxon") and (lead.get("score") or 0) >= review_min_score:
        taxon = lead["taxon"]
        return AnswerWords(
            "possibly",
            f"possibly {taxon_label(taxon)}",
            f"{percent(lead['score'])} from the photo alone",
            UNSURE_WITH_A_GUESS.format(region=region),
            STATUS_WORDS["uncertain"],
            region,
            lead["score"],
            taxon.get("scientific_name", ""),
        )
    return AnswerWords(
        "nothing_named", NOTHING_NAMED, "", HEADLINES["uncertain"], STATUS_WORDS["uncertain"], region, None, ""
    )
