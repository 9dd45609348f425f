"""Citizen-science reports: the upload, the model's predictions and the verdict."""
import uuid

from django.conf import settings
from django.db import models

from species.models import Taxon


class ModelVersion(models.Model):
    """A registered model artifact (a folder with weights and manifest.json). One is active."""

    name = models.CharField(max_length=200, unique=True)
    arch = models.CharField(max_length=40)
    path = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64)
    num_labels = models.PositiveIntegerField()
    metrics = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    activated = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True), name="one_active_model")]

    def __str__(self):
        return f"{self.name}{' (active)' if self.is_active else ''}"


def photo_key(instance, filename):
    # Client file names are never used: a generated key only.
    return f"photos/{instance.uuid.hex[:2]}/{instance.uuid.hex}"


class Observation(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        PROCESSING = "processing"
        DONE = "done"
        FAILED = "failed"

    class LocationSource(models.TextChoices):
        CLIENT = "client"
        EXIF = "exif"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="observations")
    photo = models.FileField(upload_to=photo_key)
    photo_format = models.CharField(max_length=10, blank=True)
    photo_width = models.PositiveIntegerField(null=True)
    photo_height = models.PositiveIntegerField(null=True)
    latitude = models.FloatField()
    longitude = models.FloatField()
    location_source = models.CharField(max_length=8, choices=LocationSource.choices)
    location_flags = models.JSONField(default=list, blank=True)
    observed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    failure_code = models.CharField(max_length=40, blank=True)
    failure_detail = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    idempotency_key = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"], condition=~models.Q(idempotency_key=""), name="unique_idempotency_key_per_owner"
            )
        ]
        indexes = [models.Index(fields=["status", "updated"])]
        ordering = ["-created"]

    def __str__(self):
        return f"observation {self.uuid} ({self.status})"


class Prediction(models.Model):
    """What the model said: top-k taxa with calibrated scores, and the taxon it settled on."""

    observation = models.OneToOneField(Observation, on_delete=models.CASCADE, related_name="prediction")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="predictions")
    top_k = models.JSONField(help_text="[{key, score}] best first")
    taxon = models.ForeignKey(Taxon, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    score = models.FloatField(null=True)
    no_animal_score = models.FloatField(default=0.0)
    created = models.DateTimeField(auto_now_add=True)


class Verdict(models.Model):
    observation = models.OneToOneField(Observation, on_delete=models.CASCADE, related_name="verdict")
    taxon = models.ForeignKey(Taxon, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16)
    alert_level = models.CharField(max_length=10, blank=True, help_text="alert, possible (low-confidence watch-list match) or empty")
    region_code = models.CharField(max_length=16, blank=True)
    region_codes = models.JSONField(default=list)
    explanation = models.TextField()
    sources = models.JSONField(default=list)
    contacts = models.JSONField(default=list, help_text="snapshot of the contacts at verdict time")
    created = models.DateTimeField(auto_now_add=True)
