import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Hand the model versions, identifications, reviews and alerts to their own apps (classifier,
    community, alerts). State only: their tables keep their rows; the new apps rename them."""


    dependencies = [
        ('classifier', '0001_initial'),
        ('observations', '0002_citizen_science'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='alertgroup',
                    name='observations',
                ),
                migrations.RemoveField(
                    model_name='alertgroup',
                    name='taxon',
                ),
                migrations.RemoveField(
                    model_name='contactwebhook',
                    name='contact',
                ),
                migrations.RemoveField(
                    model_name='identification',
                    name='observation',
                ),
                migrations.RemoveField(
                    model_name='identification',
                    name='taxon',
                ),
                migrations.RemoveField(
                    model_name='identification',
                    name='user',
                ),
                migrations.AlterField(
                    model_name='prediction',
                    name='model_version',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='predictions', to='classifier.modelversion'),
                ),
                migrations.RemoveField(
                    model_name='review',
                    name='observation',
                ),
                migrations.RemoveField(
                    model_name='review',
                    name='reviewer',
                ),
                migrations.RemoveField(
                    model_name='review',
                    name='taxon',
                ),
                migrations.DeleteModel(
                    name='AlertDelivery',
                ),
                migrations.DeleteModel(
                    name='AlertGroup',
                ),
                migrations.DeleteModel(
                    name='ContactWebhook',
                ),
                migrations.DeleteModel(
                    name='Identification',
                ),
                migrations.DeleteModel(
                    name='ModelVersion',
                ),
                migrations.DeleteModel(
                    name='Review',
                ),
            ],
            database_operations=[],  # the tables exist already: only the model state moves
        ),
    ]
