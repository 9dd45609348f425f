from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _taxonomy_written(sender, **kwargs) -> None:
    from species.services import taxonomy_changed  # services import the models: not at app loading

    taxonomy_changed()


class SpeciesConfig(AppConfig):
    name = "species"
    verbose_name = "Species"

    def ready(self):
        # Every instance write of a taxon or synonym (admin, shell, services) moves the taxonomy
        # version, so no process keeps a taxon tree without it; bulk writes bump it themselves.
        from species.models import Taxon, TaxonSynonym

        for model in (Taxon, TaxonSynonym):
            post_save.connect(_taxonomy_written, sender=model, dispatch_uid=f"taxonomy-{model.__name__}-saved")
            post_delete.connect(_taxonomy_written, sender=model, dispatch_uid=f"taxonomy-{model.__name__}-deleted")
