"""Writes for accounts: register, log in (a new app token), log out (revoke it), revoke every token
of a user (a password change), the demo account's DRF token (replaced once it expires)."""

from __future__ import annotations

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from knox.models import get_token_model
from knox.settings import knox_settings
from rest_framework.authtoken.models import Token

from core.errors import ServiceError
from core.throttling import login_success_record


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
    user = authenticate(request, username=username, password=password)  # a failure is counted by a receiver
    if user is None or not user.is_active:
        raise WrongCredentials("unknown username or wrong password")
    login_success_record(request, username)
    return user


@transaction.atomic
def token_create(*, user):
    """A new expiring knox token: (row, plain key). The key is shown once; only its hash is kept.
    The user's expired tokens are deleted here (not on every authenticated request), and so are
    the oldest ones beyond TOKEN_LIMIT_PER_USER: a new login signs out the oldest app session.
    (knox's own LoginView refuses the login instead, which would lock out someone whose lost
    phones still hold tokens.) The user's row is locked so that concurrent logins count right."""
    list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
    tokens = get_token_model().objects.filter(user=user)
    tokens.filter(expiry__lt=timezone.now()).delete()
    limit = knox_settings.TOKEN_LIMIT_PER_USER
    if limit is not None:
        oldest = tokens.order_by("-created").values_list("pk", flat=True)[max(limit - 1, 0) :]
        get_token_model().objects.filter(pk__in=list(oldest)).delete()
    return get_token_model().objects.create(user=user, expiry=knox_settings.TOKEN_TTL)


def tokens_revoke_all(*, user) -> int:
    """Every app token (knox) and the DRF token of the user: what a password change implies."""
    knox_deleted, _ = get_token_model().objects.filter(user=user).delete()
    drf_deleted, _ = Token.objects.filter(user=user).delete()
    return knox_deleted + drf_deleted


def drf_token_current(*, user) -> Token:
    """The user's DRF token (the bootstrap's demo token), replaced by a new key once it has
    outlived the app tokens' TTL (accounts.authentication refuses it from then on)."""
    token = Token.objects.filter(user=user).first()
    if token is not None and token.created < timezone.now() - knox_settings.TOKEN_TTL:
        token.delete()
        token = None
    return token or Token.objects.create(user=user)


def token_revoke(*, auth) -> None:
    """Server-side revocation of the token the request came with (knox or DRF's)."""
    if auth is not None and hasattr(auth, "delete"):
        auth.delete()
