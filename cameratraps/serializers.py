"""Input and output shapes of the camera-trap project API."""

from rest_framework import serializers

from cameratraps.models import Project
from observations.models import Geoprivacy, Observation
from observations.serializers import (
    ObservationInputSerializer,
    ObservationOutputSerializer,
)
from observations.services import observed_at_problem
from ranges.serializers import latitude_field, longitude_field
from ranges.verdict import VERDICT_STATUSES


class ProjectInputSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=80)
    title = serializers.CharField(max_length=300, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    upload_quota_per_hour = serializers.IntegerField(
        min_value=1,
        max_value=1_000_000,
        required=False,
        help_text="uploads per hour, all members together; above the default (20,000) it waits for staff approval",
    )
    default_geoprivacy = serializers.ChoiceField(choices=Geoprivacy.choices, required=False)
    frames_public = serializers.BooleanField(
        required=False, help_text="frames in the public feed and to anyone signed in (default: members only)"
    )
    sequence_interval_s = serializers.IntegerField(min_value=1, max_value=86_400, required=False)
    sampling_design = serializers.ChoiceField(choices=Project.SamplingDesign.choices, required=False)


class ProjectOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    owner = serializers.CharField(source="owner.username")
    upload_quota_per_hour = serializers.IntegerField()
    upload_quota_requested = serializers.IntegerField(allow_null=True, help_text="waiting for staff approval")
    default_geoprivacy = serializers.ChoiceField(choices=Geoprivacy.choices)
    frames_public = serializers.BooleanField()
    sequence_interval_s = serializers.IntegerField()
    sampling_design = serializers.CharField()
    created = serializers.DateTimeField()


class DeploymentInputSerializer(serializers.Serializer):
    deployment_id = serializers.CharField(max_length=100)
    location_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    location_name = serializers.CharField(max_length=300, required=False, allow_blank=True)
    latitude = latitude_field()
    longitude = longitude_field()
    coordinate_uncertainty_m = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    camera_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    camera_model = serializers.CharField(max_length=100, required=False, allow_blank=True)
    start = serializers.DateTimeField(required=False, allow_null=True)
    end = serializers.DateTimeField(required=False, allow_null=True)

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": "the deployment ends before it starts"})
        return attrs


class DeploymentOutputSerializer(DeploymentInputSerializer):
    pass


class MediaUploadInputSerializer(ObservationInputSerializer):
    """A project frame: the phone upload's fields plus the deployment it comes from. Without
    coordinates the frame is placed at the deployment."""

    deployment = serializers.CharField(max_length=100, help_text="deploymentID; a new one needs latitude/longitude")
    media_id = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="the source's mediaID (default: generated)"
    )


class MediaListQuerySerializer(serializers.Serializer):
    deployment = serializers.CharField(required=False, help_text="deploymentID")
    status = serializers.ChoiceField(choices=Observation.Status.choices, required=False)
    verdict = serializers.ChoiceField(choices=[(v, v) for v in VERDICT_STATUSES], required=False)
    taxon = serializers.CharField(
        required=False, help_text="scientific name: frames identified as it or a taxon under it"
    )
    since = serializers.DateTimeField(required=False, help_text="captured at or after")
    until = serializers.DateTimeField(required=False, help_text="captured before")


class MediaOutputSerializer(serializers.Serializer):
    media_id = serializers.CharField()
    deployment = serializers.CharField(source="deployment.deployment_id")
    file_name = serializers.CharField()
    timestamp = serializers.DateTimeField()
    observation = ObservationOutputSerializer()


class MediaPageSerializer(serializers.Serializer):
    """A page of a project's frames (cursor pagination: follow `next`)."""

    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = MediaOutputSerializer(many=True)


class SequenceOutputSerializer(serializers.Serializer):
    sequence_id = serializers.CharField()
    deployment = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    media_ids = serializers.ListField(child=serializers.CharField())
    observation_type = serializers.CharField(help_text="Camtrap DP observationType: animal, human, blank, unclassified")
    scientific_name = serializers.CharField(allow_blank=True)
    probability = serializers.FloatField(allow_null=True, help_text="the taxon's mean score over the non-empty frames")
    best_media_id = serializers.CharField(allow_blank=True)


class MediaRowSerializer(serializers.Serializer):
    """A media.csv row of an imported package (Camtrap DP names), by the project upload's rules:
    ids within their columns, a capture time from 1900 to a day ahead, a file path."""

    mediaID = serializers.CharField(max_length=100)  # noqa: N815 - Camtrap DP's column names
    deploymentID = serializers.CharField(max_length=100)  # noqa: N815
    timestamp = serializers.DateTimeField(allow_null=True)  # none: the photo's EXIF date, as on upload
    filePath = serializers.CharField(max_length=1000)  # noqa: N815

    def validate_timestamp(self, value):
        problem = observed_at_problem(value) if value is not None else None
        if problem:
            raise serializers.ValidationError(problem)
        return value


class PointRowSerializer(serializers.Serializer):
    """An imported image's point: both or neither, finite and on the globe (COCO Camera Traps)."""

    latitude = latitude_field(required=False, allow_null=True)
    longitude = longitude_field(required=False, allow_null=True)

    def validate(self, attrs):
        if (attrs.get("latitude") is None) != (attrs.get("longitude") is None):
            raise serializers.ValidationError({"latitude": "give both latitude and longitude, or neither"})
        return attrs
