from django.apps import AppConfig


class RangesConfig(AppConfig):
    name = "ranges"
    verbose_name = "Ranges, regional statuses and contacts"
