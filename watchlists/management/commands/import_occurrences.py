"""python manage.py import_occurrences PATH [--dataset NAME]: a GBIF download (Darwin Core
Archive or simple tab-separated) or an iNaturalist CSV export, streamed, judged and matched."""

import json
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from watchlists.importing import IMPORT_BATCH, occurrences_import
from watchlists.occurrence_files import OccurrenceFileError


class Command(BaseCommand):
    help = "Import occurrences (GBIF DwC-A / simple download, iNaturalist CSV); idempotent on dataset + occurrenceID."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument(
            "--dataset",
            default="",
            help="the dataset name the records are kept under (default: each record's GBIF datasetKey, or 'inaturalist')",
        )
        parser.add_argument("--batch-size", type=int, default=IMPORT_BATCH, help="rows per chunk")

    def handle(self, *args, path, dataset, batch_size, **options):
        started = time.monotonic()
        # A progress bar on a terminal; silent when the output goes to a file or a test.
        with tqdm(unit=" rows", file=self.stderr._out, disable=None, mininterval=1.0) as bar:
            try:
                report = occurrences_import(path=path, dataset=dataset, progress=bar.update, batch_size=batch_size)
            except OccurrenceFileError as exc:
                raise CommandError(str(exc)) from exc
        elapsed = time.monotonic() - started
        summary = report.as_dict()
        summary["seconds"] = round(elapsed, 2)
        summary["rows_per_s"] = round(report.read / elapsed) if elapsed > 0 else None
        self.stdout.write(json.dumps(summary, sort_keys=True))
