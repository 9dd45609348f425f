"""`manage.py contacts_report [--all] [--kingdom Animalia]`: whom each country with invasive records can
be told to call, by state: a verified local body, an unverified one (with its source), or the global fallback."""

from collections import Counter

from django.core.management.base import BaseCommand

from ranges.contacts import country_contact_coverage


class Command(BaseCommand):
    help = (
        "List countries with taxa recorded as invasive but no active contact (theirs or their states'), and count "
        "the countries by contact state: verified / unverified / fallback. Read-only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="every country with invasive records, covered or not")
        parser.add_argument("--kingdom", default=None, help='count only invasive taxa of this kingdom, e.g. "Animalia"')

    def handle(self, *args, all=False, kingdom=None, **options):
        with_records = [row for row in country_contact_coverage(kingdom=kingdom) if row.invasive_taxa]
        shown = with_records if all else [row for row in with_records if not row.contacts]
        self.stdout.write(
            f"{'code':<6} {'invasive taxa':>13} {'contacts':>8}  {'last verified':<13}  {'state':<10}  country"
        )
        for row in shown:
            verified = row.last_verified.isoformat() if row.last_verified else "-"
            self.stdout.write(
                f"{row.code:<6} {row.invasive_taxa:>13} {row.contacts:>8}  {verified:<13}  {row.state:<10}  {row.name}"
            )
        states = Counter(row.state for row in with_records)
        local = states["verified"] + states["unverified"]
        what = f"invasive {kingdom} records" if kingdom else "invasive records"
        self.stdout.write(
            f"{len(with_records)} countries with {what}: {local} with a local contact "
            f"(verified {states['verified']}, unverified {states['unverified']}), "
            f"{states['fallback']} without (fallback: their alerts name the global fallback)"
        )
