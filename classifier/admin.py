from django.contrib import admin

from classifier.models import ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "arch", "is_active", "created", "activated"]
