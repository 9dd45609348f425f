from django.db import migrations, models


class Migration(migrations.Migration):
    """ModelVersion, taken over from observations with its table and rows (observations 0003)."""


    initial = True

    dependencies = [
        ('observations', '0002_citizen_science'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ModelVersion',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=200, unique=True)),
                        ('arch', models.CharField(max_length=40)),
                        ('path', models.CharField(max_length=500)),
                        ('sha256', models.CharField(max_length=64)),
                        ('num_labels', models.PositiveIntegerField()),
                        ('metrics', models.JSONField(blank=True, default=dict)),
                        ('is_active', models.BooleanField(default=False)),
                        ('created', models.DateTimeField(auto_now_add=True)),
                        ('activated', models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        'db_table': 'observations_modelversion',
                        'constraints': [models.UniqueConstraint(condition=models.Q(('is_active', True)), fields=('is_active',), name='one_active_model')],
                    },
                ),
            ],
            database_operations=[],  # the tables exist already: only the model state moves
        ),
    ]
