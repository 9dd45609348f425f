"""Recompute every community taxon under today's rules (dry run unless --apply)."""

from django.core.management.base import BaseCommand

from community.services import community_taxa_recompute


class Command(BaseCommand):
    help = "Recompute community taxa (e.g. after the track-record rule: undo what throw-away accounts set). Dry run by default."

    def add_arguments(self, parser):
        parser.add_argument(
            "--apply", action="store_true", help="store the recomputed taxa (default: only list the changes)"
        )

    def handle(self, *args, apply=False, **options):
        changes = community_taxa_recompute(apply=apply)
        for change in changes:
            self.stdout.write(f"{change.observation}: {change.before or '-'} -> {change.after or '-'}")
        self.stdout.write(
            f"{len(changes)} community taxa {'changed' if apply else 'would change (dry run; --apply to store)'}"
        )
