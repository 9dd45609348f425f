"""Projects keep their frames to themselves unless they opt in (issue 23): existing frames leave the
public feed."""

from django.db import migrations, models


def unlist_existing_frames(apps, schema_editor):
    Observation = apps.get_model("observations", "Observation")
    Observation.objects.filter(camera_trap_media__isnull=False).update(listed_publicly=False)


class Migration(migrations.Migration):
    dependencies = [
        ("cameratraps", "0001_initial"),
        ("observations", "0007_observation_listed_publicly"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="frames_public",
            field=models.BooleanField(
                default=False, help_text="frames appear in the public feed and to anyone signed in"
            ),
        ),
        migrations.RunPython(unlist_existing_frames, migrations.RunPython.noop),
    ]
