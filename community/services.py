"""Writes for identifications and expert review: community consensus, verification, first records.
A confirmation is announced (community.signals.observation_verified) after commit."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q

from community.models import Identification, Review
from community.selectors import identifiers_with_track_record
from community.signals import observation_rejected, observation_verified
from core.errors import Conflict, ServiceError
from observations.models import Observation, Verdict, Verification
from observations.verdict_records import observation_verification_set, verdict_record_for_reviewer
from ranges.at_point import verdict_for_taxon
from ranges.identification import REVIEW_LEVEL
from ranges.models import RegionKind
from ranges.selectors import regions_by_codes
from ranges.verdict import ALERT_STATUSES
from species.models import Taxon

# iNaturalist's rule: a taxon is the community's when more than two thirds of the identifications
# that bear on it agree (are it or below it), and at least two people said so.
CONSENSUS_FRACTION = 2 / 3
CONSENSUS_MIN_AGREEING = 2


class ReviewRejected(ServiceError):
    """A review that cannot be taken: `code` says why (not_ready, taxon_required, ...)."""


def community_taxon_key(identified: list[str], parents: dict[str, str | None]) -> str | None:
    """The community taxon of a set of current identifications (scientific names), pure.

    For every candidate (an identified taxon or an ancestor of one): agreeing = ids on it or below
    it; disagreeing = ids on another branch (neither above nor below it). An id on an ancestor
    neither agrees nor disagrees (it is less specific, not contrary). The deepest candidate whose
    agreeing share exceeds 2/3 with at least two agreeing wins."""

    def lineage(key):
        out, node = [], key
        while node is not None and node not in out:
            out.append(node)
            node = parents.get(node)
        return out

    lineages = {key: lineage(key) for key in identified}
    candidates = {c for chain in lineages.values() for c in chain}
    best, best_depth, best_score = None, -1, 0.0
    for candidate in candidates:
        agree = sum(1 for key in identified if candidate in lineages[key])
        disagree = sum(1 for key in identified if candidate not in lineages[key] and key not in lineage(candidate))
        if agree < CONSENSUS_MIN_AGREEING or agree / (agree + disagree) <= CONSENSUS_FRACTION:
            continue
        depth, score = len(lineage(candidate)), agree / (agree + disagree)
        if depth > best_depth or (depth == best_depth and score > best_score):
            best, best_depth, best_score = candidate, depth, score
    return best


def _tree_for(keys) -> dict[str, str | None]:
    parents: dict[str, str | None] = {}
    frontier = set(keys)
    while frontier:
        rows = list(
            Taxon.objects.filter(scientific_name__in=list(frontier)).values_list(
                "scientific_name", "parent__scientific_name"
            )
        )
        frontier = set()
        for name, parent in rows:
            parents[name] = parent
            if parent and parent not in parents:
                frontier.add(parent)
    return parents


def _community_taxon_for(observation: Observation) -> Taxon | None:
    """From the current identifications of identifiers with a track record (the others carry no
    weight: community.selectors.identifiers_with_track_record)."""
    current = list(
        Identification.objects.filter(observation=observation, is_current=True).values_list(
            "user_id", "taxon__scientific_name"
        )
    )
    trusted = identifiers_with_track_record({user_id for user_id, _ in current})
    identified = [name for user_id, name in current if user_id in trusted]
    key = community_taxon_key(identified, _tree_for(identified)) if identified else None
    return Taxon.objects.filter(scientific_name=key).order_by("id").first() if key else None


def observation_update_community_taxon(*, observation: Observation) -> Taxon | None:
    """Recompute and store the community taxon. Call with the observation's row locked
    (_observation_lock), so concurrent identifications are all counted."""
    taxon = _community_taxon_for(observation)
    Observation.objects.filter(pk=observation.pk).update(community_taxon=taxon)
    observation.community_taxon = taxon
    return taxon


@dataclass(frozen=True)
class CommunityTaxonChange:
    observation: str  # uuid
    before: str | None  # scientific names
    after: str | None


def community_taxa_recompute(*, apply: bool = False) -> list[CommunityTaxonChange]:
    """Every community taxon under today's rules; stored only with `apply`. Taxa that throw-away
    accounts set before the track-record rule existed are undone this way."""
    identified = Identification.objects.values_list("observation_id", flat=True)
    candidates = Observation.objects.filter(Q(pk__in=identified) | Q(community_taxon__isnull=False)).select_related(
        "community_taxon"
    )
    changes = []
    for observation in candidates.order_by("pk").iterator():
        with transaction.atomic():
            _observation_lock(observation)
            before = observation.community_taxon
            after = _community_taxon_for(observation)
            if after == before:
                continue
            names = (getattr(before, "scientific_name", None), getattr(after, "scientific_name", None))
            changes.append(CommunityTaxonChange(str(observation.uuid), *names))
            if apply:
                Observation.objects.filter(pk=observation.pk).update(community_taxon=after)
    return changes


class IdentificationConflict(Conflict):
    code = "identification_conflict"


def _observation_lock(observation: Observation) -> None:
    """Serialise the writes that bear on one observation's consensus: each recomputation then sees
    every identification committed before it (without the lock, two people identifying at once
    each saw only their own and left the community taxon empty). A no-op on SQLite, whose write
    transactions are serialised anyway (BEGIN IMMEDIATE, settings)."""
    list(Observation.objects.select_for_update().filter(pk=observation.pk).values_list("pk", flat=True))


@transaction.atomic
def identification_add(*, observation: Observation, user, taxon: Taxon, body: str = "") -> Identification:
    """Add the user's identification (withdrawing their earlier one) and recompute the consensus.
    Agreeing with someone is adding an identification of the same taxon. Saying again what one
    already says is a conflict (409): a double-sent request, not a new opinion."""
    _observation_lock(observation)
    current = Identification.objects.filter(observation=observation, user=user, is_current=True)
    if current.filter(taxon=taxon).exists():
        raise IdentificationConflict(f"you already identify this observation as {taxon.scientific_name}")
    current.update(is_current=False)
    try:
        with transaction.atomic():
            identification = Identification.objects.create(
                observation=observation, user=user, taxon=taxon, body=body[:5000]
            )
    except IntegrityError as exc:  # one current identification per user: a concurrent request of theirs won
        raise IdentificationConflict("another identification of yours was saved at the same time") from exc
    observation_update_community_taxon(observation=observation)
    return identification


def observation_review(
    *,
    observation: Observation,
    reviewer,
    decision: str,
    taxon: Taxon | None = None,
    note: str = "",
    free_roaming: bool = False,
) -> Review:
    """An expert confirms the taxon they name, or rejects. Confirming recomputes the verdict for
    that taxon, flags first records, and — for an invasive, introduced or out-of-range verdict —
    alerts the local contacts after commit. Nothing is confirmed implicitly (a community taxon
    can be gamed by throw-away accounts), and an alert needs a reviewer other than the uploader.
    A domestic animal alerts only with `free_roaming` (the reviewer judged it feral or free-roaming)
    and a register's record at the point."""
    if decision not in Review.Decision.values:
        raise ReviewRejected(f"decision must be one of {Review.Decision.values}", code="invalid")
    if observation.status != Observation.Status.DONE:
        raise ReviewRejected("the observation has not been classified yet", code="not_ready")
    if decision == Review.Decision.CONFIRM and taxon is None:
        detail = "name the taxon you confirm"
        raise ReviewRejected(detail, code="taxon_required", fields={"taxon": [detail]})
    with transaction.atomic():
        _observation_lock(observation)
        review = Review.objects.create(
            observation=observation, reviewer=reviewer, decision=decision, taxon=taxon, note=note[:5000]
        )
        if decision == Review.Decision.REJECT:
            observation_verification_set(
                observation=observation, verification=Verification.REJECTED, taxon=None, reviewer=reviewer
            )
            transaction.on_commit(lambda: observation_rejected.send(sender=Observation, observation=observation))
            return review
        stored = _verdict_for_confirmed(observation=observation, taxon=taxon, free_roaming=free_roaming)
        if stored is not None and stored.status in ALERT_STATUSES and observation.owner_id == reviewer.pk:
            # Raised inside the transaction: the review and the recomputed verdict roll back.
            raise ReviewRejected(
                "a confirmation that alerts contacts needs a reviewer other than the uploader",
                code="own_observation",
                status=403,
            )
        firsts = _first_record_regions(
            observation=observation, taxon=taxon, region_codes=stored.region_codes if stored else []
        )
        observation_verification_set(
            observation=observation,
            verification=Verification.CONFIRMED,
            taxon=taxon,
            reviewer=reviewer,
            first_record_regions=firsts,
        )
        observation.refresh_from_db()
        transaction.on_commit(
            lambda: observation_verified.send(sender=Observation, observation=observation, review=review)
        )
    return review


def _verdict_for_confirmed(*, observation: Observation, taxon: Taxon, free_roaming: bool = False) -> Verdict | None:
    """The stored verdict, recomputed when the expert's taxon differs from the one it was for (or
    the expert says a domestic animal is feral or free-roaming)."""
    stored = Verdict.objects.filter(observation=observation).first()
    # A "please verify" answer (alert_level "possible") awaited exactly this: judge the taxon again.
    if stored is not None and stored.taxon_id == taxon.pk and stored.alert_level != REVIEW_LEVEL and not free_roaming:
        return stored
    found = verdict_for_taxon(taxon, observation.longitude, observation.latitude, free_roaming=free_roaming)
    note = (" (a reviewer confirmed a feral or free-roaming animal)" if free_roaming else "") + (
        " (for the taxon confirmed by a reviewer)"
    )
    return verdict_record_for_reviewer(observation=observation, taxon=taxon, found=found, note=note)


def _first_record_regions(*, observation: Observation, taxon: Taxon, region_codes) -> list[str]:
    """Counties, states and countries at the point with no other verified record of the taxon."""
    regions = regions_by_codes(list(region_codes))
    wanted = [
        c
        for c in region_codes
        if c in regions and regions[c].kind in (RegionKind.ADMIN2, RegionKind.ADMIN1, RegionKind.COUNTRY)
    ]
    if not wanted:
        return []
    earlier = (
        Observation.objects.filter(verification=Verification.CONFIRMED, verified_taxon=taxon)
        .exclude(pk=observation.pk)
        .values_list("verdict__region_codes", flat=True)
    )
    seen = {code for codes in earlier if codes for code in codes}
    return [c for c in wanted if c not in seen]
