"""Registered model artifacts: which versions exist and which one serves."""
from django.db import models


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
