from django.apps import AppConfig


class ObservationsConfig(AppConfig):
    """Uploads, photos, EXIF, the classification step, predictions, verdicts and ?wait."""

    name = "observations"
    default_auto_field = "django.db.models.BigAutoField"
