"""Reads of observations, shaped for the API: results, visibility, the public (generalised) view."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q

from accounts.roles import is_reviewer
from core.errors import NotFound
from observations.geoprivacy import GEOPRIVACY_CATEGORY, NONE, WITHHOLD, PublicLocation, generalise, strictest
from observations.models import Observation, TaxonRegionSensitivity, Verification
from observations.signals import record_taxa_requested
from ranges.answers import verdict_answer
from ranges.index_cache import range_index
from ranges.models import RegionKind
from ranges.selectors import regions_by_codes
from ranges.wording import AnswerWords, answer_words
from species.models import Taxon
from species.selectors import taxa_by_keys, taxon_tree


class ObservationNotFound(NotFound):
    def __init__(self):
        super().__init__("no such observation")


def observation_for_user(*, user, observation_id) -> Observation:
    """The caller's own observation (others' are invisible: 404, not 403)."""
    found = (
        Observation.objects.filter(uuid=observation_id, owner=user)
        .select_related("prediction__model_version", "prediction__taxon", "verdict__taxon")
        .first()
    )
    if found is None:
        raise ObservationNotFound()
    return found


def observation_job_state(*, user, observation_id) -> tuple[int, str] | None:
    """(pk, status) of the caller's own observation: what a request about to wait reads first."""
    return Observation.objects.filter(uuid=observation_id, owner=user).values_list("pk", "status").first()


def observation_result(observation: Observation) -> dict:
    """The `ObservationOutputSerializer` shape. Prediction and verdict are written together with
    status `done` (one transaction), so no other status reads them (a fresh upload: no queries)."""
    done = observation.status == Observation.Status.DONE
    prediction = getattr(observation, "prediction", None) if done else None
    stored = getattr(observation, "verdict", None) if done else None
    result = {
        "id": observation.uuid,
        "status": observation.status,
        "created": observation.created,
        "observed_at": observation.observed_at,
        "location": {
            "latitude": observation.latitude,
            "longitude": observation.longitude,
            "accuracy_m": observation.accuracy_m,
            "source": observation.location_source,
            "flags": observation.location_flags,
        },
        "model_version": prediction.model_version.name if prediction else None,
        "predictions": [],
        "identification": None,
        "verdict": None,
        "species_info": None,
        "alert": None,
        "failure": {"code": observation.failure_code, "detail": observation.failure_detail}
        if observation.status == Observation.Status.FAILED
        else None,
    }
    if prediction is not None:
        taxa = taxa_by_keys(item["key"] for item in prediction.top_k)
        result["predictions"] = [
            {
                "taxon": taxa.get(item["key"]),
                "key": item["key"],
                "score": item["score"],
                "expected_here": item.get("expected_here"),
                "asked_about": bool(item.get("asked_about")),
            }
            for item in prediction.top_k
        ]
        if prediction.taxon is not None:
            result["identification"] = {"taxon": prediction.taxon, "score": prediction.score}
    if stored is not None and observation.status == Observation.Status.DONE:
        answer = verdict_answer(
            status=stored.status,
            explanation=stored.explanation,
            region_code=stored.region_code or None,
            region_codes=stored.region_codes,
            sources=stored.sources,
            taxon=stored.taxon,
            contacts=stored.contacts,
            alert_level=stored.alert_level,
        )
        result.update(verdict=answer["verdict"], species_info=answer["species_info"], alert=answer["alert"])
    result["answer"] = observation_answer_words(result, verdict_taxon=stored.taxon if stored else None).as_dict()
    return result


def _taxon_brief(taxon) -> dict | None:
    if taxon is None:
        return None
    if isinstance(taxon, dict):
        return taxon
    return {"scientific_name": taxon.scientific_name, "common_name": taxon.common_name, "rank": taxon.rank}


def observation_answer_words(result: dict, verdict_taxon=None) -> AnswerWords:
    """The answer of an `observation_result` in words (ranges.wording): what every surface shows.
    `verdict_taxon`: the taxon the verdict judged; after a reviewer confirmed a taxon the model did not
    name, the answer names the reviewer's taxon (with no model score to quote)."""
    identification = result.get("identification")
    if identification:
        identification = {"taxon": _taxon_brief(identification["taxon"]), "score": identification["score"]}
    elif verdict_taxon is not None and (result.get("alert") or {}).get("level") != "possible":
        identification = {"taxon": _taxon_brief(verdict_taxon), "score": None}
    return answer_words(
        status=result["status"],
        verdict=result.get("verdict"),
        identification=identification,
        predictions=[{**p, "taxon": _taxon_brief(p.get("taxon"))} for p in result.get("predictions") or []],
        alert_level=(result.get("alert") or {}).get("level") or "",
        review_min_score=settings.RANGEWATCH_REVIEW_MIN_SCORE,
    )


# --- Visibility and geoprivacy ----------------------------------------------------------------


def _lineage_sensitivities(names: set[str]) -> tuple[dict[str, str], dict[str, set[str]]]:
    """(sensitivity by name, lineage names by name) for `names` and all their ancestors: the
    lineages come from the process's cached taxon tree, the sensitivities from one query."""
    parents = taxon_tree().parents
    lineages = {}
    for name in names:
        chain, node = set(), name
        while node and node not in chain:
            chain.add(node)
            node = parents.get(node)
        lineages[name] = chain
    everyone = set().union(*lineages.values()) if lineages else set()
    sensitivity = {name: NONE for name in everyone}
    for name, category in (
        Taxon.objects.filter(scientific_name__in=list(everyone))
        .exclude(sensitivity=NONE)
        .values_list("scientific_name", "sensitivity")
    ):
        sensitivity[name] = strictest([sensitivity[name], category])
    return sensitivity, lineages


def _observation_taxon_names(observation: Observation) -> set[str]:
    """Every taxon the record may be: top-k predictions, verdict, community, verified, current ids."""
    names: set[str] = set()
    prediction = getattr(observation, "prediction", None)
    if prediction is not None:
        names.update(item["key"] for item in prediction.top_k if item.get("key") and item["key"] != "no_animal")
    for attr in ("verified_taxon", "community_taxon"):
        taxon = getattr(observation, attr, None)
        if taxon is not None:
            names.add(taxon.scientific_name)
    stored = getattr(observation, "verdict", None)
    if stored is not None and stored.taxon is not None:
        names.add(stored.taxon.scientific_name)
    for _, taxa in record_taxa_requested.send(sender=Observation, observation=observation):
        names.update(taxa)
    return names


def observation_region_codes(observation: Observation) -> list[str]:
    stored = getattr(observation, "verdict", None)
    if stored is not None and stored.region_codes:
        return list(stored.region_codes)
    return [h.region.code for h in range_index().regions_at(observation.longitude, observation.latitude)]


def observation_sensitivity(observation: Observation) -> str:
    """The strictest category among the record's taxa and their ancestors, the taxon × region
    rules where it lies, and the observer's own choice. Computed at read time, never stored."""
    names = _observation_taxon_names(observation)
    sensitivity, lineages = _lineage_sensitivities(names)
    lineage_names = set().union(*lineages.values()) if lineages else set()
    regional = TaxonRegionSensitivity.objects.filter(
        taxon__scientific_name__in=list(lineage_names), region__code__in=observation_region_codes(observation)
    ).values_list("sensitivity", flat=True)
    return strictest([*sensitivity.values(), *regional, GEOPRIVACY_CATEGORY.get(observation.geoprivacy, NONE)])


def observation_public_location(observation: Observation) -> PublicLocation:
    """The point every public surface (feed, exports, alerts to the public, logs) shows."""
    return generalise(
        observation.latitude, observation.longitude, observation_sensitivity(observation), observation.accuracy_m
    )


def can_see_exact(*, user, observation: Observation) -> bool:
    """The owner and reviewers see an observation's true point; everyone else its public one."""
    return getattr(user, "is_authenticated", False) and (observation.owner_id == user.pk or is_reviewer(user))


def observation_for_viewer(*, user, observation_id) -> Observation:
    """Owners and reviewers may read an observation through /observations/; for anyone else it does not exist."""
    try:
        return observation_for_user(user=user, observation_id=observation_id)  # the common case: one query
    except ObservationNotFound:
        if not is_reviewer(user):
            raise
    return _found(with_relations(Observation.objects.filter(uuid=observation_id)).first())


def _found(observation: Observation | None) -> Observation:
    if observation is None:
        raise ObservationNotFound()
    return observation


def with_relations(qs):
    return qs.select_related(
        "prediction__model_version",
        "prediction__taxon",
        "verdict__taxon",
        "verified_taxon",
        "community_taxon",
        "verified_by",
        "owner",
    )


def observation_list_for_owner(*, user):
    return with_relations(Observation.objects.filter(owner=user)).order_by("-created", "-id")


def public_observations():
    """The public feed: finished, listed publicly (not a camera-trap frame of a project that keeps
    its frames to itself), not rejected by a reviewer."""
    return with_relations(
        Observation.objects.filter(status=Observation.Status.DONE, listed_publicly=True).exclude(
            verification=Verification.REJECTED
        )
    ).order_by("-created", "-id")


# Who else may see an unlisted record, by app: each rule maps a signed-in user to a filter on
# Observation (cameratraps: the members of the frame's project). Registered in an AppConfig.ready(),
# so this app names no app downstream of it.
_VIEWER_RULES: list = []


def viewer_rule_register(rule) -> None:
    if rule not in _VIEWER_RULES:
        _VIEWER_RULES.append(rule)


def _observation_by_viewer_rules(*, user, observation_id) -> Observation | None:
    if not getattr(user, "is_authenticated", False) or not _VIEWER_RULES:
        return None
    allowed = Q()
    for rule in _VIEWER_RULES:
        allowed |= rule(user)
    return with_relations(Observation.objects.filter(allowed, uuid=observation_id)).distinct().first()


def public_observation(*, observation_id) -> Observation:
    return _found(public_observations().filter(uuid=observation_id).first())


def observation_visible(*, user, observation_id) -> Observation:
    """Owner, reviewer, a record of the public feed, or one a viewer rule lets this user see (a
    camera-trap frame to its project's members): identifications, the photo."""
    try:
        return observation_for_viewer(user=user, observation_id=observation_id)
    except ObservationNotFound:
        pass
    try:
        return public_observation(observation_id=observation_id)
    except ObservationNotFound:
        return _found(_observation_by_viewer_rules(user=user, observation_id=observation_id))


def observation_best_taxon(observation: Observation) -> Taxon | None:
    """Expert's taxon, else the community's, else the model's."""
    prediction = getattr(observation, "prediction", None)
    return observation.verified_taxon or observation.community_taxon or (prediction.taxon if prediction else None)


# The regions a public surface may name under each generalisation: none smaller than the cell the
# point is generalised to (an obscured record that names its county, or a 1° cell whose "first
# record in US-12057" names one, gives away what the generalisation hides). Counties and
# districts are often smaller than a 0.1° cell (about 11 km); states and countries rarely are.
_COARSE = frozenset({RegionKind.COUNTRY, RegionKind.GROUP, RegionKind.ADMIN1})
PUBLIC_REGION_KINDS: dict[str, frozenset | None] = {
    NONE: None,  # every region
    "0.001": None,
    "0.01": None,
    "0.1": _COARSE,
    "1": _COARSE,
    WITHHOLD: frozenset({RegionKind.COUNTRY}),
}


def _public_regions(codes: list[str], category: str) -> list[dict]:
    """Regions named on public surfaces: none finer than the generalisation allows (an unknown
    code, whose size is unknown, only where every region may be named)."""
    regions = regions_by_codes(list(codes))
    allowed = PUBLIC_REGION_KINDS.get(category, PUBLIC_REGION_KINDS[WITHHOLD])
    out = []
    for code in codes:
        region = regions.get(code)
        kind = region.kind if region else ""
        if allowed is None or kind in allowed:
            out.append({"code": code, "name": region.name if region else code, "kind": kind})
    return out


def public_region_codes(codes, category: str) -> list[str]:
    """`codes` cut to those a public surface may name under `category` (order kept)."""
    return [region["code"] for region in _public_regions(list(codes), category)]


def observation_public(observation: Observation) -> dict:
    """The `PublicObservationOutputSerializer` shape: public fields only, generalised point."""
    place = observation_public_location(observation)
    stored = getattr(observation, "verdict", None)
    return {
        "id": observation.uuid,
        "user": observation.owner.username,
        "observed_on": (observation.observed_at or observation.created).date(),
        "taxon": observation_best_taxon(observation),
        "verdict": stored.status if stored is not None else None,
        "verification": observation.verification,
        "location": _location_dict(place),
        "regions": _public_regions(observation_region_codes(observation), place.category),
        "first_record_regions": observation_public_first_records(observation, place.category),
    }


def observation_public_first_records(observation: Observation, category: str) -> list[str]:
    """The regions where the record is a first, as a public surface (feed, exports) may name them."""
    return public_region_codes(observation.first_record_regions, category)


def _location_dict(place: PublicLocation) -> dict:
    return {
        "latitude": place.latitude,
        "longitude": place.longitude,
        "generalised": place.generalised,
        "generalisation": place.category,
        "coordinate_uncertainty_m": place.coordinate_uncertainty_m,
        "data_generalizations": place.data_generalizations,
        "information_withheld": place.information_withheld,
    }


def observation_citizen_science(observation: Observation) -> dict:
    """What the owner and reviewers see beyond the classification: privacy, ids, verification."""
    place = observation_public_location(observation)
    return {
        "geoprivacy": observation.geoprivacy,
        "public_location": _location_dict(place),
        "verification": observation.verification,
        "verified_taxon": observation.verified_taxon,
        "verified_by": observation.verified_by.username if observation.verified_by else None,
        "community_taxon": observation.community_taxon,
        "first_record_regions": list(observation.first_record_regions),
    }
