"""The verdict's region codes, explanation and sources now live in OccurrenceVerdict (0003, 0004)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("watchlists", "0007_fill_occurrence_verdicts")]

    operations = [
        migrations.RemoveField(model_name="occurrence", name="verdict_explanation"),
        migrations.RemoveField(model_name="occurrence", name="verdict_region_codes"),
        migrations.RemoveField(model_name="occurrence", name="verdict_sources"),
    ]
