"""python manage.py reverdict_occurrences [--taxon NAME ...]: judge imported records again after a
register or range import, and move them into or out of the watch lists."""

import json

from django.core.management.base import BaseCommand, CommandError

from species.selectors import taxon_by_key_or_id
from watchlists.importing import occurrences_reverdict


class Command(BaseCommand):
    help = "Recompute the verdicts of imported occurrences and re-match the changed ones."

    def add_arguments(self, parser):
        parser.add_argument("--taxon", action="append", default=[])

    def handle(self, *args, taxon, **options):
        ids = None
        if taxon:
            found = [taxon_by_key_or_id(t) for t in taxon]
            if None in found:
                raise CommandError(f"unknown taxon among {taxon}")
            ids = [t.pk for t in found]
        self.stdout.write(json.dumps(occurrences_reverdict(taxon_ids=ids), sort_keys=True))
