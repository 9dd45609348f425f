"""Writes for accounts: register, log in (a new app token), log out (revoke it)."""
from __future__ import annotations

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from knox.models import get_token_model
from knox.settings import knox_settings

from backend.errors import ServiceError


class AccountRejected(ServiceError):
    code = "invalid"


class WrongCredentials(ServiceError):
    code = "invalid_credentials"


def user_register(*, username: str, password: str, email: str = ""):
    """A new app user (password checked by the project's validators)."""
    User = get_user_model()
    if User.objects.filter(username__iexact=username).exists():
        raise AccountRejected("this username is taken", fields={"username": ["this username is taken"]})
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise AccountRejected("the password is too weak", fields={"password": list(exc.messages)}) from exc
    with transaction.atomic():
        candidate.set_password(password)
        candidate.save()
    return candidate


def user_authenticate(*, username: str, password: str, request=None):
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        raise WrongCredentials("unknown username or wrong password")
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
