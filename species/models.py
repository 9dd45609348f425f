"""Taxa (a tree from kingdom to species), their names and the facts shown to users."""

from django.db import models


class Rank(models.TextChoices):
    KINGDOM = "kingdom"
    PHYLUM = "phylum"
    CLASS = "class"
    ORDER = "order"
    FAMILY = "family"
    GENUS = "genus"
    SPECIES = "species"
    SUBSPECIES = "subspecies"


class Sensitivity(models.TextChoices):
    """Coordinate generalisation for public surfaces (GBIF, Chapman 2020)."""

    NONE = "none", "not sensitive"
    DEG_0001 = "0.001", "generalise to 0.001°"
    DEG_001 = "0.01", "generalise to 0.01°"
    DEG_01 = "0.1", "generalise to 0.1°"
    DEG_1 = "1", "generalise to 1°"
    WITHHOLD = "withhold", "withhold the location"


class Taxon(models.Model):
    scientific_name = models.CharField(max_length=200)
    rank = models.CharField(max_length=16, choices=Rank.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    common_name = models.CharField(max_length=200, blank=True)
    gbif_key = models.PositiveBigIntegerField(null=True, blank=True)
    speciesnet_label = models.CharField(max_length=200, blank=True)
    sensitivity = models.CharField(max_length=10, choices=Sensitivity.choices, default=Sensitivity.NONE)
    # The branch of the tree: one name can be an animal and a plant (Proboscidea, the elephant order
    # and the unicorn-plant genus), so a name is unique only with its rank and kingdom, and every
    # lookup says which kingdom it expects. Copied from the lineage ("" when the lineage has none).
    kingdom = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scientific_name", "rank", "kingdom"], name="unique_taxon_name_rank_kingdom"
            )
        ]
        indexes = [models.Index(fields=["scientific_name"])]
        verbose_name_plural = "taxa"

    def __str__(self):
        return f"{self.scientific_name} ({self.common_name})" if self.common_name else self.scientific_name

    def save(self, *args, **kwargs):
        # A taxon made by hand (admin, shell) takes its kingdom from where it hangs in the tree.
        if not self.kingdom:
            if self.rank == Rank.KINGDOM:
                self.kingdom = self.scientific_name
            elif self.parent is not None:
                self.kingdom = self.parent.kingdom or (
                    self.parent.scientific_name if self.parent.rank == Rank.KINGDOM else ""
                )
        super().save(*args, **kwargs)


class TaxonSynonym(models.Model):
    """Another scientific name for a taxon (e.g. Herpestes javanicus for Urva auropunctata)."""

    taxon = models.ForeignKey(Taxon, on_delete=models.CASCADE, related_name="synonyms")
    name = models.CharField(max_length=200, unique=True)
    # Who said so: importers only change synonyms that carry their own source label.
    source = models.CharField(
        max_length=200, blank=True, help_text='e.g. "MDD v1.13" or "RangeWatch starter pack: synonyms"'
    )
    source_url = models.URLField(blank=True)
    note = models.CharField(max_length=500, blank=True)

    def __str__(self):
        return f"{self.name} → {self.taxon.scientific_name}"


class IucnCategory(models.TextChoices):
    LC = "LC", "Least Concern"
    NT = "NT", "Near Threatened"
    VU = "VU", "Vulnerable"
    EN = "EN", "Endangered"
    CR = "CR", "Critically Endangered"
    EW = "EW", "Extinct in the Wild"
    EX = "EX", "Extinct"
    DD = "DD", "Data Deficient"
    NE = "NE", "Not Evaluated"
    DOMESTICATED = "domesticated", "Domesticated"


class SpeciesInfo(models.Model):
    """Facts and conservation notes, written in the project's own words, with sources."""

    taxon = models.OneToOneField(Taxon, on_delete=models.CASCADE, related_name="info")
    summary = models.TextField()
    habitat = models.TextField(blank=True)
    diet = models.TextField(blank=True)
    iucn_category = models.CharField(max_length=16, choices=IucnCategory.choices, default=IucnCategory.NE)
    conservation_note = models.TextField(blank=True)
    how_to_help = models.TextField(blank=True)
    sources = models.JSONField(default=list, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "species info"

    def __str__(self):
        return f"info: {self.taxon.scientific_name}"


class TaxonomyVersion(models.Model):
    """A counter bumped by every write to taxa or synonyms: each process reloads its taxon tree
    (species.selectors.taxon_tree) when it moves. One row."""

    version = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"taxonomy version {self.version}"
