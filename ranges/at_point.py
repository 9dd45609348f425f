"""A taxon, or a photo's candidates, judged at a point against this process's range index: the
pure verdict and identification (ranges.verdict, ranges.identification) fed with the index and the
taxon tree, and the thresholds from the settings."""

from __future__ import annotations

from django.conf import settings

from ranges.identification import IdentificationResult, IdentificationThresholds, identify
from ranges.index_cache import range_index
from ranges.verdict import RangeVerdict, verdict
from species.models import Taxon
from species.selectors import taxon_key, taxon_tree


def verdict_at(taxon_key: str, lon: float, lat: float, *, free_roaming: bool = False) -> RangeVerdict:
    """The verdict for a taxon (by its key in the taxon tree) at a point, on this process's range
    index and taxon tree."""
    return verdict(taxon_key, lon, lat, range_index(), taxon_tree(), free_roaming=free_roaming)


def verdict_for_taxon(taxon: Taxon, lon: float, lat: float, *, free_roaming: bool = False) -> RangeVerdict:
    """verdict_at for a taxon row: its key names the right branch of a homonym (Proboscidea)."""
    return verdict_at(taxon_key(taxon), lon, lat, free_roaming=free_roaming)


def identification_thresholds() -> IdentificationThresholds:
    return IdentificationThresholds(
        confidence=settings.RANGEWATCH_CONFIDENCE_THRESHOLD,
        alert=settings.RANGEWATCH_ALERT_MIN_SCORE,
        review=settings.RANGEWATCH_REVIEW_MIN_SCORE,
        prior_floor=settings.RANGEWATCH_PRIOR_FLOOR,
        domestic=settings.RANGEWATCH_DOMESTIC_MIN_SCORE,
    )


def identify_here(*, taxon_scores: dict[str, float], lon: float, lat: float) -> IdentificationResult:
    """The classifier's scores named and judged at the point (ranges.identification.identify)."""
    return identify(
        taxon_scores,
        lon,
        lat,
        range_index(),
        taxon_tree(),
        identification_thresholds(),
        top_k=settings.RANGEWATCH_TOP_K,
    )
