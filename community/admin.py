"""Admin for the community: observations with review actions (through the same service as the
API), identifications and reviews.

The observation page is for looking, not editing: the photo comes through the API's authorised,
EXIF-stripped photo view (the stored original is private and its storage URL is never routed), the
model's predictions and the verdict are shown as tables, and every field is read-only; decisions
go through the review actions.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.roles import is_reviewer
from community.models import Identification, Review
from community.services import ReviewRejected, observation_review
from observations.models import Observation
from ranges.templatetags.rangemaps import is_web_link
from species.selectors import taxa_by_keys, taxon_by_key_or_id


def titled_filter(filter_class, title: str):
    """`filter_class` under its own title (Django titles a field filter by the field's verbose name)."""

    class TitledFilter(filter_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.title = title

    return TitledFilter


class ReviewActionForm(ActionForm):
    """The admin's action bar, plus the taxon a reviewer confirms (nothing is confirmed implicitly)."""

    taxon = forms.CharField(required=False, max_length=200, help_text="scientific name or id (to confirm)")


def _review(modeladmin, request, queryset, decision):
    taxon = None
    if decision == "confirm":
        taxon = taxon_by_key_or_id(request.POST.get("taxon", ""))
        if taxon is None:
            modeladmin.message_user(request, "name the taxon you confirm (scientific name or id)", messages.ERROR)
            return
    done = 0
    for observation in queryset.select_related("prediction__taxon", "community_taxon"):
        try:
            observation_review(observation=observation, reviewer=request.user, decision=decision, taxon=taxon)
            done += 1
        except ReviewRejected as exc:
            modeladmin.message_user(request, f"{observation.uuid}: {exc.detail}", messages.WARNING)
    modeladmin.message_user(request, f"{decision}ed {done} observation(s)")


@admin.action(description="Confirm as the taxon named below", permissions=["review"])
def confirm(modeladmin, request, queryset):
    _review(modeladmin, request, queryset, "confirm")


@admin.action(description="Reject", permissions=["review"])
def reject(modeladmin, request, queryset):
    _review(modeladmin, request, queryset, "reject")


@admin.register(Observation)
class ObservationAdmin(admin.ModelAdmin):
    list_display = [
        "uuid",
        "owner",
        "status",
        "verdict_status",
        "verification",
        "community_taxon",
        "verified_taxon",
        "geoprivacy",
        "created",
    ]
    # Both fields are called "status": the filters say which one (the job, or the answer's verdict).
    list_filter = [
        ("status", titled_filter(admin.ChoicesFieldListFilter, "processing status")),
        "verification",
        "geoprivacy",
        ("verdict__status", titled_filter(admin.AllValuesFieldListFilter, "verdict")),
    ]
    list_select_related = ["owner", "verdict", "community_taxon", "verified_taxon"]
    search_fields = ["uuid", "owner__username"]
    fieldsets = [
        (None, {"fields": ["uuid", "owner", "photo_preview"]}),
        (
            "Where and when",
            {"fields": ["latitude", "longitude", "location_source", "location_flags", "observed_at", "geoprivacy"]},
        ),
        ("What the model said", {"fields": ["predictions", "verdict_summary"]}),
        (
            "Review",
            {
                "fields": [
                    "verification",
                    "verified_taxon",
                    "verified_by",
                    "verified_at",
                    "community_taxon",
                    "first_record_regions",
                ]
            },
        ),
        (
            "Processing (internal)",
            {
                "fields": [
                    "status",
                    "attempts",
                    "failure_code",
                    "failure_detail",
                    "idempotency_key",
                    "photo_format",
                    "photo_width",
                    "photo_height",
                    "created",
                    "updated",
                ]
            },
        ),
    ]
    actions = [confirm, reject]
    action_form = ReviewActionForm

    def get_readonly_fields(self, request, obj=None):
        return [field for fieldset in self.fieldsets for field in fieldset[1]["fields"]]

    def get_queryset(self, request):
        return (
            super().get_queryset(request).select_related("prediction__model_version", "verdict__taxon", "verified_by")
        )

    def has_add_permission(self, request):
        return False  # observations come from uploads

    def has_change_permission(self, request, obj=None):
        return False  # read-only page; status, attempts and the idempotency key belong to the pipeline

    def has_review_permission(self, request):
        return is_reviewer(request.user)

    @admin.display(description="verdict", ordering="verdict__status")
    def verdict_status(self, obj):
        verdict = getattr(obj, "verdict", None)
        return verdict.status if verdict else "-"

    @admin.display(description="photo")
    def photo_preview(self, obj):
        url = reverse("observation-photo", args=[obj.uuid])
        return format_html(
            '<a href="{}"><img src="{}" alt="the observation\'s photo (EXIF removed)" '
            'style="max-width: 480px; max-height: 360px"></a>',
            url,
            url,
        )

    @admin.display(description="predictions")
    def predictions(self, obj):
        prediction = getattr(obj, "prediction", None)
        if prediction is None:
            return "none yet"
        names = taxa_by_keys(row["key"] for row in prediction.top_k)
        rows = format_html_join(
            "",
            "<tr><td><i>{}</i></td><td>{}</td><td>{}</td></tr>",
            (
                (row["key"], names[row["key"]].common_name if row["key"] in names else "", f"{row['score']:.1%}")
                for row in prediction.top_k
            ),
        )
        return format_html(
            "<table><tr><th>taxon</th><th>common name</th><th>score</th></tr>{}</table>"
            "<p>settled on {} ({}); no animal {}; model {}</p>",
            rows,
            prediction.taxon or "no taxon",
            "-" if prediction.score is None else f"{prediction.score:.1%}",
            f"{prediction.no_animal_score:.1%}",
            prediction.model_version.name,
        )

    @admin.display(description="verdict")
    def verdict_summary(self, obj):
        verdict = getattr(obj, "verdict", None)
        if verdict is None:
            return "none yet"
        # Only http(s) sources become links, as on the species page: a register's URL field may hold
        # `javascript:` and the admin has no Content-Security-Policy (issue 23, Low).
        sources = (
            format_html_join(
                ", ",
                "{}",
                (
                    (
                        format_html('<a href="{}" rel="noopener">{}</a>', s.get("url"), s.get("name", ""))
                        if is_web_link(s.get("url"))
                        else s.get("name", ""),
                    )
                    for s in verdict.sources
                ),
            )
            or "-"
        )
        contacts = (
            format_html_join(
                ", ", "{} ({})", ((c.get("organisation", ""), c.get("region", "")) for c in verdict.contacts)
            )
            or "-"
        )
        return format_html(
            "<p><strong>{}</strong>{} for {} in {}</p><p>{}</p><p>sources: {}</p><p>contacts: {}</p>",
            verdict.status,
            f" ({verdict.alert_level})" if verdict.alert_level else "",
            verdict.taxon or "no taxon",
            verdict.region_code or "no region",
            verdict.explanation,
            sources,
            contacts,
        )


@admin.register(Identification)
class IdentificationAdmin(admin.ModelAdmin):
    list_display = ["observation", "user", "taxon", "is_current", "created"]
    raw_id_fields = ["observation", "taxon"]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["observation", "reviewer", "decision", "taxon", "created"]
    raw_id_fields = ["observation", "taxon"]
