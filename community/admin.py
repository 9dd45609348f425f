"""Admin for the community: observations with review actions (through the same service as the
API), identifications and reviews."""
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm

from accounts.roles import is_reviewer
from community.models import Identification, Review
from community.services import ReviewRejected, observation_review
from species.selectors import taxon_by_key_or_id
from observations.models import Observation


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
    list_display = ["uuid", "owner", "status", "verification", "community_taxon", "verified_taxon", "geoprivacy", "created"]
    list_filter = ["status", "verification", "geoprivacy", "verdict__status"]
    search_fields = ["uuid", "owner__username"]
    readonly_fields = [
        "uuid", "owner", "photo", "latitude", "longitude", "verification", "verified_taxon", "verified_by", "verified_at",
        "community_taxon", "first_record_regions",
    ]
    actions = [confirm, reject]
    action_form = ReviewActionForm

    def has_review_permission(self, request):
        return is_reviewer(request.user)


@admin.register(Identification)
class IdentificationAdmin(admin.ModelAdmin):
    list_display = ["observation", "user", "taxon", "is_current", "created"]
    raw_id_fields = ["observation", "taxon"]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["observation", "reviewer", "decision", "taxon", "created"]
    raw_id_fields = ["observation", "taxon"]
