"""`manage.py build_region_outlines [--rebuild]`: store the maps' simplified region outlines."""

from django.core.management.base import BaseCommand

from ranges.outlines import region_outlines_build


class Command(BaseCommand):
    help = (
        "Store every region's outline at each map tolerance (maps read these instead of simplifying whole "
        "outlines per request). Imports keep them current; run this once on a database from before them. "
        "Only missing or outdated outlines are built unless --rebuild."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", help="rebuild every region's outlines")

    def handle(self, *args, rebuild=False, **options):
        def progress(done, total):
            if done == total or done % 500 == 0:
                self.stdout.write(f"  {done}/{total} regions")

        built = region_outlines_build(rebuild=rebuild, progress=progress)
        self.stdout.write(f"region outlines: {built['regions']} regions built in {built['seconds']} s")
