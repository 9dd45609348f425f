"""Admin for taxa (with synonyms) and species facts."""

from django.contrib import admin

from species.models import SpeciesInfo, Taxon, TaxonSynonym


class TaxonSynonymInline(admin.TabularInline):
    model = TaxonSynonym
    extra = 1


@admin.register(Taxon)
class TaxonAdmin(admin.ModelAdmin):
    list_display = ("scientific_name", "rank", "common_name", "parent", "gbif_key", "sensitivity")
    list_filter = ("rank", "sensitivity")
    search_fields = ("scientific_name", "common_name", "synonyms__name", "speciesnet_label")
    raw_id_fields = ("parent",)
    inlines = [TaxonSynonymInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("parent")


@admin.register(TaxonSynonym)
class TaxonSynonymAdmin(admin.ModelAdmin):
    list_display = ("name", "taxon", "source")
    list_filter = ("source",)
    search_fields = ("name", "taxon__scientific_name", "note")
    autocomplete_fields = ("taxon",)


@admin.register(SpeciesInfo)
class SpeciesInfoAdmin(admin.ModelAdmin):
    list_display = ("taxon", "iucn_category", "updated")
    list_filter = ("iucn_category",)
    search_fields = ("taxon__scientific_name", "taxon__common_name", "summary")
    autocomplete_fields = ("taxon",)
