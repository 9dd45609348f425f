"""Input and output shapes of the watch-list API."""

from django.db.models import prefetch_related_objects
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from watchlists.models import MAX_COMMENT_CHARS, Frequency, MinimumVerification, Rule, Source, TriageStatus


class WatchListInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    regions = serializers.ListField(child=serializers.CharField(max_length=16), required=False, max_length=500)
    geometry = serializers.JSONField(
        required=False, allow_null=True, help_text="GeoJSON (Multi)Polygon, Feature or FeatureCollection, lon/lat"
    )
    area_file = serializers.FileField(
        required=False,
        help_text=(
            "multipart instead of geometry: a .geojson, a zipped shapefile (.zip), a GeoPackage (.gpkg), "
            "KML (.kml) or KMZ (.kmz); the polygons of every layer are unioned, validated and repaired"
        ),
    )
    taxa = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=2000, help_text="names or ids"
    )
    rule = serializers.ChoiceField(choices=Rule.choices, required=False, allow_blank=True, default="")
    sources = serializers.ListField(child=serializers.ChoiceField(choices=Source.choices), required=False)
    datasets = serializers.ListField(child=serializers.CharField(max_length=200), required=False, max_length=200)
    minimum_verification = serializers.ChoiceField(choices=MinimumVerification.choices, required=False)
    frequency = serializers.ChoiceField(choices=Frequency.choices, required=False)
    webhooks = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=50,
        help_text=(
            "staff only: ids of contacts' signed webhooks (admin: alerts > contact webhooks) that get each digest's "
            "new records as a signed POST; others are refused (403), unknown or paused ids too (400)"
        ),
    )


class WatchListWebhookSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="the contact webhook's id")
    contact = serializers.CharField(help_text="the contact's organisation")
    active = serializers.BooleanField(help_text="the subscription and the webhook are both active")


class WatchListOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    owner = serializers.CharField(source="owner.username")
    regions = serializers.SerializerMethodField()
    area = serializers.JSONField(source="area_display", help_text="the drawn / uploaded area, simplified for display")
    area_note = serializers.CharField()
    taxa = serializers.SerializerMethodField()
    rule = serializers.CharField()
    sources = serializers.ListField(child=serializers.CharField())
    datasets = serializers.ListField(child=serializers.CharField())
    minimum_verification = serializers.CharField()
    frequency = serializers.CharField()
    feed_url = serializers.SerializerMethodField(help_text="Atom feed behind a secret URL: share with care")
    webhooks = serializers.SerializerMethodField(
        help_text="the contacts' signed webhooks that follow the digest (to the owner only; null for members)"
    )
    created = serializers.DateTimeField()

    def get_regions(self, obj) -> list[str]:
        return sorted(r.code for r in obj.regions.all())

    def get_taxa(self, obj) -> list[dict]:
        return [{"id": t.pk, "scientific_name": t.scientific_name} for t in obj.taxa.all()]

    def get_feed_url(self, obj) -> str | None:
        request = self.context.get("request")
        if request is None or obj.owner_id != request.user.pk:
            return None  # members triage; only the owner holds the list's secrets
        return request.build_absolute_uri(f"/watchlists/feed/{obj.feed_token}.atom")

    @extend_schema_field(WatchListWebhookSerializer(many=True, allow_null=True))
    def get_webhooks(self, obj):
        request = self.context.get("request")
        if request is None or obj.owner_id != request.user.pk:
            return None
        prefetch_related_objects([obj], "webhook_subscriptions__webhook__contact")  # no-op when the view did
        return [
            {"id": s.webhook_id, "contact": s.webhook.contact.organisation, "active": s.active and s.webhook.is_active}
            for s in obj.webhook_subscriptions.all()
        ]


class MatchQuerySerializer(serializers.Serializer):
    taxon = serializers.CharField(required=False, help_text="name or id; its descendants too")
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    status = serializers.CharField(required=False, help_text="one or more triage statuses, comma-separated")
    view = serializers.ChoiceField(
        choices=["all", "new"], required=False, default="all", help_text="new: without managed, not found, no action"
    )
    seen = serializers.BooleanField(required=False, allow_null=True, default=None)
    source = serializers.ChoiceField(choices=Source.choices, required=False)
    bbox = serializers.CharField(required=False, help_text="west,south,east,north")

    def validate_status(self, value):
        statuses = [s for s in value.split(",") if s]
        bad = [s for s in statuses if s not in TriageStatus.values]
        if bad:
            raise serializers.ValidationError(f"one or more of {TriageStatus.values}")
        return statuses

    def validate_bbox(self, value):
        try:
            west, south, east, north = (float(v) for v in value.split(","))
        except ValueError as exc:
            raise serializers.ValidationError("four numbers: west,south,east,north") from exc
        if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
            raise serializers.ValidationError("lon/lat bounds, south <= north")
        return (west, south, east, north)


class MatchOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.CharField()
    taxon = serializers.CharField(allow_null=True)
    verdict = serializers.CharField()
    explanation = serializers.CharField()
    observed_on = serializers.DateField(allow_null=True)
    latitude = serializers.FloatField(allow_null=True)
    longitude = serializers.FloatField(allow_null=True)
    location_note = serializers.CharField()
    record_id = serializers.CharField()
    record_url = serializers.CharField()
    photo_url = serializers.CharField()
    license = serializers.CharField()
    citation = serializers.CharField()
    status = serializers.CharField()
    note = serializers.CharField()
    seen = serializers.BooleanField()
    comments = serializers.IntegerField(help_text="how many comments the record has in this list")
    matched_at = serializers.DateTimeField()


class MatchTriageSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TriageStatus.choices, required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class MarkSeenSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), required=False, max_length=10000)
    all = serializers.BooleanField(
        required=False, default=False, help_text="every match of the list (with the query's filters)"
    )
    seen = serializers.BooleanField(required=False, default=True, help_text="false: mark unseen")

    def validate(self, attrs):
        if not attrs.get("ids") and not attrs.get("all"):
            raise serializers.ValidationError({"ids": "give ids, or all: true"})
        return attrs


class MatchCommentInputSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=MAX_COMMENT_CHARS, help_text="plain text; surrounding spaces are trimmed")


class MatchCommentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    author = serializers.CharField(source="author.username", allow_null=True, default=None)
    text = serializers.CharField()
    created = serializers.DateTimeField()


class MatchCommentPageSerializer(serializers.Serializer):
    """A page of a record's comments, oldest first (limit/offset pagination)."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = MatchCommentOutputSerializer(many=True)
