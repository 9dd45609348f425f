"""The worker's classifier: loaded once per process, swapped when another model version is activated."""
from __future__ import annotations

import logging
import threading

from django.conf import settings

from observations.models import ModelVersion

log = logging.getLogger(__name__)
_lock = threading.Lock()
_loaded: tuple[int, object] | None = None  # (model version id, ml.engine.Classifier)


class NoActiveModel(RuntimeError):
    pass


def active_model_version() -> ModelVersion:
    version = ModelVersion.objects.filter(is_active=True).first()
    if version is None:
        raise NoActiveModel("no active model version: run `python manage.py bootstrap` or activate a trained model")
    return version


def active_classifier():
    """(ModelVersion, Classifier). One indexed query per call to notice a newly activated version."""
    global _loaded
    version = active_model_version()
    if _loaded is not None and _loaded[0] == version.pk:
        return version, _loaded[1]
    with _lock:
        if _loaded is None or _loaded[0] != version.pk:
            from ml.engine import Classifier  # torch is imported here, in workers only

            classifier = Classifier.load(
                version.path,
                backend=settings.RANGEWATCH_INFERENCE_BACKEND,
                device=settings.RANGEWATCH_INFERENCE_DEVICE,
                threads=settings.RANGEWATCH_TORCH_THREADS,
                top_k=settings.RANGEWATCH_TOP_K,
                max_pixels=settings.RANGEWATCH_MAX_IMAGE_PIXELS,
            )
            _loaded = (version.pk, classifier)
            log.info("serving model version %s (%s) from %s", version.name, version.arch, version.path)
    return version, _loaded[1]


def classify_photo(data: bytes):
    """(ModelVersion, ml.engine.Classification) for one photo's bytes."""
    version, classifier = active_classifier()
    return version, classifier.classify([data])[0]
