from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Alert groups, deliveries, e-mail and signed webhooks to the local contacts."""

    name = "alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from alerts import receivers
        from community.signals import observation_verified
        from observations.signals import observation_classified

        observation_classified.connect(
            receivers.on_observation_classified, dispatch_uid="alerts.on_observation_classified"
        )
        observation_verified.connect(receivers.on_observation_verified, dispatch_uid="alerts.on_observation_verified")
