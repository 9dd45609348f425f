from django.apps import AppConfig


class CommunityConfig(AppConfig):
    """Identifications, consensus, expert review, the public feed and Darwin Core export."""

    name = "community"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Answer what the upstream apps ask, through their signals (they never import this app).
        from classifier.signals import training_sources_requested
        from community import receivers
        from observations.signals import record_taxa_requested

        record_taxa_requested.connect(
            receivers.record_taxa_of_identifications, dispatch_uid="community.record_taxa_of_identifications"
        )
        training_sources_requested.connect(
            receivers.offer_reviewed_training_records, dispatch_uid="community.offer_reviewed_training_records"
        )
