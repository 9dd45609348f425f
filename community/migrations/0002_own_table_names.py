from django.db import migrations

from core.model_moves import content_types_moved

MODELS = ('identification', 'review')


class Migration(migrations.Migration):
    """The tables taken over from observations get this app's names (rows kept)."""

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('community', '0001_initial'),
    ]

    operations = [
        migrations.AlterModelTable(
            name='identification',
            table=None,
        ),
        migrations.AlterModelTable(
            name='review',
            table=None,
        ),
        content_types_moved(models=MODELS, from_app="observations", to_app="community"),
    ]
