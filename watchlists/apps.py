from django.apps import AppConfig


class WatchlistsConfig(AppConfig):
    """Watch lists for the people who manage invasions: areas x taxa (or a rule), every record
    (uploads, camera-trap frames, imported occurrences) matched as it arrives or changes, triage,
    digests. Downstream of observations, community and cameratraps: they announce, this reacts."""

    name = "watchlists"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from community.signals import observation_rejected, observation_verified
        from observations.signals import observation_classified
        from watchlists import receivers

        observation_classified.connect(receivers.on_observation_changed, dispatch_uid="watchlists.classified")
        observation_verified.connect(receivers.on_observation_changed, dispatch_uid="watchlists.verified")
        observation_rejected.connect(receivers.on_observation_changed, dispatch_uid="watchlists.rejected")
