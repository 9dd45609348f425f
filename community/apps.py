from django.apps import AppConfig


class CommunityConfig(AppConfig):
    """Identifications, consensus, expert review, the public feed and Darwin Core export."""

    name = "community"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Plug into the upstream apps' extension points (they never import this app).
        from classifier.training import training_source_register
        from community.selectors import identification_taxa, reviewed_training_records
        from observations.selectors import record_taxa_providers

        record_taxa_providers.append(identification_taxa)
        training_source_register("reviewed observations", reviewed_training_records)
