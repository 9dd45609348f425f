"""Thin views for the mobile client's accounts: register, log in, log out (knox app tokens)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import LoginInputSerializer, RegisterInputSerializer, TokenOutputSerializer
from accounts.services import token_create, token_revoke, user_authenticate, user_register
from core.throttling import LOGIN_THROTTLES, REGISTER_THROTTLES


def _token_response(user, http_status):
    instance, key = token_create(user=user)
    body = {"token": key, "expiry": instance.expiry, "user": {"id": user.pk, "username": user.username}}
    return Response(TokenOutputSerializer(body).data, status=http_status)


class RegisterApi(APIView):
    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = REGISTER_THROTTLES

    @extend_schema(
        tags=["accounts"],
        request=RegisterInputSerializer,
        responses={201: TokenOutputSerializer, 400: OpenApiResponse(description="invalid or taken")},
    )
    def post(self, request):
        data = RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _token_response(user_register(**data.validated_data), status.HTTP_201_CREATED)


class LoginApi(APIView):
    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = LOGIN_THROTTLES

    @extend_schema(
        tags=["accounts"],
        request=LoginInputSerializer,
        responses={200: TokenOutputSerializer, 400: OpenApiResponse(description="wrong credentials")},
    )
    def post(self, request):
        data = LoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _token_response(user_authenticate(request=request, **data.validated_data), status.HTTP_200_OK)


class LogoutApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(tags=["accounts"], request=None, responses={204: None})
    def post(self, request):
        token_revoke(auth=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)
