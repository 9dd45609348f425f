"""`manage.py build_photo_derivatives [--dry-run]`: the served copy for observations classified before
the worker built it (run once after upgrading; /photo/ never decodes a photo itself)."""

from django.core.management.base import BaseCommand

from observations.photos import photo_derivatives_backfill


class Command(BaseCommand):
    help = "Build the missing served copies (EXIF-stripped JPEGs) of finished observations."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count the missing copies, write nothing")

    def handle(self, *args, dry_run=False, **options):
        missing, built = photo_derivatives_backfill(dry_run=dry_run)
        self.stdout.write(f"{missing} finished observations had no served photo; built {built}")
