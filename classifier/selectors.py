"""Reads of model versions."""
from __future__ import annotations

from backend.errors import ServiceError
from classifier.models import ModelVersion


class NoActiveModel(ServiceError):
    code = "no_active_model"
    status = 503


def active_model_version() -> ModelVersion:
    version = ModelVersion.objects.filter(is_active=True).first()
    if version is None:
        raise NoActiveModel("no active model version: run `python manage.py bootstrap` or activate a trained model")
    return version
