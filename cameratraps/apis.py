"""Thin views of camera-trap projects: projects, deployments, frames (upload with the project's
quota; list with cursor pagination and filters) and sequences. Only members see a project."""

import logging

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import NotFound as DrfNotFound
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from cameratraps.selectors import (
    project_deployments,
    project_for_member,
    project_media,
    project_sequences,
    projects_for_member,
    sequence_summary,
    sequences_with_frames,
)
from cameratraps.serializers import (
    DeploymentInputSerializer,
    DeploymentOutputSerializer,
    MediaListQuerySerializer,
    MediaOutputSerializer,
    MediaPageSerializer,
    MediaUploadInputSerializer,
    ProjectInputSerializer,
    ProjectOutputSerializer,
    SequenceOutputSerializer,
)
from cameratraps.services import (
    deployment_for_upload,
    deployment_upsert,
    media_upload,
    project_create,
)
from core.errors import ServiceError
from core.pagination import BoundedPagination
from observations.selectors import observation_result
from observations.serializers import ObservationOutputSerializer

log = logging.getLogger(__name__)
TAGS = ["camera-trap projects"]
RETRY_AFTER_SECONDS = 5


class ProjectUploadThrottle(SimpleRateThrottle):
    """The project's own quota (uploads per hour, all members together) instead of the
    per-person rate: a team's camera-trap card is one budget. Counted in the shared cache."""

    def __init__(self, project):
        self.project = project
        self.rate = f"{project.upload_quota_per_hour}/hour"
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_cache_key(self, request, view):
        return f"throttle_project_uploads_{self.project.pk}"

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # noqa: BLE001 - as core.throttling: a cache outage must not become a 500
            log.warning("project upload quota skipped: cache unavailable (%s)", exc.__class__.__name__)
            return True


class ProjectUploaderThrottle(SimpleRateThrottle):
    """One person's frames into all their projects together (issue 23: a project per 20,000 an hour,
    made 30 times, multiplied a person's rate). RANGEWATCH_PROJECT_UPLOADS_PER_USER_RATE."""

    scope = "project_uploads_per_user"

    def get_rate(self):
        return settings.RANGEWATCH_PROJECT_UPLOADS_PER_USER_RATE

    def get_cache_key(self, request, view):
        return f"throttle_project_uploads_user_{request.user.pk}"

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # noqa: BLE001 - as ProjectUploadThrottle
            log.warning("per-person project quota skipped: cache unavailable (%s)", exc.__class__.__name__)
            return True


class MediaCursorPagination(CursorPagination):
    """Stable pages while frames keep arriving: new ones only ever join the end."""

    ordering = "id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def decode_cursor(self, request):
        """DRF's decoding, plus the position checked to be an id (issue 23, Low: `p=abc`, `p=1e999`
        or quotes reached the query and answered 500). Any unreadable cursor is a 400."""
        try:
            cursor = super().decode_cursor(request)
        except DrfNotFound as exc:
            raise ServiceError("the cursor is not one this list gave out", code="invalid_cursor") from exc
        position = cursor.position if cursor is not None else None
        if position is not None and not (position.isascii() and position.isdigit() and int(position) < 2**63):
            raise ServiceError("the cursor is not one this list gave out", code="invalid_cursor")
        return cursor


class ProjectListApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(tags=TAGS, operation_id="projects_list_mine", responses={200: ProjectOutputSerializer(many=True)})
    def get(self, request):
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(
            projects_for_member(user=request.user).select_related("owner"), request, view=self
        )
        return paginator.get_paginated_response(ProjectOutputSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        request=ProjectInputSerializer,
        responses={201: ProjectOutputSerializer, 409: OpenApiResponse(description="name taken")},
    )
    def post(self, request):
        data = ProjectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = project_create(owner=request.user, **data.validated_data)
        return Response(ProjectOutputSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        tags=TAGS, responses={200: ProjectOutputSerializer, 404: OpenApiResponse(description="not a member")}
    )
    def get(self, request, name):
        return Response(ProjectOutputSerializer(project_for_member(user=request.user, name=name)).data)


class DeploymentListApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        tags=TAGS, operation_id="project_deployments_list", responses={200: DeploymentOutputSerializer(many=True)}
    )
    def get(self, request, name):
        project = project_for_member(user=request.user, name=name)
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(project_deployments(project=project), request, view=self)
        return paginator.get_paginated_response(DeploymentOutputSerializer(page, many=True).data)

    @extend_schema(tags=TAGS, request=DeploymentInputSerializer, responses={201: DeploymentOutputSerializer})
    def post(self, request, name):
        project = project_for_member(user=request.user, name=name)
        data = DeploymentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deployment = deployment_upsert(project=project, **data.validated_data)
        return Response(DeploymentOutputSerializer(deployment).data, status=status.HTTP_201_CREATED)


def media_body(media) -> dict:
    return {
        "media_id": media.media_id,
        "deployment": media.deployment,
        "file_name": media.file_name,
        "timestamp": media.timestamp,
        "observation": observation_result(media.observation),
    }


class ProjectMediaApi(APIView):
    """POST: a frame into the project (the project's quota, the batch queue). GET: its frames."""

    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [MultiPartParser]

    def get_throttles(self):
        if self.request.method != "POST":
            return []
        project = project_for_member(user=self.request.user, name=self.kwargs["name"])
        return [ProjectUploadThrottle(project), ProjectUploaderThrottle()]

    @extend_schema(
        tags=TAGS,
        operation_id="project_media_list",
        parameters=[
            MediaListQuerySerializer,
            OpenApiParameter("cursor", str),
            OpenApiParameter("limit", int, description="page size (max 200)"),
        ],
        responses={200: MediaPageSerializer},
    )
    def get(self, request, name):
        project = project_for_member(user=request.user, name=name)
        query = MediaListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        paginator = MediaCursorPagination()
        page = paginator.paginate_queryset(project_media(project=project, **query.validated_data), request, view=self)
        return paginator.get_paginated_response(MediaOutputSerializer([media_body(m) for m in page], many=True).data)

    @extend_schema(
        tags=TAGS,
        request={"multipart/form-data": MediaUploadInputSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="a retried upload with the same key returns the same frame",
            )
        ],
        responses={
            202: OpenApiResponse(ObservationOutputSerializer, description="accepted; poll Location"),
            409: OpenApiResponse(description="the mediaID or the Idempotency-Key already names another frame"),
            429: OpenApiResponse(description="the project's quota is spent"),
        },
    )
    def post(self, request, name):
        project = project_for_member(user=request.user, name=name)
        data = MediaUploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        deployment = deployment_for_upload(
            project=project,
            deployment_id=fields["deployment"],
            latitude=fields.get("latitude"),
            longitude=fields.get("longitude"),
        )
        upload = media_upload(
            project=project,
            uploader=request.user,
            photo=fields["photo"],
            deployment=deployment,
            latitude=fields.get("latitude"),
            longitude=fields.get("longitude"),
            observed_at=fields.get("observed_at"),
            # Not cut: a key over the limit is refused (400) by observation_create, as on the phone upload.
            idempotency_key=request.headers.get("Idempotency-Key", ""),
            media_id=fields.get("media_id", ""),
            file_name=getattr(fields["photo"], "name", ""),
        )
        observation = upload.media.observation
        location = reverse("observation-detail", kwargs={"observation_id": observation.uuid}, request=request)
        headers = {"Location": location, "Retry-After": str(RETRY_AFTER_SECONDS)}
        return Response(
            ObservationOutputSerializer(observation_result(observation)).data,
            status=status.HTTP_202_ACCEPTED,
            headers=headers,
        )


class ProjectSequenceApi(APIView):
    """The project's sequences, each with one identification from its frames."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        operation_id="project_sequences_list",
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
        responses={200: SequenceOutputSerializer(many=True)},
    )
    def get(self, request, name):
        project = project_for_member(user=request.user, name=name)
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(project_sequences(project=project), request, view=self)
        rows = [sequence_summary(s) for s in sequences_with_frames(project=project, rows=page)]
        return paginator.get_paginated_response(SequenceOutputSerializer(rows, many=True).data)
