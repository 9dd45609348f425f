"""Admin for camera-trap projects (members, quota, geoprivacy) and their deployments."""

from django.contrib import admin

from cameratraps.models import Deployment, Project


class DeploymentInline(admin.TabularInline):
    model = Deployment
    extra = 0
    fields = ["deployment_id", "location_name", "latitude", "longitude", "camera_model", "start", "end"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "title", "owner", "upload_quota_per_hour", "default_geoprivacy", "sequence_interval_s"]
    search_fields = ["name", "title"]
    filter_horizontal = ["members"]
    inlines = [DeploymentInline]
