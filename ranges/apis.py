"""Thin views: the verdict for a taxon at a point, and the regions and contacts at a point."""
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.errors import api_error
from ranges.answers import verdict_answer
from ranges.geojson import feature_collection
from ranges.selectors import contact_snapshot, contacts_or_fallback, range_index, regions_by_codes, species_range_features, verdict_at
from ranges.serializers import CheckInputSerializer, PointInputSerializer, RegionLookupSerializer, VerdictAnswerSerializer
from species.models import Taxon
from species.selectors import taxon_by_key_or_id


class CheckApi(APIView):
    """Verdict for a taxon at a point, without a photo."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(parameters=[CheckInputSerializer], responses={200: VerdictAnswerSerializer})
    def get(self, request):
        params = CheckInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        taxon = taxon_by_key_or_id(params.validated_data["taxon"])
        if taxon is None:
            return api_error(status.HTTP_404_NOT_FOUND, "unknown_taxon", f"no taxon named {params.validated_data['taxon']!r}")
        found = verdict_at(taxon.scientific_name, params.validated_data["lon"], params.validated_data["lat"])
        answer = verdict_answer(
            status=found.status,
            explanation=found.explanation,
            region_code=found.region_code,
            region_codes=found.region_codes,
            sources=found.sources,
            taxon=taxon,
        )
        return Response(VerdictAnswerSerializer(answer).data)


class RegionLookupApi(APIView):
    """Regions at a point (most specific first) and the contacts to report to there."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(parameters=[PointInputSerializer], responses={200: RegionLookupSerializer})
    def get(self, request):
        params = PointInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        hits = range_index().regions_at(params.validated_data["lon"], params.validated_data["lat"])
        codes = [h.region.code for h in hits]
        regions = regions_by_codes(codes)
        return Response(
            RegionLookupSerializer(
                {
                    "regions": [{"code": c, "name": regions[c].name, "kind": regions[c].kind} for c in codes if c in regions],
                    "contacts": [contact_snapshot(c) for c in contacts_or_fallback(codes)],
                }
            ).data
        )


class SpeciesRangeApi(APIView):
    """The range of a species as RFC 7946 GeoJSON: range polygons and regions with a status."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: dict})
    def get(self, request, pk: int):
        taxon = Taxon.objects.filter(pk=pk).first()
        if taxon is None:
            return api_error(status.HTTP_404_NOT_FOUND, "unknown_taxon", f"no taxon with id {pk}")
        body = feature_collection(species_range_features(taxon))
        body["taxon"] = {"id": taxon.pk, "scientific_name": taxon.scientific_name}
        return Response(body, content_type="application/geo+json")
