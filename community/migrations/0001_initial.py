import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """Identification and Review, taken over from observations with their tables and rows."""


    initial = True

    dependencies = [
        ('observations', '0003_models_moved_to_their_apps'),
        ('species', '0002_taxonsynonym_source_label_url_note'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Review',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('decision', models.CharField(choices=[('confirm', 'Confirm'), ('reject', 'Reject')], max_length=8)),
                        ('note', models.TextField(blank=True)),
                        ('created', models.DateTimeField(auto_now_add=True)),
                        ('observation', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='reviews', to='observations.observation')),
                        ('reviewer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='reviews', to=settings.AUTH_USER_MODEL)),
                        ('taxon', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='species.taxon')),
                    ],
                    options={
                        'db_table': 'observations_review',
                        'ordering': ['created', 'id'],
                    },
                ),
                migrations.CreateModel(
                    name='Identification',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('body', models.TextField(blank=True)),
                        ('is_current', models.BooleanField(default=True)),
                        ('created', models.DateTimeField(auto_now_add=True)),
                        ('observation', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='identifications', to='observations.observation')),
                        ('taxon', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='species.taxon')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='identifications', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'observations_identification',
                        'ordering': ['created', 'id'],
                        'constraints': [models.UniqueConstraint(condition=models.Q(('is_current', True)), fields=('observation', 'user'), name='one_current_identification_per_user')],
                    },
                ),
            ],
            database_operations=[],  # the tables exist already: only the model state moves
        ),
    ]
