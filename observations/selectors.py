"""Reads of observations, shaped for the API."""
from __future__ import annotations

from observations.models import Observation
from ranges.answers import verdict_answer
from species.selectors import taxa_by_keys


def observation_for_user(*, user, observation_id) -> Observation | None:
    """The caller's own observation (others' are invisible: 404, not 403)."""
    return (
        Observation.objects.filter(uuid=observation_id, owner=user)
        .select_related("prediction__model_version", "prediction__taxon", "verdict__taxon")
        .first()
    )


def observation_result(observation: Observation) -> dict:
    """The `ObservationOutputSerializer` shape."""
    prediction = getattr(observation, "prediction", None)
    stored = getattr(observation, "verdict", None)
    result = {
        "id": observation.uuid,
        "status": observation.status,
        "created": observation.created,
        "observed_at": observation.observed_at,
        "location": {
            "latitude": observation.latitude,
            "longitude": observation.longitude,
            "source": observation.location_source,
            "flags": observation.location_flags,
        },
        "model_version": prediction.model_version.name if prediction else None,
        "predictions": [],
        "identification": None,
        "verdict": None,
        "species_info": None,
        "alert": None,
        "failure": {"code": observation.failure_code, "detail": observation.failure_detail} if observation.status == Observation.Status.FAILED else None,
    }
    if prediction is not None:
        taxa = taxa_by_keys(item["key"] for item in prediction.top_k)
        result["predictions"] = [{"taxon": taxa.get(item["key"]), "key": item["key"], "score": item["score"]} for item in prediction.top_k]
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
    return result
