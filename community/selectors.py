"""Reads for the community: identifications, the review queue, reviewed records for training."""
from __future__ import annotations

from django.db.models import Q

from community.models import Identification
from observations.models import Observation, Verification
from observations.selectors import with_relations
from species.models import Taxon


def identifications_for(*, observation: Observation):
    return Identification.objects.filter(observation=observation).select_related("user", "taxon").order_by("created", "id")


def identification_taxa(observation: Observation) -> list[str]:
    """The taxa the current identifications name (observations.selectors.record_taxa_providers)."""
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
    keeps those whose model answer or verdict names it or a taxon below it (a family keeps its genera)."""
    qs = with_relations(Observation.objects.filter(status=Observation.Status.DONE))
    if taxon is not None:
        within = _taxon_and_descendant_ids(taxon)
        qs = qs.filter(Q(prediction__taxon__in=within) | Q(verdict__taxon__in=within))
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


def _taxon_and_descendant_ids(taxon: Taxon) -> set[int]:
    """One query per rank below `taxon` (at most family → genus → species → subspecies for the
    filters a reviewer picks)."""
    found, frontier = {taxon.pk}, {taxon.pk}
    while frontier:
        frontier = set(Taxon.objects.filter(parent__in=frontier).values_list("pk", flat=True)) - found
        found |= frontier
    return found


def reviewed_training_records() -> list[dict]:
    """Observations a reviewer confirmed, labelled with the reviewer's taxon, as plain records for
    ml.training (classifier.training's "reviewed observations" source)."""
    confirmed = Observation.objects.filter(verification=Verification.CONFIRMED, verified_taxon__isnull=False).select_related("verified_taxon")
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
