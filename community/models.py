"""What people add to an observation: identifications (the community taxon) and expert reviews;
Darwin Core Archive export jobs."""

import uuid

from django.conf import settings
from django.db import models

from observations.models import Observation
from species.models import Taxon


class Identification(models.Model):
    """A user's taxon for an observation. A newer one by the same user withdraws the older."""

    observation = models.ForeignKey(Observation, on_delete=models.CASCADE, related_name="identifications")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identifications")
    taxon = models.ForeignKey(Taxon, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(blank=True)
    is_current = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["observation", "user"],
                condition=models.Q(is_current=True),
                name="one_current_identification_per_user",
            )
        ]
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

    def __str__(self):
        return f"{self.reviewer} {self.decision}s {self.observation.uuid}"


def export_key(instance, filename):
    return f"exports/dwca/{instance.uuid.hex}.zip"


class DwcaExport(models.Model):
    """A Darwin Core Archive export, written by a worker into private storage and downloaded by the
    reviewer who asked for it (inside the request, 6.6 ms a record took ~9k records past 60 s)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        DONE = "done"
        FAILED = "failed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dwca_exports")
    verified_only = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    file = models.FileField(upload_to=export_key, blank=True)
    records = models.PositiveIntegerField(null=True, blank=True)
    failure = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            # One running export per user (issue 23: four exports of 15k records queued in 0.5 s);
            # the database holds it under concurrent requests, community.exports answers it.
            models.UniqueConstraint(
                fields=["requested_by"], condition=models.Q(status="queued"), name="one_queued_dwca_export_per_user"
            )
        ]

    def __str__(self):
        return f"DwC-A export {self.uuid} ({self.status})"
