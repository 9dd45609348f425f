"""Admin for the observations app's own curated data. (Observations themselves are administered
with their review actions in community.admin.)"""

from django.contrib import admin

from observations.models import TaxonRegionSensitivity


@admin.register(TaxonRegionSensitivity)
class TaxonRegionSensitivityAdmin(admin.ModelAdmin):
    list_display = ["taxon", "region", "sensitivity", "reason"]
    raw_id_fields = ["taxon", "region"]
