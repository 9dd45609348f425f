"""Reads for the community: identifications, who has a track record, the review queue, reviewed
records for training."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone

from accounts.roles import CURATORS_GROUP, REVIEWERS_GROUP
from community.models import Identification, Review
from observations.models import Observation, Verification
from observations.selectors import with_relations
from species.models import Taxon

# Whose identifications count toward a community taxon (two throw-away accounts once relabelled an
# elephant as a lionfish, and the feed and exports followed). Reviewers and curators always; anyone
# else once their account is a week old AND three of their identifications, made before the record
# was reviewed, agreed with what a reviewer then confirmed. Until then their identifications are shown but carry no weight.
TRACK_RECORD_MIN_ACCOUNT_AGE = timedelta(days=7)
TRACK_RECORD_MIN_CONFIRMED_AGREEMENTS = 3


def identifications_for(*, observation: Observation):
    return (
        Identification.objects.filter(observation=observation).select_related("user", "taxon").order_by("created", "id")
    )


def has_track_record(*, joined: datetime, confirmed_agreements: int, now: datetime) -> bool:
    """The rule for identifiers who are not reviewers, pure."""
    old_enough = now - joined >= TRACK_RECORD_MIN_ACCOUNT_AGE
    return old_enough and confirmed_agreements >= TRACK_RECORD_MIN_CONFIRMED_AGREEMENTS


def identifiers_with_track_record(user_ids) -> set[int]:
    """The users among `user_ids` whose identifications count toward a community taxon (two queries)."""
    user_ids = set(user_ids)
    if not user_ids:
        return set()
    users = get_user_model().objects.filter(pk__in=user_ids)
    is_expert = Q(is_superuser=True) | Q(groups__name__in=[REVIEWERS_GROUP, CURATORS_GROUP])
    experts = set(users.filter(is_expert).values_list("pk", flat=True))
    # Only identifications made before any review of the record count: once a record is verified
    # its taxon is shown in the feed, and copying it proves nothing (issue 23: two 8-day-old
    # accounts farmed their track record by copying three verified taxa).
    reviewed_already = Review.objects.filter(
        observation_id=OuterRef("observation_id"), created__lte=OuterRef("created")
    )
    agreements = (
        Identification.objects.filter(user_id__in=user_ids - experts, is_current=True)
        .filter(observation__verification=Verification.CONFIRMED, taxon_id=F("observation__verified_taxon_id"))
        .filter(created__lt=F("observation__verified_at"))
        .exclude(Exists(reviewed_already))
        .values("user_id", "user__date_joined")
        .annotate(agreeing=Count("id"))
    )
    now = timezone.now()
    return experts | {
        row["user_id"]
        for row in agreements
        if has_track_record(joined=row["user__date_joined"], confirmed_agreements=row["agreeing"], now=now)
    }


def identification_taxa(observation: Observation) -> list[str]:
    """The taxa the current identifications name (observations.signals.record_taxa_requested)."""
    current = Identification.objects.filter(observation=observation, is_current=True)
    return list(current.values_list("taxon__scientific_name", flat=True))


def review_queue(
    *,
    region: str = "",
    verdict: str = "",
    min_confidence: float | None = None,
    max_confidence: float | None = None,
    verification: str = Verification.UNREVIEWED,
    taxon: Taxon | None = None,
):
    """Finished observations awaiting an expert, alerts first, then the least confident. `taxon`
    keeps those whose model answer, verdict or top-k candidates name it or a taxon below it (a
    "please verify" answer names no taxon: its candidates say what it may be)."""
    qs = with_relations(Observation.objects.filter(status=Observation.Status.DONE))
    if taxon is not None:
        qs = qs.filter(_names_taxon_or_below(taxon))
    if verification:
        qs = qs.filter(verification=verification)
    if region:
        # region_codes is a JSON list: match the quoted code in its text (works on SQLite and Postgres).
        qs = qs.filter(verdict__region_codes__icontains=f'"{region}"')
    if verdict:
        qs = qs.filter(verdict__status=verdict)
    if min_confidence is not None:
        qs = qs.filter(prediction__score__gte=min_confidence)
    if max_confidence is not None:
        qs = qs.filter(prediction__score__lte=max_confidence)
    return qs.order_by("-verdict__alert_level", "prediction__score", "created", "id")


# Candidates are matched by name in the top-k JSON text; past this many names (a class, an order
# after a full taxonomy import) only the model's answer and the verdict are matched, by id.
_MAX_CANDIDATE_NAMES = 500


def _names_taxon_or_below(taxon: Taxon) -> Q:
    ids, names = {taxon.pk}, [taxon.scientific_name]
    frontier = {taxon.pk}
    while frontier:  # one query per rank below the taxon
        rows = list(Taxon.objects.filter(parent__in=frontier).exclude(pk__in=ids).values_list("pk", "scientific_name"))
        frontier = {pk for pk, _ in rows}
        ids |= frontier
        names += [name for _, name in rows]
    matches = Q(prediction__taxon__in=ids) | Q(verdict__taxon__in=ids)
    if len(names) <= _MAX_CANDIDATE_NAMES:
        # top_k is a JSON list of {"key": name, ...}: a quoted name is a key (works on SQLite and Postgres).
        for name in names:
            matches |= Q(prediction__top_k__icontains=f'"{name}"')
    return matches


def reviewed_training_records() -> list[dict]:
    """Observations a reviewer confirmed, labelled with the reviewer's taxon, as plain records for
    ml.training (classifier.training's "reviewed observations" source)."""
    confirmed = Observation.objects.filter(
        verification=Verification.CONFIRMED, verified_taxon__isnull=False
    ).select_related("verified_taxon")
    return [
        {
            "id": str(obs.uuid),
            "path": obs.photo.path,
            "label": obs.verified_taxon.scientific_name,
            # about 11 km cells: photos from the same spot never straddle the split
            "location": f"{round(obs.latitude, 1)},{round(obs.longitude, 1)}",
        }
        for obs in confirmed.order_by("id")
    ]
