"""Accounts of the mobile app: registration, knox token login/logout, roles (owner, reviewer, curator)."""
from __future__ import annotations

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication as _KnoxAuthentication
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from rest_framework import exceptions

REVIEWERS_GROUP = "reviewers"
CURATORS_GROUP = "curators"


class KnoxTokenAuthentication(_KnoxAuthentication):
    """knox's scheme, except that a key knox has never issued falls through to the next class
    (DRF's own tokens: the bootstrap demo token), which answers 401 if it does not know it either."""

    def authenticate(self, request):
        parts = request.META.get("HTTP_AUTHORIZATION", "").split()
        if len(parts) == 2 and len(parts[1]) != len(knox_settings.TOKEN_PREFIX) + knox_settings.AUTH_TOKEN_CHARACTER_LENGTH:
            return None  # not the shape of a knox token (DRF's are 40 characters): no query
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            parts = request.META.get("HTTP_AUTHORIZATION", "").split()
            if len(parts) == 2 and not get_token_model().objects.filter(token_key=parts[1][: CONSTANTS.TOKEN_KEY_LENGTH]).exists():
                return None
            raise

    def _cleanup_token(self, auth_token) -> bool:
        """Refuse (and delete) this token if it has expired. knox's own version also reads every
        other token of the user on every request to delete their expired ones: a second query per
        request; token_create does that cleanup at login instead."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


def is_reviewer(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return user.is_superuser or user.groups.filter(name__in=[REVIEWERS_GROUP, CURATORS_GROUP]).exists()


def is_curator(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return user.is_superuser or user.groups.filter(name=CURATORS_GROUP).exists()


class AccountRejected(Exception):
    def __init__(self, fields: dict):
        super().__init__(str(fields))
        self.fields = fields


def user_register(*, username: str, password: str, email: str = ""):
    """A new app user (password checked by the project's validators)."""
    User = get_user_model()
    if User.objects.filter(username__iexact=username).exists():
        raise AccountRejected({"username": ["this username is taken"]})
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except Exception as exc:  # django's ValidationError carries the messages
        raise AccountRejected({"password": list(getattr(exc, "messages", [str(exc)]))}) from exc
    with transaction.atomic():
        candidate.set_password(password)
        candidate.save()
    return candidate


def user_authenticate(*, username: str, password: str, request=None):
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        raise AccountRejected({"non_field_errors": ["unknown username or wrong password"]})
    return user


def token_create(*, user):
    """A new expiring knox token: (row, plain key). The key is shown once; only its hash is kept.
    The user's expired tokens are deleted here (not on every authenticated request)."""
    get_token_model().objects.filter(user=user, expiry__lt=timezone.now()).delete()
    return get_token_model().objects.create(user=user, expiry=knox_settings.TOKEN_TTL)


def token_revoke(*, auth) -> None:
    """Server-side revocation of the token the request came with (knox or DRF's)."""
    if auth is not None and hasattr(auth, "delete"):
        auth.delete()


class KnoxTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes the app tokens (same header as DRF's tokens)."""

    target_class = "observations.accounts.KnoxTokenAuthentication"
    name = "knoxTokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization", "description": 'an app token from /api/v1/auth/login/, sent as "Token <key>"'}
