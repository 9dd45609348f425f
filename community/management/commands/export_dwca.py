"""Write a Darwin Core Archive of the public feed (generalised coordinates for sensitive records)."""
from django.core.management.base import BaseCommand

from community.dwca import dwca_write


class Command(BaseCommand):
    help = "Export observations as a Darwin Core Archive (occurrence core + multimedia extension)."

    def add_arguments(self, parser):
        parser.add_argument("out", help="the .zip to write")
        parser.add_argument("--verified-only", action="store_true", help="only records confirmed by a reviewer")

    def handle(self, *args, out, verified_only=False, **options):
        count = dwca_write(out, verified_only=verified_only)
        self.stdout.write(f"wrote {count} occurrences to {out}")
