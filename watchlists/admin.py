"""Admin for watch lists: staff attach contacts' signed webhooks to a list and see each delivery.

Lists are made through the API and the page (watchlists.services.watch_list_create validates the
area and takes the records already here), so the admin adds none, and what decides a list's
matches (area, taxa, rule, sources, verification) is shown, not edited here: a change there is a
new list's worth of matching."""

from django.contrib import admin

from watchlists.models import WatchList, WebhookDelivery, WebhookSubscription


class WebhookSubscriptionInline(admin.TabularInline):
    model = WebhookSubscription
    extra = 0
    raw_id_fields = ["webhook"]
    fields = ["webhook", "active", "added_by", "created"]
    readonly_fields = ["added_by", "created"]


@admin.register(WatchList)
class WatchListAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "rule", "frequency", "last_digest_at", "created"]
    list_filter = ["rule", "frequency"]
    search_fields = ["name", "owner__username"]
    raw_id_fields = ["members"]
    # What decides the list's matches, and its history: shown, not edited.
    readonly_fields = [
        "owner",
        "regions",
        "taxa",
        "rule",
        "sources",
        "datasets",
        "minimum_verification",
        "area_note",
        "last_digest_at",
        "created",
    ]
    fields = ["name", "members", "frequency", *readonly_fields]
    inlines = [WebhookSubscriptionInline]

    def has_add_permission(self, request):
        return False

    def save_formset(self, request, form, formset, change):
        for subscription in formset.save(commit=False):
            if subscription.pk is None:
                subscription.added_by = request.user
            subscription.save()
        for gone in formset.deleted_objects:
            gone.delete()


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["subscription", "since", "until", "status", "attempts", "response_status", "sent_at"]
    list_filter = ["status"]
    raw_id_fields = ["subscription"]
    readonly_fields = [
        "subscription",
        "since",
        "until",
        "target",
        "payload",
        "status",
        "attempts",
        "last_error",
        "response_status",
        "created",
        "sent_at",
    ]

    def has_add_permission(self, request):
        return False
