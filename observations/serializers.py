from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from ranges.serializers import AlertSerializer, SpeciesInfoSerializer, VerdictSerializer, latitude_field, longitude_field
from species.serializers import TaxonBriefSerializer


class ObservationInputSerializer(serializers.Serializer):
    photo = serializers.FileField(help_text="JPEG, PNG, WebP, GIF, TIFF, BMP or HEIC")
    latitude = latitude_field(required=False, allow_null=True)
    longitude = longitude_field(required=False, allow_null=True)
    observed_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_observed_at(self, value):
        if value is not None and value > timezone.now() + timedelta(hours=24):
            raise serializers.ValidationError("observed_at is in the future")
        return value

    def validate(self, attrs):
        if (attrs.get("latitude") is None) != (attrs.get("longitude") is None):
            missing = "longitude" if attrs.get("longitude") is None else "latitude"
            raise serializers.ValidationError({missing: "give both latitude and longitude, or neither (then the photo's GPS is used)"})
        return attrs


class WaitSerializer(serializers.Serializer):
    wait = serializers.FloatField(required=False, min_value=0, max_value=10, default=0)


class ScoreSerializer(serializers.Serializer):
    taxon = TaxonBriefSerializer(allow_null=True)
    key = serializers.CharField(help_text="scientific name, or no_animal")
    score = serializers.FloatField()
    expected_here = serializers.BooleanField(allow_null=True, default=None, help_text="native or established where the photo was taken; null: not judged (no_animal, older rows)")


class IdentificationSerializer(serializers.Serializer):
    taxon = TaxonBriefSerializer()
    score = serializers.FloatField()


class LocationSerializer(serializers.Serializer):
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    source = serializers.CharField()
    flags = serializers.ListField(child=serializers.CharField())


class FailureSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


class ObservationOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["queued", "processing", "done", "failed"])
    created = serializers.DateTimeField()
    observed_at = serializers.DateTimeField(allow_null=True)
    location = LocationSerializer()
    model_version = serializers.CharField(allow_null=True)
    predictions = ScoreSerializer(many=True)
    identification = IdentificationSerializer(allow_null=True)
    verdict = VerdictSerializer(allow_null=True)
    species_info = SpeciesInfoSerializer(allow_null=True)
    alert = AlertSerializer(allow_null=True)
    failure = FailureSerializer(allow_null=True)


# --- Accounts ---------------------------------------------------------------------------------

class RegisterInputSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class LoginInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)


class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class TokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="send as `Authorization: Token <token>`")
    expiry = serializers.DateTimeField()
    user = UserBriefSerializer()


# --- Citizen science --------------------------------------------------------------------------

class PublicLocationSerializer(serializers.Serializer):
    latitude = serializers.FloatField(allow_null=True)
    longitude = serializers.FloatField(allow_null=True)
    generalised = serializers.BooleanField()
    generalisation = serializers.ChoiceField(choices=["none", "0.001", "0.01", "0.1", "1", "withhold"])
    coordinate_uncertainty_m = serializers.FloatField(allow_null=True)
    data_generalizations = serializers.CharField(allow_blank=True)
    information_withheld = serializers.CharField(allow_blank=True)


class CitizenScienceSerializer(serializers.Serializer):
    geoprivacy = serializers.ChoiceField(choices=["open", "obscured", "private"])
    public_location = PublicLocationSerializer()
    verification = serializers.ChoiceField(choices=["unreviewed", "confirmed", "rejected"])
    verified_taxon = TaxonBriefSerializer(allow_null=True)
    verified_by = serializers.CharField(allow_null=True)
    community_taxon = TaxonBriefSerializer(allow_null=True)
    first_record_regions = serializers.ListField(child=serializers.CharField())


class ObservationDetailOutputSerializer(ObservationOutputSerializer):
    """The owner's (and reviewers') view: the exact point plus privacy and verification."""

    citizen_science = CitizenScienceSerializer()


class ObservationUpdateInputSerializer(serializers.Serializer):
    geoprivacy = serializers.ChoiceField(choices=["open", "obscured", "private"])


class PublicRegionSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField(allow_blank=True)


class PublicObservationOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    user = serializers.CharField()
    observed_on = serializers.DateField()
    taxon = TaxonBriefSerializer(allow_null=True)
    verdict = serializers.CharField(allow_null=True)
    verification = serializers.CharField()
    location = PublicLocationSerializer()
    regions = PublicRegionSerializer(many=True)
    first_record_regions = serializers.ListField(child=serializers.CharField())


class IdentificationInputSerializer(serializers.Serializer):
    taxon = serializers.CharField(max_length=200, required=False, help_text="taxon id or scientific name")
    agree_with = serializers.IntegerField(required=False, help_text="id of an identification to agree with")
    body = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")

    def validate(self, attrs):
        if bool(attrs.get("taxon")) == bool(attrs.get("agree_with")):
            raise serializers.ValidationError({"taxon": "give a taxon, or agree_with an identification (one of them)"})
        return attrs


class IdentificationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user = serializers.CharField(source="user.username")
    taxon = TaxonBriefSerializer()
    body = serializers.CharField()
    is_current = serializers.BooleanField()
    created = serializers.DateTimeField()


class IdentificationsOutputSerializer(serializers.Serializer):
    community_taxon = TaxonBriefSerializer(allow_null=True)
    identifications = IdentificationOutputSerializer(many=True)


class ReviewInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["confirm", "reject"])
    taxon = serializers.CharField(max_length=200, required=False, help_text="taxon id or scientific name (default: community, else model)")
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class ReviewQueueInputSerializer(serializers.Serializer):
    region = serializers.CharField(required=False, max_length=16, allow_blank=True, default="")
    verdict = serializers.ChoiceField(required=False, choices=["", "native", "introduced", "invasive", "out_of_range", "unknown", "uncertain", "no_animal"], default="")
    min_confidence = serializers.FloatField(required=False, min_value=0, max_value=1, allow_null=True, default=None)
    max_confidence = serializers.FloatField(required=False, min_value=0, max_value=1, allow_null=True, default=None)
    verification = serializers.ChoiceField(required=False, choices=["", "unreviewed", "confirmed", "rejected"], default="unreviewed")


class ObservationPageSerializer(serializers.Serializer):
    """A page of the caller's observations (limit/offset pagination)."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ObservationDetailOutputSerializer(many=True)
