"""Citizen-science reports: the upload, the model's predictions, the verdict and the record's
privacy and verification state (written by the community app's review)."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from classifier.models import ModelVersion
from species.models import Sensitivity, Taxon


def photo_key(instance, filename):
    # Client file names are never used: a generated key only.
    return f"photos/{instance.uuid.hex[:2]}/{instance.uuid.hex}"


class Geoprivacy(models.TextChoices):
    """The observer's choice (iNaturalist-style); the strictest of this and the taxa's rules applies."""

    OPEN = "open"
    OBSCURED = "obscured"  # public surfaces show a 0.1° cell
    PRIVATE = "private"  # public surfaces withhold the location


class Verification(models.TextChoices):
    UNREVIEWED = "unreviewed"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


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
    # Darwin Core's coordinateUncertaintyInMeters starts here: the phone's or browser's reported
    # accuracy, or the photo's EXIF GPSHPositioningError when the point came from the EXIF.
    accuracy_m = models.FloatField(
        null=True, blank=True, help_text="horizontal accuracy of the point in metres; empty: unknown"
    )
    observed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    failure_code = models.CharField(max_length=40, blank=True)
    failure_detail = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Job bookkeeping for the sweeper: when the job was last handed to the broker (null: the broker
    # refused it), and which worker process ("host:pid", classifier.inference) claimed it last.
    published_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    worker = models.CharField(max_length=100, blank=True)
    # Sent as part of a batch (a camera-trap card, an import): classified on the batch queue, behind
    # interactive uploads, also when the sweeper publishes it again.
    batch = models.BooleanField(default=False)
    # A batch frame waiting for its source's turn (fair shares between camera-trap projects): not
    # yet handed to the broker, and the sweeper leaves it alone; its source releases it.
    held = models.BooleanField(default=False)
    # On public surfaces (the anonymous feed, exports, anyone's photo and identification requests).
    # A camera-trap frame is not unless its project opts in: traps photograph people (issue 23).
    listed_publicly = models.BooleanField(default=True)
    idempotency_key = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    # Citizen science: the observer's geoprivacy, the expert verification, the community taxon.
    geoprivacy = models.CharField(max_length=10, choices=Geoprivacy.choices, default=Geoprivacy.OPEN)
    verification = models.CharField(
        max_length=12, choices=Verification.choices, default=Verification.UNREVIEWED, db_index=True
    )
    verified_taxon = models.ForeignKey(Taxon, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    community_taxon = models.ForeignKey(Taxon, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    first_record_regions = models.JSONField(
        default=list, blank=True, help_text="region codes where this verified record is the first of its taxon"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="unique_idempotency_key_per_owner",
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

    def __str__(self):
        return f"prediction for {self.observation.uuid}: {self.taxon or 'no taxon'} ({self.score})"


class Verdict(models.Model):
    observation = models.OneToOneField(Observation, on_delete=models.CASCADE, related_name="verdict")
    taxon = models.ForeignKey(Taxon, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16)
    alert_level = models.CharField(
        max_length=10, blank=True, help_text="alert, possible (low-confidence watch-list match) or empty"
    )
    region_code = models.CharField(max_length=16, blank=True)
    region_codes = models.JSONField(default=list)
    explanation = models.TextField()
    sources = models.JSONField(default=list)
    contacts = models.JSONField(default=list, help_text="snapshot of the contacts at verdict time")
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.status} for {self.observation.uuid}"


class TaxonRegionSensitivity(models.Model):
    """Sensitivity of a taxon in one region (e.g. a species poached only there), Chapman 2020."""

    taxon = models.ForeignKey(Taxon, on_delete=models.CASCADE, related_name="region_sensitivities")
    region = models.ForeignKey("ranges.Region", on_delete=models.CASCADE, related_name="taxon_sensitivities")
    sensitivity = models.CharField(max_length=10, choices=Sensitivity.choices)
    reason = models.CharField(max_length=300, blank=True)
    source_url = models.URLField(max_length=500, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["taxon", "region"], name="unique_taxon_region_sensitivity")]
        verbose_name_plural = "taxon × region sensitivities"

    def __str__(self):
        return f"{self.taxon.scientific_name} in {self.region.code}: {self.sensitivity}"
