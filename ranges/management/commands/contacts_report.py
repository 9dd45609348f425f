"""`manage.py contacts_report [--all]`: the countries with invasive records but no contact to name."""

from django.core.management.base import BaseCommand

from ranges.selectors import country_contact_coverage


class Command(BaseCommand):
    help = "List countries with taxa recorded as invasive but no active contact (theirs or their states'). Read-only."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="every country with invasive records, covered or not")

    def handle(self, *args, all=False, **options):
        with_records = [row for row in country_contact_coverage() if row.invasive_taxa]
        covered = [row for row in with_records if row.contacts]
        shown = with_records if all else [row for row in with_records if not row.contacts]
        self.stdout.write(f"{'code':<6} {'invasive taxa':>13} {'contacts':>8}  {'last verified':<13}  country")
        for row in shown:
            verified = row.last_verified.isoformat() if row.last_verified else "-"
            self.stdout.write(f"{row.code:<6} {row.invasive_taxa:>13} {row.contacts:>8}  {verified:<13}  {row.name}")
        self.stdout.write(
            f"{len(with_records)} countries with invasive records: {len(covered)} with a local contact, "
            f"{len(with_records) - len(covered)} without (their alerts name the global fallback)"
        )
