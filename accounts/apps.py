from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Registration, login, app tokens and the reviewer/curator roles."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
