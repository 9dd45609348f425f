"""Thin views of the observations app: upload a photo, read (or wait for) the result, change its
geoprivacy or delete it, fetch the served photo."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from core.pagination import BoundedPagination
from core.throttling import UploadRateThrottle
from observations.models import Observation
from observations.photos import photo_derivative, photo_link_observation
from observations.selectors import (
    observation_citizen_science,
    observation_for_user,
    observation_for_viewer,
    observation_job_state,
    observation_list_for_owner,
    observation_result,
    observation_visible,
)
from observations.serializers import (
    ObservationDetailOutputSerializer,
    ObservationInputSerializer,
    ObservationOutputSerializer,
    ObservationPageSerializer,
    ObservationUpdateInputSerializer,
    WaitSerializer,
)
from observations.services import observation_create, observation_delete, observation_set_geoprivacy
from observations.waiting import FINAL, wait_for_final_status

RETRY_AFTER_SECONDS = 2
TAGS = ["observations"]


def observation_detail(observation) -> dict:
    """What the owner and reviewers see: the result plus privacy and verification."""
    return {**observation_result(observation), "citizen_science": observation_citizen_science(observation)}


def _wait_for_result(observation: Observation, user, seconds: float) -> Observation:
    """The observation once it is final, or as it is after `seconds` (observations.waiting); the
    full row is read again only if the job finished."""
    if observation.status in FINAL or wait_for_final_status(observation.pk, seconds, holder=user.pk) is None:
        return observation
    return observation_for_user(user=user, observation_id=observation.uuid)


class ObservationCreateApi(APIView):
    """POST: upload a photo. GET: the caller's own observations, newest first, paginated."""

    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [MultiPartParser]

    throttle_scope = "uploads"

    def get_throttles(self):
        # Only uploads are rate limited; reading one's own list is not.
        return [UploadRateThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        tags=TAGS,
        operation_id="observations_list_mine",
        parameters=[OpenApiParameter("limit", int, description="page size (max 200)"), OpenApiParameter("offset", int)],
        responses={200: ObservationPageSerializer},
    )
    def get(self, request):
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(observation_list_for_owner(user=request.user), request, view=self)
        return paginator.get_paginated_response(
            ObservationDetailOutputSerializer([observation_detail(o) for o in page], many=True).data
        )

    @extend_schema(
        tags=TAGS,
        request={"multipart/form-data": ObservationInputSerializer},
        parameters=[
            WaitSerializer,
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="a retried upload (same key, same photo) returns the same observation; at most 200 characters",
            ),
        ],
        responses={
            202: OpenApiResponse(ObservationOutputSerializer, description="accepted; poll Location"),
            200: OpenApiResponse(ObservationOutputSerializer, description="finished within ?wait"),
            400: OpenApiResponse(
                description="invalid fields, or the photo is corrupt / too large / not an accepted format"
            ),
            409: OpenApiResponse(description="the Idempotency-Key was used for another photo"),
        },
    )
    def post(self, request):
        params = WaitSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = ObservationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = observation_create(
            owner=request.user,
            photo=data.validated_data["photo"],
            latitude=data.validated_data.get("latitude"),
            longitude=data.validated_data.get("longitude"),
            accuracy_m=data.validated_data.get("accuracy_m"),
            observed_at=data.validated_data.get("observed_at"),
            idempotency_key=request.headers.get("Idempotency-Key", ""),
            geoprivacy=data.validated_data["geoprivacy"],
        )
        observation = upload.observation
        if params.validated_data["wait"]:
            observation = _wait_for_result(observation, request.user, params.validated_data["wait"])
        location = reverse("observation-detail", kwargs={"observation_id": observation.uuid}, request=request)
        final = observation.status in FINAL
        headers = {"Location": location}
        if not final:
            headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        body = ObservationOutputSerializer(observation_result(observation)).data
        return Response(body, status=status.HTTP_200_OK if final else status.HTTP_202_ACCEPTED, headers=headers)


class ObservationDetailApi(APIView):
    """The owner's observation (reviewers may read any); for everyone else it does not exist (404)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        parameters=[WaitSerializer],
        responses={200: ObservationDetailOutputSerializer, 404: OpenApiResponse(description="not yours")},
    )
    def get(self, request, observation_id):
        params = WaitSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        if params.validated_data["wait"]:
            # Owners may wait: a light read of the job's state, the wait, then one full read.
            job = observation_job_state(user=request.user, observation_id=observation_id)
            if job is not None and job[1] not in FINAL:
                wait_for_final_status(job[0], params.validated_data["wait"], holder=request.user.pk)
        observation = observation_for_viewer(user=request.user, observation_id=observation_id)
        headers = {} if observation.status in FINAL else {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return Response(ObservationDetailOutputSerializer(observation_detail(observation)).data, headers=headers)

    @extend_schema(
        tags=TAGS,
        request=ObservationUpdateInputSerializer,
        responses={200: ObservationDetailOutputSerializer, 404: OpenApiResponse(description="not yours")},
    )
    def patch(self, request, observation_id):
        observation = observation_for_user(user=request.user, observation_id=observation_id)
        data = ObservationUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        observation = observation_set_geoprivacy(observation=observation, geoprivacy=data.validated_data["geoprivacy"])
        return Response(ObservationDetailOutputSerializer(observation_detail(observation)).data)

    @extend_schema(tags=TAGS, responses={204: None, 404: OpenApiResponse(description="not yours")})
    def delete(self, request, observation_id):
        observation_delete(observation=observation_for_user(user=request.user, observation_id=observation_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ObservationPhotoApi(APIView):
    """The EXIF-stripped derivative (never the original), as the worker stored it: for whoever may see
    the observation, or anyone holding a signed link from an alert (`?sig=`). Nothing is decoded here."""

    authentication_classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        tags=TAGS,
        responses={
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            401: OpenApiResponse(description="log in or use a signed link"),
            404: OpenApiResponse(description="not visible, or no served photo (the photo could not be read)"),
            425: OpenApiResponse(description="not ready: the served copy is made when the classification finishes"),
        },
    )
    def get(self, request, observation_id):
        sig = request.query_params.get("sig", "")
        if sig:
            observation = photo_link_observation(observation_id=observation_id, sig=sig)
        elif not request.user.is_authenticated:
            raise NotAuthenticated()
        else:
            observation = observation_visible(user=request.user, observation_id=observation_id)
        response = HttpResponse(photo_derivative(observation=observation), content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=3600"
        return response
