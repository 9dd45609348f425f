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
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True), name="one_active_model")
        ]

    def __str__(self):
        return f"{self.name}{' (active)' if self.is_active else ''}"


class ModelEvaluation(models.Model):
    """A model version's score on one validation split (a training run's held-out images, named by
    the sha256 of their list): the evidence an activation is judged on."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="evaluations")
    split_sha256 = models.CharField(max_length=64)
    images = models.PositiveIntegerField(help_text="validation images scored (unreadable ones left out)")
    macro_f1 = models.FloatField(help_text="mean F1 over the taxa shown in the validation images")
    accuracy = models.FloatField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "split_sha256"], name="one_evaluation_per_split")]

    def __str__(self):
        return (
            f"{self.version.name} on split {self.split_sha256[:8]}: macro-F1 {self.macro_f1:.3f} ({self.images} images)"
        )


class ModelActivation(models.Model):
    """Who made a model version the serving one, when and why (append-only; rollback reads it)."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="activations")
    previous = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # A name, not a user row: the log outlives accounts, and shell operators are not users.
    by = models.CharField(max_length=150, help_text='"alice (admin)" or "root@host (manage.py)"')
    reason = models.TextField()
    comparison = models.CharField(
        max_length=300, blank=True, help_text="the validation scores the decision was taken on"
    )
    forced = models.BooleanField(default=False, help_text="activated against a lower score, or without one")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-pk"]
        get_latest_by = ["at", "pk"]

    def __str__(self):
        return f"{self.version.name} by {self.by} at {self.at:%Y-%m-%d %H:%M}"
