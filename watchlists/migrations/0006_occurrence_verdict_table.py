"""Issue 26: the verdict's text moves to a table of distinct verdicts (OccurrenceVerdict) that the
records point to, and Occurrence.taxon loses its foreign-key constraint in the database (the
import's commit checked it row by row). 0004 fills the new column, 0005 drops the old ones."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("species", "0004_taxon_kingdom_unique"),
        ("watchlists", "0005_drop_point_gist"),
    ]

    operations = [
        migrations.CreateModel(
            name="OccurrenceVerdict",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("status", models.CharField(blank=True, max_length=16)),
                ("region_codes", models.JSONField(default=list)),
                ("explanation", models.TextField(blank=True)),
                ("sources", models.JSONField(default=list)),
                (
                    "content_sha1",
                    models.CharField(help_text="verdict_content_sha1 of the rest", max_length=40, unique=True),
                ),
            ],
        ),
        migrations.AlterField(
            model_name="occurrence",
            name="taxon",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="species.taxon",
            ),
        ),
        migrations.AlterField(
            model_name="occurrence",
            name="verdict_status",
            field=models.CharField(blank=True, help_text="a copy of verdict.status, for filters", max_length=16),
        ),
        migrations.AddField(
            model_name="occurrence",
            name="verdict",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="watchlists.occurrenceverdict",
            ),
        ),
    ]
