"""Admin for alerts: contacts' webhooks, alert groups with their deliveries."""

from django.contrib import admin

from alerts.models import AlertDelivery, AlertGroup, ContactWebhook


@admin.register(ContactWebhook)
class ContactWebhookAdmin(admin.ModelAdmin):
    list_display = ["contact", "url", "is_active"]
    list_filter = ["is_active"]
    raw_id_fields = ["contact"]


class AlertDeliveryInline(admin.TabularInline):
    model = AlertDelivery
    extra = 0
    fields = ["channel", "target", "status", "attempts", "response_status", "last_error", "sent_at"]
    readonly_fields = fields


@admin.register(AlertGroup)
class AlertGroupAdmin(admin.ModelAdmin):
    list_display = ["taxon", "region_code", "day", "level", "reason", "created"]
    list_filter = ["level", "reason"]
    inlines = [AlertDeliveryInline]


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(admin.ModelAdmin):
    list_display = ["group", "contact", "channel", "target", "status", "attempts", "sent_at"]
    list_filter = ["status", "channel"]
