"""Thin views: upload a photo, read the result; accounts, feed, identifications, review, export."""
import io

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.exceptions import NotAuthenticated
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from backend.errors import api_error
from backend.throttling import UploadRateThrottle
from observations.models import Observation
from observations.accounts import AccountRejected, token_create, token_revoke, user_authenticate, user_register
from observations.dwca import dwca_write
from observations.identifications import ReviewRejected, identification_add, observation_review
from observations.pagination import BoundedPagination
from observations.permissions import IsReviewer
from observations.photos import photo_derivative, photo_link_valid
from observations.selectors import (
    identifications_for,
    observation_citizen_science,
    observation_for_user,
    observation_for_viewer,
    observation_list_for_owner,
    observation_public,
    observation_result,
    observation_job_state,
    observation_visible,
    public_observations,
    review_queue,
)
from observations.serializers import (
    IdentificationInputSerializer,
    IdentificationsOutputSerializer,
    LoginInputSerializer,
    ObservationPageSerializer,
    PublicObservationOutputSerializer,
    RegisterInputSerializer,
    ReviewInputSerializer,
    ReviewQueueInputSerializer,
    TokenOutputSerializer,
    ObservationDetailOutputSerializer,
    ObservationInputSerializer,
    ObservationOutputSerializer,
    ObservationUpdateInputSerializer,
    WaitSerializer,
)
from species.selectors import taxon_by_key_or_id
from observations.services import UploadRejected, observation_create, observation_delete, observation_set_geoprivacy
from observations.waiting import FINAL, wait_for_final_status

RETRY_AFTER_SECONDS = 2


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
        operation_id="observations_list_mine",
        parameters=[OpenApiParameter("limit", int, description="page size (max 200)"), OpenApiParameter("offset", int)],
        responses={200: ObservationPageSerializer},
    )
    def get(self, request):
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(observation_list_for_owner(user=request.user), request, view=self)
        return paginator.get_paginated_response(ObservationDetailOutputSerializer([_detail(o) for o in page], many=True).data)

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
        final = observation.status in FINAL
        headers = {"Location": location}
        if not final:
            headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        body = ObservationOutputSerializer(observation_result(observation)).data
        return Response(body, status=status.HTTP_200_OK if final else status.HTTP_202_ACCEPTED, headers=headers)


class ObservationDetailApi(APIView):
    """The owner's observation (reviewers may read any); for everyone else it does not exist (404)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(parameters=[WaitSerializer], responses={200: ObservationDetailOutputSerializer, 404: OpenApiResponse(description="not yours")})
    def get(self, request, observation_id):
        params = WaitSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        if params.validated_data["wait"]:
            # Owners may wait: a light read of the job's state, the wait, then one full read.
            job = observation_job_state(user=request.user, observation_id=observation_id)
            if job is not None and job[1] not in FINAL:
                wait_for_final_status(job[0], params.validated_data["wait"], holder=request.user.pk)
        observation = observation_for_viewer(user=request.user, observation_id=observation_id)
        if observation is None:
            return api_error(status.HTTP_404_NOT_FOUND, "not_found", "no such observation")
        headers = {} if observation.status in FINAL else {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return Response(ObservationDetailOutputSerializer(_detail(observation)).data, headers=headers)

    @extend_schema(request=ObservationUpdateInputSerializer, responses={200: ObservationDetailOutputSerializer, 404: OpenApiResponse(description="not yours")})
    def patch(self, request, observation_id):
        observation = observation_for_user(user=request.user, observation_id=observation_id)
        if observation is None:
            return api_error(status.HTTP_404_NOT_FOUND, "not_found", "no such observation")
        data = ObservationUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        observation = observation_set_geoprivacy(observation=observation, geoprivacy=data.validated_data["geoprivacy"])
        return Response(ObservationDetailOutputSerializer(_detail(observation)).data)

    @extend_schema(responses={204: None, 404: OpenApiResponse(description="not yours")})
    def delete(self, request, observation_id):
        observation = observation_for_user(user=request.user, observation_id=observation_id)
        if observation is None:
            return api_error(status.HTTP_404_NOT_FOUND, "not_found", "no such observation")
        observation_delete(observation=observation)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _detail(observation) -> dict:
    return {**observation_result(observation), "citizen_science": observation_citizen_science(observation)}


# --- Accounts (knox tokens; the mobile client's contract) ---------------------------------------

def _token_response(user, http_status):
    instance, key = token_create(user=user)
    body = {"token": key, "expiry": instance.expiry, "user": {"id": user.pk, "username": user.username}}
    return Response(TokenOutputSerializer(body).data, status=http_status)


class RegisterApi(APIView):
    authentication_classes = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=RegisterInputSerializer, responses={201: TokenOutputSerializer, 400: OpenApiResponse(description="invalid or taken")})
    def post(self, request):
        data = RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            user = user_register(**data.validated_data)
        except AccountRejected as exc:
            return api_error(status.HTTP_400_BAD_REQUEST, "invalid", "the request has invalid fields", fields=exc.fields)
        return _token_response(user, status.HTTP_201_CREATED)


class LoginApi(APIView):
    authentication_classes = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=LoginInputSerializer, responses={200: TokenOutputSerializer, 400: OpenApiResponse(description="wrong credentials")})
    def post(self, request):
        data = LoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            user = user_authenticate(request=request, **data.validated_data)
        except AccountRejected as exc:
            return api_error(status.HTTP_400_BAD_REQUEST, "invalid_credentials", "unknown username or wrong password", fields=exc.fields)
        return _token_response(user, status.HTTP_200_OK)


class LogoutApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        token_revoke(auth=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Public feed ------------------------------------------------------------------------------

class FeedApi(APIView):
    """Finished observations, public fields only, coordinates generalised for sensitive records."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: PublicObservationOutputSerializer(many=True)})
    def get(self, request):
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(public_observations(), request, view=self)
        return paginator.get_paginated_response(PublicObservationOutputSerializer([observation_public(o) for o in page], many=True).data)


class FeedDetailApi(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: PublicObservationOutputSerializer, 404: OpenApiResponse(description="not public")})
    def get(self, request, observation_id):
        observation = public_observations().filter(uuid=observation_id).first()
        if observation is None:
            return api_error(status.HTTP_404_NOT_FOUND, "not_found", "no such observation")
        return Response(PublicObservationOutputSerializer(observation_public(observation)).data)


# --- Identifications and review ---------------------------------------------------------------

def _taxon_or_error(value):
    taxon = taxon_by_key_or_id(str(value))
    if taxon is None:
        return None, api_error(status.HTTP_400_BAD_REQUEST, "invalid", "unknown taxon", fields={"taxon": ["unknown taxon"]})
    return taxon, None


class IdentificationListApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: IdentificationsOutputSerializer, 404: OpenApiResponse(description="not visible")})
    def get(self, request, observation_id):
        observation = observation_visible(user=request.user, observation_id=observation_id)
        if observation is None:
            return api_error(status.HTTP_404_NOT_FOUND, "not_found", "no such observation")
        body = {"community_taxon": observation.community_taxon, "identifications": identifications_for(observation=observation)}
        return Response(IdentificationsOutputSerializer(body).data)

    @extend_schema(request=IdentificationInputSerializer, responses={201: IdentificationsOutputSerializer, 404: OpenApiResponse(description="not visible")})
    def post(self, request, observation_id):
        observation = observation_visible(user=request.user, observation_id=observation_id)
        if observation is None:
            return api_error(status.HTTP_404_NOT_FOUND, "not_found", "no such observation")
        data = IdentificationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data.get("agree_with"):
            other = identifications_for(observation=observation).filter(pk=data.validated_data["agree_with"]).first()
            if other is None:
                return api_error(status.HTTP_400_BAD_REQUEST, "invalid", "no such identification", fields={"agree_with": ["no such identification on this observation"]})
            taxon = other.taxon
        else:
            taxon, error = _taxon_or_error(data.validated_data["taxon"])
            if error:
                return error
        identification_add(observation=observation, user=request.user, taxon=taxon, body=data.validated_data["body"])
        observation.refresh_from_db()
        body = {"community_taxon": observation.community_taxon, "identifications": identifications_for(observation=observation)}
        return Response(IdentificationsOutputSerializer(body).data, status=status.HTTP_201_CREATED)


class ReviewApi(APIView):
    """A reviewer confirms or rejects; confirming an alert verdict notifies the local contacts."""

    permission_classes = [permissions.IsAuthenticated, IsReviewer]

    @extend_schema(request=ReviewInputSerializer, responses={200: ObservationDetailOutputSerializer, 403: OpenApiResponse(description="not a reviewer")})
    def post(self, request, observation_id):
        observation = observation_for_viewer(user=request.user, observation_id=observation_id)
        if observation is None:
            return api_error(status.HTTP_404_NOT_FOUND, "not_found", "no such observation")
        data = ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        taxon = None
        if data.validated_data.get("taxon"):
            taxon, error = _taxon_or_error(data.validated_data["taxon"])
            if error:
                return error
        try:
            observation_review(observation=observation, reviewer=request.user, decision=data.validated_data["decision"], taxon=taxon, note=data.validated_data["note"])
        except ReviewRejected as exc:
            return api_error(status.HTTP_400_BAD_REQUEST, exc.code, exc.detail)
        observation = observation_for_viewer(user=request.user, observation_id=observation_id)
        return Response(ObservationDetailOutputSerializer(_detail(observation)).data)


class ReviewQueueApi(APIView):
    permission_classes = [permissions.IsAuthenticated, IsReviewer]

    @extend_schema(parameters=[ReviewQueueInputSerializer], responses={200: ObservationDetailOutputSerializer(many=True)})
    def get(self, request):
        params = ReviewQueueInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(review_queue(**params.validated_data), request, view=self)
        return paginator.get_paginated_response(ObservationDetailOutputSerializer([_detail(o) for o in page], many=True).data)


# --- Photo and export -------------------------------------------------------------------------

class ObservationPhotoApi(APIView):
    """The EXIF-stripped derivative (never the original): for whoever may see the observation, or
    anyone holding a signed link from an alert (`?sig=`)."""

    authentication_classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY, 401: OpenApiResponse(description="log in or use a signed link")})
    def get(self, request, observation_id):
        sig = request.query_params.get("sig", "")
        if sig:
            observation = Observation.objects.filter(uuid=observation_id).first()
            if observation is None or not photo_link_valid(observation=observation, sig=sig):
                return api_error(status.HTTP_404_NOT_FOUND, "not_found", "no such photo, or the link expired")
        else:
            if not request.user.is_authenticated:
                raise NotAuthenticated()
            observation = observation_visible(user=request.user, observation_id=observation_id)
            if observation is None:
                return api_error(status.HTTP_404_NOT_FOUND, "not_found", "no such observation")
        response = HttpResponse(photo_derivative(observation=observation), content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=3600"
        return response


class DwcaExportApi(APIView):
    permission_classes = [permissions.IsAuthenticated, IsReviewer]

    @extend_schema(parameters=[OpenApiParameter("verified_only", bool)], responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request):
        buf = io.BytesIO()
        dwca_write(buf, verified_only=request.query_params.get("verified_only", "").lower() in ("1", "true", "yes"))
        response = HttpResponse(buf.getvalue(), content_type="application/zip")
        response["Content-Disposition"] = 'attachment; filename="rangewatch-dwca.zip"'
        return response
