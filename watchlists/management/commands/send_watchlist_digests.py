"""python manage.py send_watchlist_digests --frequency daily (Celery beat runs it as a task)."""

from django.core.management.base import BaseCommand

from watchlists.models import Frequency
from watchlists.tasks import digests_publish


class Command(BaseCommand):
    help = "Send the digest e-mails of every watch list of one frequency and queue its subscribed webhooks' deliveries."

    def add_arguments(self, parser):
        parser.add_argument("--frequency", required=True, choices=[f for f in Frequency.values if f != Frequency.NEVER])

    def handle(self, *args, frequency, **options):
        run = digests_publish(frequency=frequency)
        hooks = f", {len(run.webhook_deliveries)} webhook delivery(ies) queued" if run.webhook_deliveries else ""
        self.stdout.write(f"{run.emails} digest e-mail(s) sent{hooks}")
