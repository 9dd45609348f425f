from django.db import migrations

from core.model_moves import content_types_moved

MODELS = ('modelversion',)


class Migration(migrations.Migration):
    """The tables taken over from observations get this app's names (rows kept)."""

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('classifier', '0001_initial'),
    ]

    operations = [
        migrations.AlterModelTable(
            name='modelversion',
            table=None,
        ),
        content_types_moved(models=MODELS, from_app="observations", to_app="classifier"),
    ]
