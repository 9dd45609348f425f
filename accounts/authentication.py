"""How app tokens authenticate: knox, one query per request, plus its OpenAPI description."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication as _KnoxAuthentication
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication


class KnoxTokenAuthentication(_KnoxAuthentication):
    """knox's scheme, except that a key knox has never issued falls through to the next class
    (DRF's own tokens: the bootstrap demo token), which answers 401 if it does not know it either."""

    def authenticate(self, request):
        parts = request.META.get("HTTP_AUTHORIZATION", "").split()
        if (
            len(parts) == 2
            and len(parts[1]) != len(knox_settings.TOKEN_PREFIX) + knox_settings.AUTH_TOKEN_CHARACTER_LENGTH
        ):
            return None  # not the shape of a knox token (DRF's are 40 characters): no query
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            parts = request.META.get("HTTP_AUTHORIZATION", "").split()
            if (
                len(parts) == 2
                and not get_token_model().objects.filter(token_key=parts[1][: CONSTANTS.TOKEN_KEY_LENGTH]).exists()
            ):
                return None
            raise

    def _cleanup_token(self, auth_token) -> bool:
        """Refuse (and delete) this token if it has expired. knox's own version also reads every
        other token of the user on every request to delete their expired ones: a second query per
        request; accounts.services.token_create does that cleanup at login instead."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


class ExpiringDrfTokenAuthentication(TokenAuthentication):
    """DRF's own tokens (the bootstrap's demo token) expire like the app tokens: older than knox's
    TOKEN_TTL is refused (bootstrap then hands out a new one, accounts.services.drf_token_current)."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token.created < timezone.now() - knox_settings.TOKEN_TTL:
            raise exceptions.AuthenticationFailed("token expired: log in again")
        return user, token


class KnoxTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes the app tokens (same header as DRF's tokens)."""

    target_class = "accounts.authentication.KnoxTokenAuthentication"
    name = "knoxTokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'an app token from /api/v1/auth/login/, sent as "Token <key>"',
        }
