"""Write a Darwin Core Archive of the public feed's animal records (generalised coordinates for sensitive records)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from community.dwca import ExportConfigError, dwca_write


class Command(BaseCommand):
    help = "Export animal observations as a Darwin Core Archive (occurrence core + multimedia extension + EML)."

    def add_arguments(self, parser):
        parser.add_argument("out", help="the .zip to write")
        parser.add_argument("--verified-only", action="store_true", help="only records confirmed by a reviewer")

    def handle(self, *args, out, verified_only=False, **options):
        try:
            summary = dwca_write(out, verified_only=verified_only)
        except ExportConfigError as exc:
            raise CommandError(str(exc)) from exc
        left_out = ", ".join(f"{count} {reason}" for reason, count in sorted(summary.left_out.items())) or "none"
        self.stdout.write(
            f"wrote {summary.occurrences} occurrences and {summary.media} photo links to {out}; left out: {left_out}"
        )
        if summary.media_withheld:
            self.stderr.write(f"no photo links: {summary.media_withheld}")
        if not settings.RANGEWATCH_DWCA_CONTACT_EMAIL:
            self.stderr.write("eml.xml names no contact e-mail: set RANGEWATCH_DWCA_CONTACT_EMAIL before publishing")
