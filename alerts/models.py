"""Alerts to local contacts: webhooks, groups of sightings, and every message sent."""

from django.db import models

from alerts.webhooks import validate_webhook_url
from observations.models import Observation
from ranges.models import Contact
from species.models import Taxon


class ContactWebhook(models.Model):
    """Where a contact wants alerts POSTed, signed with HMAC-SHA256 over timestamp and body."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500, validators=[validate_webhook_url], help_text="https, on a public address")
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
        constraints = [
            models.UniqueConstraint(fields=["taxon", "region_code", "day"], name="one_alert_group_per_taxon_region_day")
        ]

    def __str__(self):
        return f"{self.taxon.scientific_name} in {self.region_code} on {self.day} ({self.level})"


class DeliveryRecord(models.Model):
    """One message to one receiver, and every try of it (alerts.delivery.delivery_attempt records
    them): an alert's delivery, a watch list's webhook delivery."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"
        SKIPPED = "skipped"  # the contact or webhook was paused before sending

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True)
    payload = models.JSONField(default=dict)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class AlertDelivery(DeliveryRecord):
    """One message to one contact over one channel; every try is recorded on the row."""

    class Channel(models.TextChoices):
        EMAIL = "email"
        WEBHOOK = "webhook"

    group = models.ForeignKey(AlertGroup, on_delete=models.CASCADE, related_name="deliveries")
    observation = models.ForeignKey(
        Observation, on_delete=models.CASCADE, related_name="alert_deliveries", help_text="the sighting that raised it"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="alert_deliveries")
    webhook = models.ForeignKey(
        ContactWebhook, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    target = models.CharField(max_length=500)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "contact", "channel", "target"], name="one_delivery_per_group_contact_target"
            )
        ]
        verbose_name_plural = "alert deliveries"

    def __str__(self):
        return f"{self.channel} to {self.target} ({self.status})"
