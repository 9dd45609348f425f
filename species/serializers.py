from rest_framework import serializers

from species.models import Rank, SpeciesInfo, Taxon
from species.selectors import taxon_lineage


class TaxonBriefSerializer(serializers.Serializer):
    """A taxon inside other answers (predictions, verdicts, identifications). A plain serializer:
    a ModelSerializer would inspect the model again for every answer it is nested in (3x slower)."""

    id = serializers.IntegerField(read_only=True)
    scientific_name = serializers.CharField(read_only=True)
    common_name = serializers.CharField(read_only=True)
    rank = serializers.ChoiceField(choices=Rank.choices, read_only=True)


class SpeciesInfoSerializer(serializers.ModelSerializer):
    iucn_category_label = serializers.CharField(source="get_iucn_category_display", read_only=True)

    class Meta:
        model = SpeciesInfo
        fields = [
            "summary",
            "habitat",
            "diet",
            "iucn_category",
            "iucn_category_label",
            "conservation_note",
            "how_to_help",
            "sources",
        ]


class TaxonDetailSerializer(serializers.ModelSerializer):
    parent = TaxonBriefSerializer(read_only=True)
    lineage = serializers.SerializerMethodField()
    info = SpeciesInfoSerializer(read_only=True)
    synonyms = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta:
        model = Taxon
        fields = ["id", "scientific_name", "common_name", "rank", "parent", "lineage", "synonyms", "info"]

    def get_lineage(self, taxon) -> list[dict]:
        return [{"rank": t.rank, "scientific_name": t.scientific_name} for t in reversed(taxon_lineage(taxon))]
