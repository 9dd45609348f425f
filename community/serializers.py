"""Input and output shapes of the community API: the public feed, identifications, review."""

from rest_framework import serializers

from community.models import Review
from observations.models import Verification
from observations.serializers import PublicLocationSerializer
from ranges.verdict import VERDICT_STATUSES
from species.selectors import taxon_by_key_or_id
from species.serializers import TaxonBriefSerializer


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
    decision = serializers.ChoiceField(choices=Review.Decision.choices)
    taxon = serializers.CharField(
        max_length=200, required=False, help_text="taxon id or scientific name; required to confirm"
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    free_roaming = serializers.BooleanField(
        required=False,
        default=False,
        help_text="a domestic animal (dog, cat, goat, ...) the reviewer judges feral or free-roaming: where a "
        "register lists it here, the confirmation alerts the local contacts; otherwise a domestic animal never does",
    )

    def validate(self, attrs):
        if attrs["decision"] == Review.Decision.CONFIRM and not attrs.get("taxon"):
            raise serializers.ValidationError({"taxon": "name the taxon you confirm"})
        return attrs


class ReviewQueueInputSerializer(serializers.Serializer):
    region = serializers.CharField(required=False, max_length=16, allow_blank=True, default="")
    verdict = serializers.ChoiceField(required=False, choices=["", *VERDICT_STATUSES], default="")
    min_confidence = serializers.FloatField(required=False, min_value=0, max_value=1, allow_null=True, default=None)
    max_confidence = serializers.FloatField(required=False, min_value=0, max_value=1, allow_null=True, default=None)
    verification = serializers.ChoiceField(
        required=False, choices=["", *Verification.values], default=Verification.UNREVIEWED
    )
    taxon = serializers.CharField(
        required=False,
        max_length=200,
        allow_blank=True,
        default="",
        help_text="taxon id or scientific name: it and the taxa below it",
    )

    def validate_taxon(self, value):
        if not value:
            return None
        taxon = taxon_by_key_or_id(value)
        if taxon is None:
            raise serializers.ValidationError("unknown taxon: give a taxon id or a scientific name")
        return taxon
