import math

from rest_framework import serializers

from ranges.verdict import VERDICT_STATUSES
from species.serializers import SpeciesInfoSerializer, TaxonBriefSerializer


class CoordinateField(serializers.FloatField):
    """A float that must be finite (NaN and 1e309 are refused, not compared)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


def latitude_field(**kwargs):
    return CoordinateField(min_value=-90, max_value=90, **kwargs)


def longitude_field(**kwargs):
    return CoordinateField(min_value=-180, max_value=180, **kwargs)


class SourceSerializer(serializers.Serializer):
    name = serializers.CharField()
    url = serializers.CharField(allow_blank=True)


class RegionBriefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()


class ContactSerializer(serializers.Serializer):
    region = serializers.CharField()
    region_name = serializers.CharField()
    kind = serializers.CharField()
    organisation = serializers.CharField()
    phone = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_blank=True)
    url = serializers.CharField(allow_blank=True)
    hours = serializers.CharField(allow_blank=True)
    source_url = serializers.CharField(allow_blank=True)
    verified_on = serializers.DateField(
        allow_null=True,
        required=False,
        default=None,
        help_text="the day its source page was checked; null: unverified (named by its source, not yet checked)",
    )
    is_fallback = serializers.BooleanField(default=False, help_text="a global fallback: no local body is on file here")


class VerdictSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=VERDICT_STATUSES)
    explanation = serializers.CharField()
    region = RegionBriefSerializer(allow_null=True)
    regions = RegionBriefSerializer(many=True)
    sources = SourceSerializer(many=True)


class AlertSerializer(serializers.Serializer):
    level = serializers.ChoiceField(
        choices=["alert", "possible"], help_text="possible: a low-confidence match of a species invasive here"
    )
    message = serializers.CharField()
    contacts = ContactSerializer(many=True)


class VerdictAnswerSerializer(serializers.Serializer):
    """A verdict with what goes with it: facts for natives, an alert with contacts otherwise."""

    taxon = TaxonBriefSerializer(allow_null=True)
    verdict = VerdictSerializer()
    species_info = SpeciesInfoSerializer(allow_null=True)
    alert = AlertSerializer(allow_null=True)
    expected_here = serializers.BooleanField(
        allow_null=True,
        required=False,
        help_text="true: native or established here; false: a known native range excludes the point and no "
        "register puts it here (out_of_range); null: no range data here (unknown, uncertain, a domestic form)",
    )


class CheckInputSerializer(serializers.Serializer):
    lat = latitude_field()
    lon = longitude_field()
    taxon = serializers.CharField(max_length=200, help_text="scientific name (synonyms accepted) or taxon id")
    kingdom = serializers.CharField(
        max_length=100,
        required=False,
        default="Animalia",
        help_text="the branch the name is looked up in (a name can be an animal and a plant: Proboscidea); "
        "default Animalia",
    )


class PointInputSerializer(serializers.Serializer):
    lat = latitude_field()
    lon = longitude_field()


class RegionLookupSerializer(serializers.Serializer):
    regions = RegionBriefSerializer(many=True)
    contacts = ContactSerializer(many=True)
