"""Location-aware identification: the classifier's scores, weighted by where the photo was taken,
then the verdict, with alerts only on visual evidence (DESIGN §5.6). Pure: no Django, no database."""

from __future__ import annotations

from dataclasses import dataclass

from ml.taxonomy import Decision, TaxonTree, decide, reweight_by_prior, subtree_total
from ranges.range_index import RangeIndex
from ranges.verdict import NO_ANIMAL, OUT_OF_RANGE, UNCERTAIN, RangeVerdict, expected_here, verdict_at_hits

ALERT_LEVEL = "alert"
# Stored in the Verdict model's alert_level: the answer asks the user to verify and the observation awaits a
# reviewer; no agency is notified (observations.alerts acts on alert statuses only).
REVIEW_LEVEL = "possible"


@dataclass(frozen=True)
class IdentificationThresholds:
    """What the answer commits to; defaults in settings, chosen with `bench/identify.py`."""

    confidence: float  # roll-up: the weighted score a taxon (with its descendants) needs to be named
    alert: float  # the classifier's own score for a taxon needed to raise an alert about it
    review: float  # the classifier's own score for which a possible alert taxon asks for verification
    prior_floor: float  # the prior weight of a taxon whose known native range excludes the point
    # The classifier's own score a domestic form needs to be named; below it the answer is "not
    # sure" (0: no more than `confidence`).
    domestic: float = 0.0


@dataclass(frozen=True)
class Candidate:
    key: str
    score: float  # the classifier's calibrated score: visual evidence alone
    weighted: float  # after the location prior
    # True: native or established here; False: a known native range excludes the point and no
    # register puts it here; None: no range data says either (unknown, uncertain, a domestic form).
    expected_here: bool | None
    status: str  # the verdict for this taxon here


@dataclass(frozen=True)
class IdentificationResult:
    decision: Decision  # what the answer names (on the weighted scores)
    verdict: RangeVerdict
    candidates: tuple[Candidate, ...]  # the top candidates, best weighted first
    alert_level: str  # ALERT_LEVEL, REVIEW_LEVEL or ""

    @property
    def needs_review(self) -> bool:
        return self.alert_level == REVIEW_LEVEL


def location_prior(verdicts: dict[str, RangeVerdict], floor: float) -> dict[str, float]:
    """Prior weights from the range data: `floor` only for a taxon whose known native range excludes
    the point and that no register records here (out_of_range, `expected_here` False); 1 for every
    other, so `expected_here` None (no range data, a domestic form) is neutral: neither a boost nor
    a penalty. Down-weighted, never removed."""
    return {key: (floor if v.status == OUT_OF_RANGE else 1.0) for key, v in verdicts.items()}


def identify(
    taxon_scores: dict[str, float],
    lon: float,
    lat: float,
    index: RangeIndex,
    taxa: TaxonTree,
    thresholds: IdentificationThresholds,
    *,
    top_k: int = 5,
    use_prior: bool = True,
) -> IdentificationResult:
    """Name the animal in the photo at (lon, lat) and judge it there.

    1. Each candidate (the classifier's top `top_k`, and every label with a score of at least
       `thresholds.review`) gets its verdict here; with `use_prior`, scores are re-weighted by
       `location_prior` before the roll-up names a taxon.
    2. The named taxon's verdict is the answer. An alert (invasive, introduced, out_of_range) needs
       the classifier's own score for that taxon, with its descendants, of at least
       `thresholds.alert`: the prior never creates an alert.
    3. Otherwise any candidate that would be an alert here, with a visual score of at least
       `thresholds.review` (the named taxon included), makes the answer `uncertain`: "possibly X,
       not expected here: please verify", for review. So a possible invader is never dropped
       silently, whatever the prior did to the ranking.
    """
    hits = index.regions_at(lon, lat)
    codes = tuple(h.region.code for h in hits)
    animal = {k: v for k, v in taxon_scores.items() if k != NO_ANIMAL}
    ranked = sorted(animal.items(), key=lambda kv: kv[1], reverse=True)
    keys = [k for k, s in ranked[:top_k]] + [k for k, s in ranked[top_k:] if s >= thresholds.review]
    verdicts = {k: verdict_at_hits(k, lon, lat, hits, index, taxa) for k in keys}
    scores = (
        reweight_by_prior(taxon_scores, location_prior(verdicts, thresholds.prior_floor)) if use_prior else taxon_scores
    )
    decision = decide(scores, taxa.parents, taxa.ranks, thresholds.confidence)
    if (
        decision.outcome == "identified"
        and taxa.is_domestic(decision.key)
        and subtree_total(animal, decision.key, taxa.parents) < thresholds.domestic
    ):  # the photo's own evidence: the prior's renormalisation must not lift a "dog" over the bar
        decision = Decision("uncertain", decision.key, decision.score, decision.rank)
    candidates = tuple(
        sorted(
            (Candidate(k, animal[k], scores[k], expected_here(verdicts[k].status), verdicts[k].status) for k in keys),
            key=lambda c: c.weighted,
            reverse=True,
        )
    )

    if decision.outcome == "no_animal":
        return IdentificationResult(
            decision,
            RangeVerdict(NO_ANIMAL, None, "We found no animal we know in this photo.", region_codes=codes),
            candidates,
            "",
        )
    named = verdicts.get(decision.key) or verdict_at_hits(decision.key, lon, lat, hits, index, taxa)
    if (
        decision.outcome == "identified"
        and named.is_alert
        and subtree_total(animal, decision.key, taxa.parents) >= thresholds.alert
    ):
        return IdentificationResult(decision, named, candidates, ALERT_LEVEL)
    possible = _possible_invaders(candidates, verdicts, decision, named, animal, taxa, thresholds)
    if possible:
        return IdentificationResult(
            decision,
            _please_verify(possible[0], verdicts.get(possible[0].key) or named, decision, named),
            candidates,
            REVIEW_LEVEL,
        )
    if decision.outcome == "uncertain":
        return IdentificationResult(decision, _not_sure(decision, codes, thresholds), candidates, "")
    return IdentificationResult(decision, named, candidates, "")


def _not_sure(decision: Decision, codes: tuple[str, ...], thresholds: IdentificationThresholds) -> RangeVerdict:
    # Below the review threshold a candidate is not worth naming (issue 22: not "dog, 5 %").
    explanation = (
        f"We are not confident what this is (possibly {decision.key}, {decision.score:.0%} from the photo)."
        if decision.key and decision.score >= thresholds.review
        else "We are not confident what this is: nothing in the photo is clear enough to name."
    )
    return RangeVerdict(UNCERTAIN, decision.key, explanation, region_codes=codes)


def _possible_invaders(
    candidates: tuple[Candidate, ...],
    verdicts: dict[str, RangeVerdict],
    decision: Decision,
    named: RangeVerdict,
    animal: dict[str, float],
    taxa: TaxonTree,
    thresholds: IdentificationThresholds,
) -> list[Candidate]:
    """Candidates that would be an alert here with a visual score of at least the review threshold,
    the named taxon first when it is one (rule 6: a possible invader is never dropped silently)."""
    possible = [c for c in candidates if verdicts[c.key].is_alert and c.score >= thresholds.review]
    if decision.outcome == "identified" and named.is_alert and all(c.key != decision.key for c in possible):
        possible.insert(
            0,
            Candidate(
                decision.key,
                subtree_total(animal, decision.key, taxa.parents),
                decision.score,
                expected_here(named.status),
                named.status,
            ),
        )
    return possible


def _please_verify(possible: Candidate, found: RangeVerdict, decision: Decision, named: RangeVerdict) -> RangeVerdict:
    """`uncertain`, carrying the possible alert's regions and sources so a reviewer can act on it."""
    lead = ""
    if decision.outcome == "identified" and decision.key != possible.key:
        lead = f"Most likely {decision.key} ({named.status.replace('_', ' ')} here). "
    elif decision.outcome == "uncertain":
        lead = "We are not confident what this is. "
    explanation = (
        f"{lead}Possibly {possible.key} ({possible.score:.0%} from the photo alone), "
        "not expected here: please verify. "
        f"{found.explanation}"
    )
    return RangeVerdict(
        UNCERTAIN, possible.key, explanation, found.region_code, found.region_codes, found.sources, found.snapped
    )
