from django.apps import AppConfig


class SpeciesConfig(AppConfig):
    name = "species"
    verbose_name = "Species"
