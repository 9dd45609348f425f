"""python manage.py send_watchlist_digests --frequency daily (Celery beat runs it as a task)."""

from django.core.management.base import BaseCommand

from watchlists.digests import digests_send
from watchlists.models import Frequency


class Command(BaseCommand):
    help = "Send the digest e-mails of every watch list of one frequency."

    def add_arguments(self, parser):
        parser.add_argument("--frequency", required=True, choices=[f for f in Frequency.values if f != Frequency.NEVER])

    def handle(self, *args, frequency, **options):
        sent = digests_send(frequency=frequency)
        self.stdout.write(f"{sent} digest e-mail(s) sent")
