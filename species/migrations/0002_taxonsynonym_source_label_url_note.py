"""TaxonSynonym: the old URL `source` becomes `source_url`; `source` is now a label
("MDD v1.13", "RangeWatch starter pack: synonyms"); a free-text `note`."""
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("species", "0001_initial"),
    ]

    operations = [
        migrations.RenameField(model_name="taxonsynonym", old_name="source", new_name="source_url"),
        migrations.AddField(
            model_name="taxonsynonym",
            name="source",
            field=models.CharField(blank=True, help_text='e.g. "MDD v1.13" or "RangeWatch starter pack: synonyms"', max_length=200),
        ),
        migrations.AddField(
            model_name="taxonsynonym",
            name="note",
            field=models.CharField(blank=True, max_length=500),
        ),
    ]
