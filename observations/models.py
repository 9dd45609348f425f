"""Citizen-science reports: the upload, the model's predictions and the verdict."""
import uuid

from django.conf import settings
from django.db import models

from species.models import Sensitivity, Taxon


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
    observed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    failure_code = models.CharField(max_length=40, blank=True)
    failure_detail = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    idempotency_key = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    # Citizen science: the observer's geoprivacy, the expert verification, the community taxon.
    geoprivacy = models.CharField(max_length=10, choices=Geoprivacy.choices, default=Geoprivacy.OPEN)
    verification = models.CharField(max_length=12, choices=Verification.choices, default=Verification.UNREVIEWED, db_index=True)
    verified_taxon = models.ForeignKey(Taxon, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    verified_at = models.DateTimeField(null=True, blank=True)
    community_taxon = models.ForeignKey(Taxon, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    first_record_regions = models.JSONField(default=list, blank=True, help_text="region codes where this verified record is the first of its taxon")

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


class Identification(models.Model):
    """A user's taxon for an observation. A newer one by the same user withdraws the older."""

    observation = models.ForeignKey(Observation, on_delete=models.CASCADE, related_name="identifications")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identifications")
    taxon = models.ForeignKey(Taxon, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(blank=True)
    is_current = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["observation", "user"], condition=models.Q(is_current=True), name="one_current_identification_per_user")]
        ordering = ["created", "id"]

    def __str__(self):
        return f"{self.user} says {self.taxon.scientific_name} on {self.observation.uuid}"


class Review(models.Model):
    """An expert's decision; the latest one sets the observation's verification."""

    class Decision(models.TextChoices):
        CONFIRM = "confirm"
        REJECT = "reject"

    observation = models.ForeignKey(Observation, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    taxon = models.ForeignKey(Taxon, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]


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


class ContactWebhook(models.Model):
    """Where a contact wants alerts POSTed, signed with HMAC-SHA256 over timestamp and body."""

    contact = models.ForeignKey("ranges.Contact", on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)

    def __str__(self):
        return f"webhook {self.url} of {self.contact}"


class AlertGroup(models.Model):
    """Sightings of one taxon in one region on one day: contacts hear about the group once."""

    class Level(models.TextChoices):
        POSSIBLE = "possible"
        ALERT = "alert"
        URGENT = "urgent"  # a first record in a region

    taxon = models.ForeignKey(Taxon, on_delete=models.CASCADE, related_name="+")
    region_code = models.CharField(max_length=16)
    day = models.DateField()
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.ALERT)
    reason = models.CharField(max_length=20, help_text="verified or watch_list")
    observations = models.ManyToManyField(Observation, related_name="alert_groups")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["taxon", "region_code", "day"], name="one_alert_group_per_taxon_region_day")]

    def __str__(self):
        return f"{self.taxon.scientific_name} in {self.region_code} on {self.day} ({self.level})"


class AlertDelivery(models.Model):
    """One message to one contact over one channel; every try is recorded on the row."""

    class Channel(models.TextChoices):
        EMAIL = "email"
        WEBHOOK = "webhook"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"
        SKIPPED = "skipped"  # the contact or webhook was paused before sending

    group = models.ForeignKey(AlertGroup, on_delete=models.CASCADE, related_name="deliveries")
    observation = models.ForeignKey(Observation, on_delete=models.CASCADE, related_name="alert_deliveries", help_text="the sighting that raised it")
    contact = models.ForeignKey("ranges.Contact", on_delete=models.CASCADE, related_name="alert_deliveries")
    webhook = models.ForeignKey(ContactWebhook, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    target = models.CharField(max_length=500)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True)
    payload = models.JSONField(default=dict)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "contact", "channel", "target"], name="one_delivery_per_group_contact_target")]
        verbose_name_plural = "alert deliveries"

    def __str__(self):
        return f"{self.channel} to {self.target} ({self.status})"
