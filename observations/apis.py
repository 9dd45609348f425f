"""Thin views: upload a photo, read the result."""
import time

from django.db import close_old_connections
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from backend.errors import api_error
from observations.models import Observation
from observations.selectors import observation_for_user, observation_result
from observations.serializers import ObservationInputSerializer, ObservationOutputSerializer, WaitSerializer
from observations.services import UploadRejected, observation_create

RETRY_AFTER_SECONDS = 2
_FINAL = (Observation.Status.DONE, Observation.Status.FAILED)


def _wait_for_result(observation: Observation, user, seconds: float) -> Observation:
    """Poll the row (job state lives in the database) until it is final or time runs out."""
    deadline = time.monotonic() + seconds
    while observation.status not in _FINAL and time.monotonic() < deadline:
        time.sleep(0.1)
        close_old_connections()
        observation = observation_for_user(user=user, observation_id=observation.uuid)
    return observation


class ObservationCreateApi(APIView):
    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [MultiPartParser]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "uploads"

    @extend_schema(
        request={"multipart/form-data": ObservationInputSerializer},
        parameters=[
            WaitSerializer,
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, description="a retried upload with the same key returns the same observation"),
        ],
        responses={
            202: OpenApiResponse(ObservationOutputSerializer, description="accepted; poll Location"),
            200: OpenApiResponse(ObservationOutputSerializer, description="finished within ?wait"),
            400: OpenApiResponse(description="invalid fields, or the photo is corrupt / too large / not an accepted format"),
        },
    )
    def post(self, request):
        params = WaitSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = ObservationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            upload = observation_create(
                owner=request.user,
                photo=data.validated_data["photo"],
                latitude=data.validated_data.get("latitude"),
                longitude=data.validated_data.get("longitude"),
                observed_at=data.validated_data.get("observed_at"),
                idempotency_key=request.headers.get("Idempotency-Key", "")[:200],
            )
        except UploadRejected as exc:
            return api_error(status.HTTP_400_BAD_REQUEST, exc.code, exc.detail, fields={exc.field: [exc.detail]})
        observation = upload.observation
        if params.validated_data["wait"]:
            observation = _wait_for_result(observation, request.user, params.validated_data["wait"])
        location = reverse("observation-detail", kwargs={"observation_id": observation.uuid}, request=request)
        final = observation.status in _FINAL
        headers = {"Location": location}
        if not final:
            headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        body = ObservationOutputSerializer(observation_result(observation)).data
        return Response(body, status=status.HTTP_200_OK if final else status.HTTP_202_ACCEPTED, headers=headers)


class ObservationDetailApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(parameters=[WaitSerializer], responses={200: ObservationOutputSerializer})
    def get(self, request, observation_id):
        params = WaitSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        observation = observation_for_user(user=request.user, observation_id=observation_id)
        if observation is None:
            return api_error(status.HTTP_404_NOT_FOUND, "not_found", "no such observation")
        if params.validated_data["wait"]:
            observation = _wait_for_result(observation, request.user, params.validated_data["wait"])
        headers = {} if observation.status in _FINAL else {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return Response(ObservationOutputSerializer(observation_result(observation)).data, headers=headers)
