"""Regions, range polygons, regional establishment statuses and the contacts to report to.

Geometries are stored as WKB (EPSG:4326, lon/lat) and validated with shapely on the way in.
"""

from django.db import models

from species.models import Taxon


class RegionKind(models.TextChoices):
    COUNTRY = "country"
    ADMIN1 = "admin1", "state / province"
    ADMIN2 = "admin2", "county / district"
    # A named set of admin-1 regions that registers use as one locality (US-RIIS "L48").
    GROUP = "group", "group of states"


# Most specific first: the verdict walks regions in this order.
KIND_SPECIFICITY = {RegionKind.ADMIN2: 0, RegionKind.ADMIN1: 1, RegionKind.GROUP: 2, RegionKind.COUNTRY: 3}


class Region(models.Model):
    """A country (ISO 3166-1 alpha-3), a state (ISO 3166-2, e.g. US-FL) or a county (US-<FIPS>)."""

    kind = models.CharField(max_length=8, choices=RegionKind.choices)
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=200)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    # ISO 3166-1 alpha-2 of a country: Darwin Core checklists (GRIIS) use it.
    iso_a2 = models.CharField(max_length=2, blank=True, db_index=True)
    # Groups have no geometry of their own: they are their members.
    members = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="groups")
    geometry = models.BinaryField(blank=True, default=b"")
    geometry_sha1 = models.CharField(max_length=40, blank=True)
    geometry_note = models.CharField(max_length=500, blank=True, help_text="what validation repaired, if anything")
    # 1:N of the source map; a more detailed source (smaller N) is not replaced by a coarser one.
    scale_denominator = models.PositiveBigIntegerField(null=True, blank=True)
    source = models.CharField(max_length=300, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["kind"])]

    def __str__(self):
        return f"{self.name} ({self.code})"


class Origin(models.TextChoices):
    """IUCN origin codes of a range polygon."""

    NATIVE = "native"
    REINTRODUCED = "reintroduced"
    INTRODUCED = "introduced"
    UNCERTAIN = "uncertain"


class Presence(models.TextChoices):
    """IUCN presence codes; only extant and probably extant ranges are imported."""

    EXTANT = "extant"
    PROBABLY_EXTANT = "probably_extant", "probably extant"
    POSSIBLY_EXTANT = "possibly_extant", "possibly extant"
    POSSIBLY_EXTINCT = "possibly_extinct", "possibly extinct"
    EXTINCT = "extinct"
    UNCERTAIN = "uncertain"


class RangePolygon(models.Model):
    """One range polygon of a taxon; `source_key` makes re-imports of the same file idempotent."""

    taxon = models.ForeignKey(Taxon, on_delete=models.CASCADE, related_name="range_polygons")
    origin = models.CharField(max_length=16, choices=Origin.choices)
    presence = models.CharField(max_length=20, choices=Presence.choices, default=Presence.EXTANT)
    geometry = models.BinaryField()
    geometry_sha1 = models.CharField(max_length=40, blank=True)
    geometry_note = models.CharField(max_length=500, blank=True, help_text="what validation repaired, if anything")
    source = models.CharField(max_length=300)
    source_url = models.URLField(max_length=500, blank=True)
    source_key = models.CharField(max_length=200, blank=True, help_text="the feature's id in its source file")
    license = models.CharField(max_length=100, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["taxon", "origin", "source", "source_key"], name="unique_range_polygon_per_source"
            )
        ]

    def __str__(self):
        return f"{self.taxon.scientific_name}: {self.origin} range"


class Establishment(models.TextChoices):
    NATIVE = "native"
    INTRODUCED = "introduced"
    INVASIVE = "invasive"


class RegionalStatus(models.Model):
    """Establishment of a taxon in a region, after a named source (Darwin Core vocabularies)."""

    taxon = models.ForeignKey(Taxon, on_delete=models.CASCADE, related_name="regional_statuses")
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="statuses")
    status = models.CharField(max_length=16, choices=Establishment.choices)
    establishment_means = models.CharField(max_length=40, blank=True, help_text="Darwin Core establishmentMeans")
    degree_of_establishment = models.CharField(max_length=40, blank=True, help_text="Darwin Core degreeOfEstablishment")
    source = models.CharField(max_length=300)
    source_url = models.URLField(max_length=500, blank=True)
    note = models.TextField(blank=True)
    # A closed-world source lists every region where the taxon is native, so a region it leaves out
    # is not native (MDD, AmphibiaWeb, curated lists); an open-world one (BirdLife country lists,
    # with known omissions) proves presence only: it can answer `native`, never `out_of_range`.
    closed_world = models.BooleanField(
        default=True,
        help_text="absence from this source's native list means not native (meta.json absence_means_not_native)",
    )
    recorded = models.DateField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["taxon", "region", "source"], name="unique_status_per_source")]
        indexes = [models.Index(fields=["source"])]
        verbose_name_plural = "regional statuses"

    def __str__(self):
        return f"{self.taxon.scientific_name} is {self.status} in {self.region.code}"


class RangeSource(models.Model):
    """What a source of native or alien statuses claims, beyond its rows: its citation and licence,
    whether a region it does not list is outside the taxon's native range (closed world), and
    whether it lists every species of a taxonomic group. Keyed by the `source` name its
    RegionalStatus rows carry. A source with no record here is treated as closed world (the
    curated and IUCN sources were written as such)."""

    name = models.CharField(max_length=300, unique=True, help_text="the `source` of its regional statuses")
    citation = models.TextField(blank=True)
    url = models.URLField(max_length=500, blank=True)
    license = models.CharField(max_length=200, blank=True)
    # Closed world (MDD, AmphibiaWeb): the native countries listed are all of them, so a point
    # elsewhere is outside the native range. Open world (BirdLife country lists): a listed country is
    # native, an unlisted one proves nothing, so the source can say `native` but never `out_of_range`.
    absence_means_not_native = models.BooleanField(default=True)
    taxon_group = models.CharField(max_length=100, blank=True, help_text="the group it covers, e.g. Mammalia")
    # The source names every species of `taxon_group` (MDD for mammals): once imported, the
    # taxonomy holds the group's complete membership, so a group verdict can speak for all of it.
    lists_every_species = models.BooleanField(default=False)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self):
        world = "closed world" if self.absence_means_not_native else "open world"
        return f"{self.name} ({world})"


class GeofenceRule(models.TextChoices):
    ALLOW = "allow"
    BLOCK = "block"


class GeofenceEntry(models.Model):
    """A classifier geofence rule (SpeciesNet): a plausibility hint about presence, not an
    establishment status. The verdict cites it in its explanation but never decides on it."""

    taxon = models.ForeignKey(Taxon, on_delete=models.CASCADE, related_name="geofence_entries")
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="geofence_entries")
    rule = models.CharField(max_length=8, choices=GeofenceRule.choices)
    comment = models.TextField(blank=True)
    source = models.CharField(max_length=300)
    source_url = models.URLField(max_length=500, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["taxon", "region", "source"], name="unique_geofence_per_source")]
        verbose_name_plural = "geofence entries"

    def __str__(self):
        return f"{self.rule} {self.taxon.scientific_name} in {self.region.code}"


class ContactKind(models.TextChoices):
    INVASIVE_HOTLINE = "invasive_species_hotline", "invasive-species hotline"
    WILDLIFE_AGENCY = "wildlife_agency", "wildlife agency"
    INVASIVE_COUNCIL = "invasive_species_council", "invasive-species council"
    NATIONAL_AGENCY = "national_agency", "national agency"
    ANIMAL_CONTROL = "animal_control", "animal control"


# UN M49 "001" (World): a region with no geometry that holds the global fallback contacts, offered
# where no region at a point has a contact of its own. It never contains a point, so verdicts never see it.
FALLBACK_REGION_CODE = "001"


class Contact(models.Model):
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="contacts")
    kind = models.CharField(max_length=32, choices=ContactKind.choices)
    organisation = models.CharField(max_length=300)
    phone = models.CharField(max_length=60, blank=True)
    email = models.EmailField(blank=True)
    url = models.URLField(max_length=500, blank=True)
    hours = models.CharField(max_length=200, blank=True)
    languages = models.CharField(max_length=100, blank=True)
    notes = models.TextField(blank=True)
    source_url = models.URLField(max_length=500)
    verified_on = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["region", "organisation", "kind"], name="unique_contact")]

    def __str__(self):
        return f"{self.organisation} ({self.region.code})"


class DataVersion(models.Model):
    """A counter bumped by every write to range data: processes rebuild their index when it moves."""

    key = models.CharField(max_length=32, unique=True, default="ranges")
    version = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"{self.key} data version {self.version}"


class RegionOutline(models.Model):
    """A region's outline as drawn on maps: its GeoJSON geometry simplified to one of the map
    tolerances (ranges.geojson.MAP_TOLERANCES_DEG), built when the region's geometry is written
    (ranges.outlines) so that no request loads a whole outline or simplifies it (issue 23). A group's
    is the union of its members. `geojson` is empty where nothing is left at that tolerance, or where
    the region has no outline at all (the World fallback region): the region is then not drawn."""

    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="outlines")
    tolerance = models.FloatField()
    geojson = models.TextField(blank=True)
    # What it was built from: the region's geometry_sha1 (a group: a hash of its members'), so that a
    # rebuild redoes only the outlines whose geometry changed.
    source_sha1 = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["region", "tolerance"], name="unique_outline_per_tolerance")]

    def __str__(self):
        return f"{self.region_id} at {self.tolerance}°"
