from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Registration, login, app tokens and the reviewer/curator roles."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in, user_login_failed
        from django.db.models.signals import pre_save

        from accounts import receivers

        pre_save.connect(
            receivers.revoke_tokens_on_password_change,
            sender=get_user_model(),
            dispatch_uid="accounts.revoke_tokens_on_password_change",
        )
        user_login_failed.connect(
            receivers.count_failed_password_check, dispatch_uid="accounts.count_failed_password_check"
        )
        user_logged_in.connect(receivers.remember_signed_in_address, dispatch_uid="accounts.remember_signed_in_address")
