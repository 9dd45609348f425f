"""Thin views: the verdict for a taxon at a point, the regions and contacts at a point, GeoJSON for maps."""

from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import condition
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotFound
from core.throttling import MapAnonymousThrottle
from ranges.answers import verdict_answer
from ranges.at_point import verdict_for_taxon
from ranges.contacts import contact_snapshot, contacts_or_fallback
from ranges.geojson import (
    DISPLAY_TOLERANCE_DEG,
    MAP_TOLERANCES_DEG,
    MAX_TOLERANCE_DEG,
    MIN_TOLERANCE_DEG,
    map_tolerance,
)
from ranges.index_cache import data_version, range_index
from ranges.map_features import region_geojson, species_range_geojson
from ranges.models import RegionKind
from ranges.selectors import regions_by_codes
from ranges.serializers import (
    CheckInputSerializer,
    CoordinateField,
    PointInputSerializer,
    RegionLookupSerializer,
    VerdictAnswerSerializer,
)
from species.models import Taxon
from species.selectors import taxon_by_key_or_id


class CheckApi(APIView):
    """Verdict for a taxon at a point, without a photo."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(parameters=[CheckInputSerializer], responses={200: VerdictAnswerSerializer})
    def get(self, request):
        params = CheckInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        taxon = taxon_by_key_or_id(params.validated_data["taxon"], kingdom=params.validated_data["kingdom"])
        if taxon is None:
            raise NotFound(f"no taxon named {params.validated_data['taxon']!r}", code="unknown_taxon")
        found = verdict_for_taxon(taxon, params.validated_data["lon"], params.validated_data["lat"])
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
                    "regions": [
                        {"code": c, "name": regions[c].name, "kind": regions[c].kind} for c in codes if c in regions
                    ],
                    "contacts": [contact_snapshot(c) for c in contacts_or_fallback(codes)],
                }
            ).data
        )


# A verdict names a handful of regions; a longer list would be a way to make the server draw the world.
MAX_CODES = 20


class SimplifyInputSerializer(serializers.Serializer):
    simplify = CoordinateField(  # a finite float: NaN would pass the range check
        required=False,
        default=DISPLAY_TOLERANCE_DEG,
        min_value=MIN_TOLERANCE_DEG,
        max_value=MAX_TOLERANCE_DEG,
        help_text=f"simplification tolerance in degrees, snapped to the nearest of {list(MAP_TOLERANCES_DEG)}; "
        "coordinates keep the decimals of a tenth of it. 0.05 (~5 km) suits a page map (a third of the default's "
        "size), 0.1 a phone's",
    )

    def validate_simplify(self, value: float) -> float:
        # A handful of forms in all, each computed once and then served from the cache: arbitrary
        # tolerances would each cost a second of simplification (issue 23, High).
        return map_tolerance(value)


def range_data_etag(request, *args, **kwargs) -> str:
    """Maps change only when range data does: a browser that has this version gets a 304."""
    return f"ranges-{data_version()}"


# GeoJSON shrinks to about a third with gzip; it is public data, so compressing it leaks nothing (BREACH).
@method_decorator(gzip_page, name="dispatch")
@method_decorator(condition(etag_func=range_data_etag), name="get")
class SpeciesRangeApi(APIView):
    """The range of a species as RFC 7946 GeoJSON: range polygons and regions with a status. Down to a
    family (its members' ranges together); an order or broader is refused (`range_too_broad`)."""

    permission_classes = [permissions.AllowAny]
    throttle_classes = [MapAnonymousThrottle]

    @extend_schema(parameters=[SimplifyInputSerializer], responses={200: dict})
    def get(self, request, pk: int):
        params = SimplifyInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        taxon = Taxon.objects.filter(pk=pk).first()
        if taxon is None:
            raise NotFound(f"no taxon with id {pk}", code="unknown_taxon")
        body = species_range_geojson(taxon, tolerance=params.validated_data["simplify"])
        return HttpResponse(body, content_type="application/geo+json")  # JSON text as built


@method_decorator(gzip_page, name="dispatch")
@method_decorator(condition(etag_func=range_data_etag), name="get")
class RegionGeoJsonApi(APIView):
    """Region outlines as RFC 7946 GeoJSON, for maps: the regions of a verdict (by code), or every
    country (the base map drawn when no tile layer is configured)."""

    permission_classes = [permissions.AllowAny]
    throttle_classes = [MapAnonymousThrottle]

    class InputSerializer(SimplifyInputSerializer):
        codes = serializers.CharField(
            required=False, help_text=f"comma-separated region codes, e.g. TZA,US-FL; {MAX_CODES} at most"
        )
        kind = serializers.ChoiceField(
            required=False, choices=[RegionKind.COUNTRY, RegionKind.ADMIN1], help_text="every region of this kind"
        )

        def validate_codes(self, value: str) -> list[str]:
            # De-duplicated, in the order asked (the answer keeps it); each region is cached on its own.
            codes = list(dict.fromkeys(code.strip() for code in value.split(",") if code.strip()))
            if not codes or len(codes) > MAX_CODES:
                raise serializers.ValidationError(f"give 1 to {MAX_CODES} region codes")
            return codes

        def validate(self, attrs):
            if ("codes" in attrs) == ("kind" in attrs):
                raise serializers.ValidationError({"codes": "give codes or kind (one of them)"})
            return attrs

    @extend_schema(parameters=[InputSerializer], responses={200: dict})
    def get(self, request):
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        body = region_geojson(codes=data.get("codes"), kind=data.get("kind"), tolerance=data["simplify"])
        return HttpResponse(body, content_type="application/geo+json")  # the stored outlines' text, unparsed
