"""Admin for regions, range polygons, statuses, geofence rules and contacts; writes go through services."""

from __future__ import annotations

import datetime

import shapely
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path

from ranges.contacts import country_contact_coverage
from ranges.geometry import GeometryRejected, clean_polygonal
from ranges.geometry_files import GeometryFileError, geometry_from_upload
from ranges.maps import MAP_CSS, MAP_JS, geometry_map
from ranges.models import Contact, DataVersion, GeofenceEntry, RangePolygon, RangeSource, Region, RegionalStatus
from ranges.outlines import region_geometries, region_outlines_build
from ranges.services import data_version_bump, geometry_assign, range_object_save


class GeometryUploadForm(forms.ModelForm):
    geometry_file = forms.FileField(
        required=False,
        help_text="GeoJSON, zipped shapefile, GeoPackage, KML or KMZ (lon/lat); validated and repaired on save",
    )

    def clean_geometry_file(self):
        uploaded = self.cleaned_data.get("geometry_file")
        if not uploaded:
            if not self.instance.pk:
                raise forms.ValidationError("a new row needs a geometry file")
            return None
        try:
            geometry = geometry_from_upload(uploaded)
            clean_polygonal(geometry, label=uploaded.name)  # reject here, with the reason, before saving
        except (GeometryFileError, GeometryRejected) as exc:
            raise forms.ValidationError(str(exc)) from exc
        return geometry


class GeometryAdminMixin:
    form = GeometryUploadForm

    class Media:
        css = {"all": MAP_CSS}
        js = MAP_JS

    def save_model(self, request, obj, form, change):
        geometry = form.cleaned_data.get("geometry_file")
        if geometry is not None:
            message = geometry_assign(obj=obj, geometry=geometry)
            if message:
                self.message_user(request, message, messages.WARNING)
        range_object_save(obj=obj)

    @admin.action(description="Re-validate geometry (repair with make_valid, report rejections)")
    def revalidate_geometry(self, request, queryset):
        repaired = rejected = 0
        for obj in queryset:
            if not obj.geometry:
                continue
            try:
                if geometry_assign(obj=obj, geometry=shapely.from_wkb(bytes(obj.geometry))):
                    repaired += 1
                    range_object_save(obj=obj)
            except GeometryRejected as exc:
                rejected += 1
                self.message_user(request, str(exc), messages.ERROR)
        self.message_user(request, f"{queryset.count()} checked, {repaired} repaired, {rejected} rejected")

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        data_version_bump()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        data_version_bump()


@admin.register(Region)
class RegionAdmin(GeometryAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "kind", "parent", "iso_a2", "scale_denominator", "source", "updated")
    list_filter = ("kind", "source")
    search_fields = ("code", "name", "iso_a2")
    raw_id_fields = ("parent",)
    filter_horizontal = ("members",)
    readonly_fields = ("map_preview", "geometry_sha1", "geometry_note", "updated")
    fields = (
        "kind",
        "code",
        "name",
        "parent",
        "iso_a2",
        "members",
        "geometry_file",
        "map_preview",
        "geometry_note",
        "geometry_sha1",
        "scale_denominator",
        "source",
        "updated",
    )
    actions = ["revalidate_geometry"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("parent")

    def save_related(self, request, form, formsets, change):
        # A group's members are saved after the group: its map outlines are their union.
        super().save_related(request, form, formsets, change)
        region_outlines_build(region_ids=[form.instance.pk])

    @admin.display(description="map")
    def map_preview(self, obj):
        geometry = region_geometries([obj]).get(obj.pk) if obj and obj.pk else None  # a group: its members
        return geometry_map(geometry, role="region", label=obj.name if obj else "")


@admin.register(RangePolygon)
class RangePolygonAdmin(GeometryAdminMixin, admin.ModelAdmin):
    list_display = ("taxon", "origin", "presence", "source", "license", "updated")
    list_filter = ("origin", "presence", "source")
    search_fields = ("taxon__scientific_name", "taxon__common_name", "source", "source_key")
    autocomplete_fields = ("taxon",)
    readonly_fields = ("map_preview", "geometry_sha1", "geometry_note", "updated")
    fields = (
        "taxon",
        "origin",
        "presence",
        "geometry_file",
        "map_preview",
        "geometry_note",
        "source",
        "source_url",
        "source_key",
        "license",
        "geometry_sha1",
        "updated",
    )
    actions = ["revalidate_geometry"]

    @admin.display(description="map")
    def map_preview(self, obj):
        if obj is None or not obj.geometry:
            return geometry_map(None, role="range")
        return geometry_map(
            shapely.from_wkb(bytes(obj.geometry)), role="range", status=obj.origin, label=str(obj.taxon)
        )


class RangeDataAdmin(admin.ModelAdmin):
    """Statuses and geofence rules: every write moves the data version."""

    def save_model(self, request, obj, form, change):
        range_object_save(obj=obj)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        data_version_bump()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        data_version_bump()


@admin.register(RegionalStatus)
class RegionalStatusAdmin(RangeDataAdmin):
    list_display = ("taxon", "region", "status", "degree_of_establishment", "source", "recorded", "updated")
    list_filter = ("status", "region__kind", "source", "degree_of_establishment")
    search_fields = ("taxon__scientific_name", "taxon__common_name", "region__code", "region__name", "source")
    autocomplete_fields = ("taxon", "region")
    readonly_fields = ("updated",)
    actions = ["mark_invasive", "mark_introduced"]

    @admin.action(description="Mark as invasive (degreeOfEstablishment: invasive)")
    def mark_invasive(self, request, queryset):
        queryset.update(status="invasive", degree_of_establishment="invasive")
        data_version_bump()

    @admin.action(description="Mark as introduced")
    def mark_introduced(self, request, queryset):
        queryset.update(status="introduced")
        data_version_bump()


@admin.register(RangeSource)
class RangeSourceAdmin(RangeDataAdmin):
    """What each source claims: closed world (absence means not native) and complete for a group."""

    list_display = ("name", "absence_means_not_native", "taxon_group", "lists_every_species", "license", "updated")
    list_filter = ("absence_means_not_native", "lists_every_species")
    search_fields = ("name", "citation")


@admin.register(GeofenceEntry)
class GeofenceEntryAdmin(RangeDataAdmin):
    list_display = ("taxon", "region", "rule", "source")
    list_filter = ("rule", "source")
    search_fields = ("taxon__scientific_name", "region__code", "comment")
    autocomplete_fields = ("taxon", "region")


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("organisation", "region", "kind", "phone", "verified_on", "is_active")
    list_filter = ("kind", "is_active", "region__kind", "verified_on")
    search_fields = ("organisation", "region__code", "region__name", "phone", "email")
    autocomplete_fields = ("region",)
    actions = ["mark_verified_today", "deactivate", "activate"]

    def get_urls(self):
        coverage = path("coverage/", self.admin_site.admin_view(self.coverage_view), name="ranges_contact_coverage")
        return [coverage, *super().get_urls()]

    def coverage_view(self, request):
        """Per country: invasive taxa recorded, active contacts, when they were last verified."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = [row for row in country_contact_coverage() if row.invasive_taxa or row.contacts]
        context = {
            **self.admin_site.each_context(request),
            "title": "Contact coverage per country",
            "rows": rows,
            "with_records": sum(1 for row in rows if row.invasive_taxa),
            "covered": sum(1 for row in rows if row.invasive_taxa and row.contacts),
        }
        return TemplateResponse(request, "admin/ranges/contact/coverage.html", context)

    @admin.action(description="Mark as verified today")
    def mark_verified_today(self, request, queryset):
        queryset.update(verified_on=datetime.date.today())

    @admin.action(description="Deactivate (no longer shown in alerts)")
    def deactivate(self, request, queryset):
        queryset.update(is_active=False)

    @admin.action(description="Activate")
    def activate(self, request, queryset):
        queryset.update(is_active=True)


@admin.register(DataVersion)
class DataVersionAdmin(admin.ModelAdmin):
    list_display = ("key", "version")
    readonly_fields = ("key", "version")
