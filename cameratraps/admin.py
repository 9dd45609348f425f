"""Admin for camera-trap projects (members, quota, geoprivacy) and their deployments."""

from django.contrib import admin

from cameratraps.models import Deployment, Project
from cameratraps.services import project_quota_approve, project_sequences_rebuild


class DeploymentInline(admin.TabularInline):
    model = Deployment
    extra = 0
    fields = ["deployment_id", "location_name", "latitude", "longitude", "camera_model", "start", "end"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "title",
        "owner",
        "upload_quota_per_hour",
        "upload_quota_requested",
        "default_geoprivacy",
        "sequence_interval_s",
    ]
    list_filter = [("upload_quota_requested", admin.EmptyFieldListFilter)]
    search_fields = ["name", "title"]
    actions = ["approve_requested_quota"]
    filter_horizontal = ["members"]
    inlines = [DeploymentInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "sequence_interval_s" in form.changed_data:
            project_sequences_rebuild(project=obj)  # the stored sequences follow the new interval

    @admin.action(description="Approve the requested upload quota")
    def approve_requested_quota(self, request, queryset):
        for project in queryset.exclude(upload_quota_requested=None):
            project_quota_approve(project=project, approver=request.user)
