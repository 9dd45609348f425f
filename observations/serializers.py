"""Input and output shapes of the observations API."""

from rest_framework import serializers

from observations.models import Geoprivacy, Observation, Verification
from observations.services import observed_at_problem
from ranges.serializers import (
    AlertSerializer,
    CoordinateField,
    SpeciesInfoSerializer,
    VerdictSerializer,
    latitude_field,
    longitude_field,
)
from species.models import Sensitivity
from species.serializers import TaxonBriefSerializer

# Darwin Core's bound for coordinateUncertaintyInMeters: half the Earth's equatorial circumference.
MAX_ACCURACY_M = 20_037_509


class AccuracyField(CoordinateField):
    """Horizontal accuracy in metres: finite, above zero (no receiver is exact), at most MAX_ACCURACY_M."""

    default_error_messages = {"not_positive": "accuracy_m must be a positive number of metres"}

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "horizontal accuracy of latitude/longitude in metres, as the device reports it")
        super().__init__(max_value=MAX_ACCURACY_M, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value <= 0:
            self.fail("not_positive")
        return value


class _ObservedAtField(serializers.DateTimeField):
    def enforce_timezone(self, value):
        try:
            return super().enforce_timezone(value)
        except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
            self.fail("invalid", format="a date between 1900 and tomorrow")


class ObservationInputSerializer(serializers.Serializer):
    photo = serializers.FileField(help_text="JPEG, PNG, WebP, GIF, TIFF, BMP or HEIC")
    latitude = latitude_field(required=False, allow_null=True)
    longitude = longitude_field(required=False, allow_null=True)
    accuracy_m = AccuracyField(required=False, allow_null=True)
    observed_at = _ObservedAtField(
        required=False, allow_null=True, help_text="from 1900 to a day ahead; default: the photo's EXIF date"
    )
    geoprivacy = serializers.ChoiceField(
        choices=Geoprivacy.choices,
        required=False,
        default=Geoprivacy.OPEN,
        help_text="what public surfaces show: the exact point, a 0.1° cell, or no point",
    )

    def validate_observed_at(self, value):
        problem = observed_at_problem(value) if value is not None else None
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate(self, attrs):
        if (attrs.get("latitude") is None) != (attrs.get("longitude") is None):
            missing = "longitude" if attrs.get("longitude") is None else "latitude"
            raise serializers.ValidationError(
                {missing: "give both latitude and longitude, or neither (then the photo's GPS is used)"}
            )
        if attrs.get("accuracy_m") is not None and attrs.get("latitude") is None:
            message = "send accuracy_m with the latitude and longitude it describes"
            raise serializers.ValidationError({"accuracy_m": message})
        return attrs


class WaitSerializer(serializers.Serializer):
    wait = serializers.FloatField(required=False, min_value=0, max_value=10, default=0)


class ScoreSerializer(serializers.Serializer):
    taxon = TaxonBriefSerializer(allow_null=True)
    key = serializers.CharField(help_text="scientific name, or no_animal")
    score = serializers.FloatField()
    expected_here = serializers.BooleanField(
        allow_null=True,
        default=None,
        help_text="true: native or established where the photo was taken; false: a known native range excludes "
        "the point and no register puts it here; null: no range data here (unknown, a domestic form, no_animal)",
    )
    asked_about = serializers.BooleanField(
        default=False, help_text="the candidate a please-verify answer asks about (alert level possible)"
    )


class IdentificationSerializer(serializers.Serializer):
    taxon = TaxonBriefSerializer()
    score = serializers.FloatField()


class LocationSerializer(serializers.Serializer):
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    accuracy_m = serializers.FloatField(allow_null=True, help_text="metres (device or EXIF); null: unknown")
    source = serializers.CharField()
    flags = serializers.ListField(child=serializers.CharField())


class FailureSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


class AnswerWordsSerializer(serializers.Serializer):
    """The answer in words, as every surface shows it (ranges.wording): clients show these strings
    rather than re-deriving them from the fields."""

    kind = serializers.ChoiceField(
        choices=["named", "possibly", "nothing_named", "no_animal", "person", "pending", "failed"]
    )
    name = serializers.CharField(allow_blank=True, help_text="what the answer names, common name first")
    confidence = serializers.CharField(allow_blank=True, help_text="the named taxon's own score, in words")
    headline = serializers.CharField(help_text="the status in a sentence, the region as people say it")
    status = serializers.CharField(help_text="short status words for a badge")
    region = serializers.CharField(allow_blank=True)
    score = serializers.FloatField(allow_null=True)
    taxon_key = serializers.CharField(allow_blank=True)
    summary = serializers.CharField(help_text="one line: name, confidence and headline")


class ObservationOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Observation.Status.choices)
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
    answer = AnswerWordsSerializer()


# --- Citizen science --------------------------------------------------------------------------


class PublicLocationSerializer(serializers.Serializer):
    latitude = serializers.FloatField(allow_null=True)
    longitude = serializers.FloatField(allow_null=True)
    generalised = serializers.BooleanField()
    generalisation = serializers.ChoiceField(choices=Sensitivity.choices)
    coordinate_uncertainty_m = serializers.FloatField(allow_null=True)
    data_generalizations = serializers.CharField(allow_blank=True)
    information_withheld = serializers.CharField(allow_blank=True)


class CitizenScienceSerializer(serializers.Serializer):
    geoprivacy = serializers.ChoiceField(choices=Geoprivacy.choices)
    public_location = PublicLocationSerializer()
    verification = serializers.ChoiceField(choices=Verification.choices)
    verified_taxon = TaxonBriefSerializer(allow_null=True)
    verified_by = serializers.CharField(allow_null=True)
    community_taxon = TaxonBriefSerializer(allow_null=True)
    first_record_regions = serializers.ListField(child=serializers.CharField())


class ObservationDetailOutputSerializer(ObservationOutputSerializer):
    """The owner's (and reviewers') view: the exact point plus privacy and verification."""

    citizen_science = CitizenScienceSerializer()


class ObservationUpdateInputSerializer(serializers.Serializer):
    geoprivacy = serializers.ChoiceField(choices=Geoprivacy.choices)


class ObservationPageSerializer(serializers.Serializer):
    """A page of the caller's observations (limit/offset pagination)."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ObservationDetailOutputSerializer(many=True)
