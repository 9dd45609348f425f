"""Thin views of the community: the public feed, identifications, expert review, Darwin Core exports
(background jobs with a download link)."""

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from accounts.permissions import IsReviewer
from community.exports import dwca_export_archive, dwca_export_for_user, dwca_export_request, dwca_exports_for_user
from community.models import DwcaExport
from community.selectors import identifications_for, review_queue
from community.serializers import (
    IdentificationInputSerializer,
    IdentificationsOutputSerializer,
    PublicObservationOutputSerializer,
    ReviewInputSerializer,
    ReviewQueueInputSerializer,
)
from community.services import identification_add, observation_review
from core.errors import ServiceError
from core.pagination import BoundedPagination
from observations.apis import observation_detail
from observations.selectors import (
    observation_for_viewer,
    observation_public,
    observation_visible,
    public_observation,
    public_observations,
)
from observations.serializers import ObservationDetailOutputSerializer
from species.selectors import taxon_by_key_or_id

EXPORT_RETRY_AFTER_SECONDS = 5


def _taxon(value):
    taxon = taxon_by_key_or_id(str(value))
    if taxon is None:
        raise ServiceError("unknown taxon", fields={"taxon": ["unknown taxon"]})
    return taxon


class FeedApi(APIView):
    """Finished observations, public fields only, coordinates generalised for sensitive records."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(tags=["feed"], responses={200: PublicObservationOutputSerializer(many=True)})
    def get(self, request):
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(public_observations(), request, view=self)
        return paginator.get_paginated_response(
            PublicObservationOutputSerializer([observation_public(o) for o in page], many=True).data
        )


class FeedDetailApi(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        tags=["feed"],
        responses={200: PublicObservationOutputSerializer, 404: OpenApiResponse(description="not public")},
    )
    def get(self, request, observation_id):
        observation = public_observation(observation_id=observation_id)
        return Response(PublicObservationOutputSerializer(observation_public(observation)).data)


def _identifications_body(observation) -> dict:
    return {
        "community_taxon": observation.community_taxon,
        "identifications": identifications_for(observation=observation),
    }


class IdentificationListApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        tags=["identifications"],
        responses={200: IdentificationsOutputSerializer, 404: OpenApiResponse(description="not visible")},
    )
    def get(self, request, observation_id):
        observation = observation_visible(user=request.user, observation_id=observation_id)
        return Response(IdentificationsOutputSerializer(_identifications_body(observation)).data)

    @extend_schema(
        tags=["identifications"],
        request=IdentificationInputSerializer,
        responses={
            201: IdentificationsOutputSerializer,
            404: OpenApiResponse(description="not visible"),
            409: OpenApiResponse(description="you already identify it as this taxon (a repeated request)"),
        },
    )
    def post(self, request, observation_id):
        observation = observation_visible(user=request.user, observation_id=observation_id)
        data = IdentificationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data.get("agree_with"):
            other = identifications_for(observation=observation).filter(pk=data.validated_data["agree_with"]).first()
            if other is None:
                raise ServiceError(
                    "no such identification", fields={"agree_with": ["no such identification on this observation"]}
                )
            taxon = other.taxon
        else:
            taxon = _taxon(data.validated_data["taxon"])
        identification_add(observation=observation, user=request.user, taxon=taxon, body=data.validated_data["body"])
        observation.refresh_from_db()
        return Response(
            IdentificationsOutputSerializer(_identifications_body(observation)).data, status=status.HTTP_201_CREATED
        )


class ReviewApi(APIView):
    """A reviewer confirms or rejects; confirming an alert verdict notifies the local contacts."""

    permission_classes = [permissions.IsAuthenticated, IsReviewer]

    @extend_schema(
        tags=["review"],
        request=ReviewInputSerializer,
        responses={
            200: ObservationDetailOutputSerializer,
            403: OpenApiResponse(description="not a reviewer, or an alerting confirmation of one's own upload"),
        },
    )
    def post(self, request, observation_id):
        observation = observation_for_viewer(user=request.user, observation_id=observation_id)
        data = ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        taxon = _taxon(data.validated_data["taxon"]) if data.validated_data.get("taxon") else None
        observation_review(
            observation=observation,
            reviewer=request.user,
            decision=data.validated_data["decision"],
            taxon=taxon,
            note=data.validated_data["note"],
            free_roaming=data.validated_data["free_roaming"],
        )
        observation = observation_for_viewer(user=request.user, observation_id=observation_id)
        return Response(ObservationDetailOutputSerializer(observation_detail(observation)).data)


class ReviewQueueApi(APIView):
    permission_classes = [permissions.IsAuthenticated, IsReviewer]

    @extend_schema(
        tags=["review"],
        parameters=[ReviewQueueInputSerializer],
        responses={200: ObservationDetailOutputSerializer(many=True)},
    )
    def get(self, request):
        params = ReviewQueueInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(review_queue(**params.validated_data), request, view=self)
        return paginator.get_paginated_response(
            ObservationDetailOutputSerializer([observation_detail(o) for o in page], many=True).data
        )


class DwcaExportOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    status = serializers.CharField()
    verified_only = serializers.BooleanField()
    records = serializers.IntegerField(allow_null=True)
    failure = serializers.CharField()
    created = serializers.DateTimeField()
    finished = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField()
    download = serializers.SerializerMethodField()

    def get_url(self, export) -> str:
        return reverse("export-dwca-detail", kwargs={"export_id": export.uuid}, request=self.context["request"])

    def get_download(self, export) -> str | None:
        if export.status != DwcaExport.Status.DONE:
            return None
        return reverse("export-dwca-download", kwargs={"export_id": export.uuid}, request=self.context["request"])


class DwcaExportInputSerializer(serializers.Serializer):
    verified_only = serializers.BooleanField(default=False)


class DwcaExportApi(APIView):
    """Darwin Core Archive exports, written by a worker: POST asks for one (202 with its link), GET
    lists the caller's own."""

    permission_classes = [permissions.IsAuthenticated, IsReviewer]

    @extend_schema(tags=["exports"], responses={200: DwcaExportOutputSerializer(many=True)})
    def get(self, request):
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(dwca_exports_for_user(user=request.user), request, view=self)
        body = DwcaExportOutputSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(body)

    @extend_schema(
        tags=["exports"],
        request=DwcaExportInputSerializer,
        responses={
            202: OpenApiResponse(DwcaExportOutputSerializer, description="accepted; follow Location, then download"),
            200: OpenApiResponse(
                DwcaExportOutputSerializer, description="the same export is already being written: that one"
            ),
            409: OpenApiResponse(description="another export of yours is being written (`export_running`)"),
        },
    )
    def post(self, request):
        data = DwcaExportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        requested = dwca_export_request(requested_by=request.user, verified_only=data.validated_data["verified_only"])
        body = DwcaExportOutputSerializer(requested.export, context={"request": request}).data
        headers = {"Location": body["url"], "Retry-After": str(EXPORT_RETRY_AFTER_SECONDS)}
        # The same request while its export is being written: that export again (200), not another job.
        return Response(
            body, status=status.HTTP_202_ACCEPTED if requested.created else status.HTTP_200_OK, headers=headers
        )


class DwcaExportDetailApi(APIView):
    """One of the caller's exports: its state, and the download link once it is written."""

    permission_classes = [permissions.IsAuthenticated, IsReviewer]

    @extend_schema(
        tags=["exports"], responses={200: DwcaExportOutputSerializer, 404: OpenApiResponse(description="not yours")}
    )
    def get(self, request, export_id):
        export = dwca_export_for_user(user=request.user, export_id=export_id)
        headers = {"Retry-After": str(EXPORT_RETRY_AFTER_SECONDS)} if export.status == DwcaExport.Status.QUEUED else {}
        return Response(DwcaExportOutputSerializer(export, context={"request": request}).data, headers=headers)


class DwcaExportDownloadApi(APIView):
    """The written archive, streamed from storage."""

    permission_classes = [permissions.IsAuthenticated, IsReviewer]

    @extend_schema(
        tags=["exports"],
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="not yours, or the export failed"),
            425: OpenApiResponse(description="still being written"),
        },
    )
    def get(self, request, export_id):
        archive = dwca_export_archive(export=dwca_export_for_user(user=request.user, export_id=export_id))
        return FileResponse(archive, as_attachment=True, filename="rangewatch-dwca.zip", content_type="application/zip")
