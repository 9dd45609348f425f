"""Reads of model versions and their activation log."""

from __future__ import annotations

from classifier.models import ModelActivation, ModelVersion
from core.errors import NotFound, ServiceError


class NoActiveModel(ServiceError):
    code = "no_active_model"
    status = 503


def active_model_version() -> ModelVersion:
    version = ModelVersion.objects.filter(is_active=True).first()
    if version is None:
        raise NoActiveModel("no active model version: run `python manage.py bootstrap` or activate a trained model")
    return version


def model_versions():
    return ModelVersion.objects.prefetch_related("evaluations").order_by("-created", "-pk")


def model_version_by_name(name: str) -> ModelVersion:
    version = ModelVersion.objects.filter(name=name).first()
    if version is None:
        known = ", ".join(model_versions().values_list("name", flat=True)[:10]) or "none"
        raise NotFound(f"no model version named {name!r} (known: {known})")
    return version


def model_activations():
    """The activation log, newest first."""
    return ModelActivation.objects.select_related("version", "previous")
