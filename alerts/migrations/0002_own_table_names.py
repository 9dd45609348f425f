from django.db import migrations

from core.model_moves import content_types_moved

MODELS = ('contactwebhook', 'alertgroup', 'alertdelivery')


class Migration(migrations.Migration):
    """The tables taken over from observations get this app's names (rows kept)."""

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('alerts', '0001_initial'),
    ]

    operations = [
        migrations.AlterModelTable(
            name='alertdelivery',
            table=None,
        ),
        migrations.AlterModelTable(
            name='alertgroup',
            table=None,
        ),
        migrations.AlterModelTable(
            name='contactwebhook',
            table=None,
        ),
        content_types_moved(models=MODELS, from_app="observations", to_app="alerts"),
    ]
