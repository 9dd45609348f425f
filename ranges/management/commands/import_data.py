"""`manage.py import_data FORMAT PATH... [--dry-run]`: one importer, a summary, non-zero on bad input."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ranges.importers import FORMATS, ImportConfig, data_import
from ranges.importers.report import ImportInputError


class Command(BaseCommand):
    help = "Import range, region, register or taxonomy data. Idempotent: re-running changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("format", choices=sorted(FORMATS))
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="read and validate everything, write nothing")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, format, paths, dry_run=False, no_progress=False, **options):
        config = ImportConfig(fmt=format, paths=tuple(paths), dry_run=dry_run, progress=not no_progress)
        try:
            report = data_import(config)
        except ImportInputError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.summary_lines():
            self.stdout.write(line)
