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
