"""Set up a fresh installation (idempotent): regions, the starter pack, the starter model, a demo user."""

import time

from django.core.management.base import BaseCommand

from backend.installation import installation_bootstrap


class Command(BaseCommand):
    help = "Load regions, the starter pack and the starter model, and create the demo user. Safe to re-run."

    def add_arguments(self, parser):
        parser.add_argument(
            "--skip-counties", action="store_true", help="countries and states only (faster; for tests)"
        )
        parser.add_argument("--skip-model", action="store_true", help="do not build the starter model artifact")

    def handle(self, *args, skip_counties=False, skip_model=False, **options):
        started = time.perf_counter()
        demo = installation_bootstrap(counties=not skip_counties, model=not skip_model, log=self.stdout.write)
        self.stdout.write(self.style.SUCCESS(f"bootstrap done in {time.perf_counter() - started:.1f}s"))
        password = (
            demo.password or "unchanged since it was first printed (reset it with `manage.py changepassword demo`)"
        )
        self.stdout.write(f"demo user: {demo.username}  password: {password}  API token: {demo.token}")
