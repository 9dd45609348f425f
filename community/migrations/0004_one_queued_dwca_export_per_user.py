"""One queued Darwin Core Archive export per user (issue 23). Exports queued twice or more before
this rule: the newest stays queued, the older ones are failed with the reason (ask again)."""

from django.conf import settings
from django.db import migrations, models


def fail_older_duplicates(apps, schema_editor):
    DwcaExport = apps.get_model("community", "DwcaExport")
    seen = set()
    for export in DwcaExport.objects.filter(status="queued").order_by("requested_by_id", "-created", "-id"):
        if export.requested_by_id in seen:
            DwcaExport.objects.filter(pk=export.pk).update(
                status="failed", failure="superseded: one export per user is written at a time; ask again"
            )
        seen.add(export.requested_by_id)


class Migration(migrations.Migration):
    dependencies = [
        ("community", "0003_dwca_export_jobs"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(fail_older_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="dwcaexport",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "queued")),
                fields=("requested_by",),
                name="one_queued_dwca_export_per_user",
            ),
        ),
    ]
