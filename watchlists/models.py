"""Watch lists (an area x taxa or a rule), imported occurrences, the matches between records and
lists with their triage status and history, and who has seen what.

Points are plain latitude / longitude columns with a composite index on both engines; the list's
area is WKB (EPSG:4326) as ranges stores its geometries, matched in memory through an STRtree
(watchlists.matching). On PostgreSQL + PostGIS the matches' points also get a GiST index and the
map's vector tiles come from ST_AsMVT (migration 0002 adds what PostGIS offers when it is there).
"""

import hashlib
import json
import secrets

from django.conf import settings
from django.db import models

from alerts.models import ContactWebhook, DeliveryRecord
from observations.models import Observation
from ranges.models import Region
from species.models import Taxon


def _token() -> str:
    return secrets.token_urlsafe(24)


class Rule(models.TextChoices):
    NONE = "", "no rule (the taxa only)"
    INVASIVE_HERE = "invasive_here", "invasive or introduced at the record's point"
    OUT_OF_RANGE = "out_of_range", "out of its known native range"


class Source(models.TextChoices):
    UPLOADS = "uploads", "app uploads"
    CAMERA_TRAPS = "camera_traps", "camera-trap frames"
    OCCURRENCES = "occurrences", "imported occurrence datasets"


class MinimumVerification(models.TextChoices):
    ANY = "any", "any record that is not rejected"
    COMMUNITY = "community", "a community identification or better"
    REVIEWER = "reviewer", "confirmed by a reviewer"


class Frequency(models.TextChoices):
    IMMEDIATE = "immediate"
    DAILY = "daily"
    WEEKLY = "weekly"
    NEVER = "never"


class WatchList(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watch_lists")
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="watch_list_memberships", help_text="may triage"
    )
    name = models.CharField(max_length=200)
    regions = models.ManyToManyField(Region, blank=True, related_name="+")
    # A drawn or uploaded polygon, validated and repaired (ranges.geometry.clean_polygonal).
    area = models.BinaryField(blank=True, default=b"")
    area_note = models.CharField(max_length=500, blank=True, help_text="what validation repaired, if anything")
    # A simplified copy for the map (GeoJSON geometry), never used for matching.
    area_display = models.JSONField(null=True, blank=True)
    taxa = models.ManyToManyField(Taxon, blank=True, related_name="+", help_text="each with its descendants")
    rule = models.CharField(max_length=16, choices=Rule.choices, blank=True, default="")
    sources = models.JSONField(default=list, help_text="Source values; empty: every source")
    datasets = models.JSONField(default=list, blank=True, help_text="occurrence dataset names; empty: all")
    minimum_verification = models.CharField(
        max_length=10, choices=MinimumVerification.choices, default=MinimumVerification.ANY
    )
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.DAILY)
    feed_token = models.CharField(max_length=64, unique=True, default=_token, help_text="the Atom feed's secret")
    last_digest_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.name


class Subscription(models.Model):
    """Who gets a list's digest; the token unsubscribes without a login (RFC 8058 one-click)."""

    watch_list = models.ForeignKey(WatchList, on_delete=models.CASCADE, related_name="subscriptions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    active = models.BooleanField(default=True)
    token = models.CharField(max_length=64, unique=True, default=_token)
    changed = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["watch_list", "user"], name="unique_watch_list_subscription")]

    def __str__(self):
        return f"{self.user} on {self.watch_list} ({'active' if self.active else 'unsubscribed'})"


class WebhookSubscription(models.Model):
    """A contact's signed webhook (alerts.ContactWebhook: an agency's https endpoint and shared
    secret, curated by admins) that follows the list's digest: each digest window's new records
    are POSTed to it, signed. Only staff attach one (watchlists.services.watch_list_webhooks_set):
    an agency's endpoint is not for every user to fill."""

    watch_list = models.ForeignKey(WatchList, on_delete=models.CASCADE, related_name="webhook_subscriptions")
    webhook = models.ForeignKey(ContactWebhook, on_delete=models.CASCADE, related_name="watch_list_subscriptions")
    active = models.BooleanField(default=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["watch_list", "webhook"], name="unique_watch_list_webhook")]

    def __str__(self):
        return f"{self.webhook} on {self.watch_list} ({'active' if self.active else 'paused'})"


class WebhookDelivery(DeliveryRecord):
    """One digest window of one list POSTed to one subscribed webhook; every try is recorded on
    the row (as alerts.AlertDelivery, by the same alerts.delivery functions). A subscription's
    window starts where its previous one ended (or at the list's digest mark, if later), one row
    per start: a re-run of the same window finds its row and sends nothing twice."""

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    since = models.DateTimeField(help_text="the window: matches made after this ...")
    until = models.DateTimeField(help_text="... and up to this")
    target = models.CharField(max_length=500, help_text="the webhook's URL when the window was recorded")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscription", "since"], name="one_webhook_delivery_per_window")
        ]
        verbose_name_plural = "webhook deliveries"

    def __str__(self):
        return f"watch list webhook {self.target} {self.since:%Y-%m-%d %H:%M}..{self.until:%H:%M} ({self.status})"


def verdict_content_sha1(status: str, region_codes, explanation: str, sources) -> str:
    """The hash that names one verdict's content (OccurrenceVerdict.content_sha1)."""
    text = json.dumps([status, list(region_codes), explanation, list(sources)], separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()


class OccurrenceVerdict(models.Model):
    """One distinct verdict (status, regions, explanation, sources), shared by every imported
    record that got it: millions of records share a few thousand verdicts, and the text is most
    of a record's bytes. Written by the import (watchlists.importing), never changed or deleted."""

    status = models.CharField(max_length=16, blank=True)
    region_codes = models.JSONField(default=list)
    explanation = models.TextField(blank=True)
    sources = models.JSONField(default=list)
    content_sha1 = models.CharField(max_length=40, unique=True, help_text="verdict_content_sha1 of the rest")

    def __str__(self):
        return f"{self.status}: {', '.join(self.region_codes)}"


class Occurrence(models.Model):
    """A record imported from outside (a GBIF download, an iNaturalist export), with its verdict."""

    dataset = models.CharField(max_length=200)
    occurrence_id = models.CharField(max_length=300, help_text="occurrenceID, else the source's own id")
    gbif_id = models.BigIntegerField(null=True, blank=True)
    scientific_name = models.CharField(max_length=300, help_text="as the source names it")
    # No foreign-key constraint in the database (Django still sets the column to NULL when a taxon
    # goes): PostgreSQL checks a deferred constraint row by row at commit, which took 0.5-0.65 s of
    # each 50-100k-row import chunk against 0.01 s without it (docs/scaling.md, issue 26). The
    # import only writes ids it has just read from the taxonomy.
    taxon = models.ForeignKey(
        Taxon, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    latitude = models.FloatField()
    longitude = models.FloatField()
    coordinate_uncertainty_m = models.FloatField(null=True, blank=True)
    event_date = models.DateField(null=True, blank=True)
    license = models.CharField(max_length=200, blank=True)
    rights_holder = models.CharField(max_length=300, blank=True)
    citation = models.TextField(blank=True)
    source_url = models.URLField(max_length=500, blank=True)
    verdict_status = models.CharField(max_length=16, blank=True, help_text="a copy of verdict.status, for filters")
    # The rest of the verdict, shared. No constraint and no index, for the same reason as taxon:
    # verdicts are never deleted, and nothing looks records up by their verdict.
    verdict = models.ForeignKey(
        OccurrenceVerdict,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # The source row's hash: a re-import of an unchanged row writes nothing.
    row_sha1 = models.CharField(max_length=40)
    imported = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dataset", "occurrence_id"], name="unique_occurrence_per_dataset")
        ]
        # No point index here: maps and pages read the matches (per list, indexed); fewer indexes, faster imports.

    def __str__(self):
        return f"{self.dataset}:{self.occurrence_id}"


class TriageStatus(models.TextChoices):
    NEW = "new"
    HANDLING = "handling"
    MANAGED = "managed", "managed or removed"
    NOT_FOUND = "not_found", "not found on site"
    NO_ACTION = "no_action", "no action"


class Match(models.Model):
    """A record in a list. The point is the record's true one (matching and the owner's rights
    decide what is shown: watchlists.selectors); taxon, date and verdict are copied for filters."""

    # Every index costs each of the millions of inserts matching makes: the list's own index is
    # the composites below, the taxon's is (list, taxon, id); Django's one-column ones are dropped.
    # A match is derived data (matching makes it again from the record and the list), so its links
    # carry no database constraint: PostgreSQL checked each of the four per inserted row at commit,
    # 1.3-1.7 s of a 20,000-record chunk's 4 s (docs/scaling.md); Django's on_delete still applies.
    watch_list = models.ForeignKey(
        WatchList, on_delete=models.CASCADE, related_name="matches", db_index=False, db_constraint=False
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    observation = models.ForeignKey(
        Observation, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    occurrence = models.ForeignKey(
        Occurrence, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    taxon = models.ForeignKey(
        Taxon, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False, db_constraint=False
    )
    latitude = models.FloatField()
    longitude = models.FloatField()
    observed_on = models.DateField(null=True, blank=True)
    verdict_status = models.CharField(max_length=16, blank=True)
    status = models.CharField(max_length=12, choices=TriageStatus.choices, default=TriageStatus.NEW)
    note = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["watch_list", "observation"],
                condition=models.Q(observation__isnull=False),
                name="unique_match_observation",
            ),
            models.UniqueConstraint(
                fields=["watch_list", "occurrence"],
                condition=models.Q(occurrence__isnull=False),
                name="unique_match_occurrence",
            ),
        ]
        indexes = [
            models.Index(fields=["watch_list", "id"]),  # a list's pages, newest first
            models.Index(fields=["watch_list", "status", "id"]),
            # The "new" view (watchlists.selectors.new_view) newest first: an IN over two statuses
            # cannot walk (list, status, id) in id order, so it would sort the whole list per page.
            models.Index(
                fields=["watch_list", "id"],
                condition=models.Q(status__in=["new", "handling"]),
                name="match_new_view",
            ),
            models.Index(fields=["watch_list", "taxon", "id"]),
            models.Index(fields=["watch_list", "latitude", "longitude"]),
        ]
        verbose_name_plural = "matches"

    def __str__(self):
        return f"{self.source} record in list {self.watch_list_id}: {self.status}"


class MatchStatusChange(models.Model):
    """The history of a match's triage: who set which status, with which note, when."""

    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="history")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=12, choices=TriageStatus.choices)
    note = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"match {self.match_id} -> {self.status}"


MAX_COMMENT_CHARS = 5000


class MatchComment(models.Model):
    """A comment on a list's record (as GBIF Alert's users comment on observations), by whoever may
    triage the list (its owner and members), read by them only; the conversation in time order."""

    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField(max_length=MAX_COMMENT_CHARS)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self):
        return f"comment on match {self.match_id} by {self.author_id}"


class MatchSeen(models.Model):
    """One user has seen one match (per user, as GBIF Alert's seen / unseen)."""

    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="seen_by")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["match", "user"], name="unique_match_seen")]

    def __str__(self):
        return f"match {self.match_id} seen by {self.user_id}"
