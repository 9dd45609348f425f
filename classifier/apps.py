from django.apps import AppConfig


class ClassifierConfig(AppConfig):
    """The Django side of the model (over ml/): model versions, activation, the worker's
    inference glue and `manage.py train_classifier`."""

    name = "classifier"
    default_auto_field = "django.db.models.BigAutoField"
