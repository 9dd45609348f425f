"""Camera-trap projects: a team's project, its deployments (a camera at a place for a time) and the
media link that puts an observation in a project. Observations stay unaware of projects."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from observations.models import Geoprivacy, Observation


class Project(models.Model):
    """A camera-trap project. Its uploads count against its own quota (not each member's rate)."""

    class SamplingDesign(models.TextChoices):
        """Camtrap DP project.samplingDesign (Wearn & Glover-Kapfer 2017)."""

        SIMPLE_RANDOM = "simpleRandom"
        SYSTEMATIC_RANDOM = "systematicRandom"
        CLUSTERED_RANDOM = "clusteredRandom"
        EXPERIMENTAL = "experimental"
        TARGETED = "targeted"
        OPPORTUNISTIC = "opportunistic"

    name = models.SlugField(max_length=80, unique=True, help_text="short identifier used in URLs and commands")
    title = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_camera_trap_projects"
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="camera_trap_projects")
    upload_quota_per_hour = models.PositiveIntegerField(
        default=20_000, help_text="uploads per hour, all members together"
    )
    # A quota above the default asked by a non-staff owner: waits here until a staff member approves
    # it (admin action); until then the default applies.
    upload_quota_requested = models.PositiveIntegerField(
        null=True, blank=True, help_text="a quota above the default, waiting for staff approval"
    )
    default_geoprivacy = models.CharField(max_length=10, choices=Geoprivacy.choices, default=Geoprivacy.OBSCURED)
    # Camera traps photograph people: a project's frames stay out of the public feed and exports, and
    # their photos and identifications are for the project's members, unless the project opts in.
    frames_public = models.BooleanField(
        default=False, help_text="frames appear in the public feed and to anyone signed in"
    )
    # Camtrap DP 0.x's project.sequenceInterval: frames of one deployment this close together are one sequence.
    sequence_interval_s = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(1), MaxValueValidator(86_400)]
    )
    sampling_design = models.CharField(
        max_length=20, choices=SamplingDesign.choices, default=SamplingDesign.OPPORTUNISTIC
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Deployment(models.Model):
    """One camera at one place for a period (Camtrap DP deployments.csv)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="deployments")
    deployment_id = models.CharField(max_length=100, help_text="Camtrap DP deploymentID, unique in the project")
    location_id = models.CharField(max_length=100, blank=True)
    location_name = models.CharField(max_length=300, blank=True)
    latitude = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)])
    coordinate_uncertainty_m = models.PositiveIntegerField(null=True, blank=True)
    camera_id = models.CharField(max_length=100, blank=True)
    camera_model = models.CharField(max_length=100, blank=True)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "deployment_id"], name="unique_deployment_per_project")
        ]
        ordering = ["deployment_id"]

    def __str__(self):
        return f"{self.project.name}/{self.deployment_id}"


class CameraSequence(models.Model):
    """A burst: frames of one deployment each within the project's sequence interval of the next
    (Camtrap DP eventID). Kept as frames arrive (cameratraps.services.media_sequence_assign), so a
    page of sequences is read with LIMIT/OFFSET instead of regrouping every frame per request."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sequences")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="sequences")
    start = models.DateTimeField()
    end = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["deployment", "start"]), models.Index(fields=["project", "start"])]
        ordering = ["deployment", "start"]

    def __str__(self):
        return f"{self.deployment} {self.start:%Y-%m-%d %H:%M:%S}"


class Media(models.Model):
    """A frame of a deployment: the link between a project and one observation (Camtrap DP media)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="media")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="media")
    observation = models.OneToOneField(Observation, on_delete=models.CASCADE, related_name="camera_trap_media")
    media_id = models.CharField(max_length=100, help_text="Camtrap DP mediaID (the source's, or generated)")
    file_name = models.CharField(max_length=300, blank=True)
    timestamp = models.DateTimeField(help_text="when the frame was taken")
    sequence = models.ForeignKey(CameraSequence, null=True, blank=True, on_delete=models.SET_NULL, related_name="media")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "media_id"], name="unique_media_per_project")]
        indexes = [models.Index(fields=["deployment", "timestamp"])]
        ordering = ["id"]
        verbose_name_plural = "media"

    def __str__(self):
        return f"{self.deployment}/{self.media_id}"
