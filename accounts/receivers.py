"""How accounts react to changes of the user row (connected in AccountsConfig.ready())."""

from __future__ import annotations

from accounts.services import tokens_revoke_all
from core.throttling import login_failure_record, login_success_record


def revoke_tokens_on_password_change(sender, *, instance, update_fields=None, **kwargs) -> None:
    """A new password signs out every app: whoever stole a token (or the password) loses it.
    On the user model's pre_save, so every path is covered: the admin, `changepassword`,
    set_password() + save() in any service. Saves that leave the password alone cost nothing."""
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        tokens_revoke_all(user=instance)


def count_failed_password_check(sender, *, credentials, request=None, **kwargs) -> None:
    """Only `authenticate()` sends this, so only real password checks are counted (not tries that a
    throttle refused before any hash was computed): the growing login delays (core.throttling)."""
    login_failure_record(request, credentials.get("username"))


def remember_signed_in_address(sender, *, request, user, **kwargs) -> None:
    """A session login (the admin's form): the address is known to the account from now on."""
    login_success_record(request, user.get_username())
