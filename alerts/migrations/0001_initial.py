import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """ContactWebhook, AlertGroup and AlertDelivery, taken over from observations with their tables and rows."""


    initial = True

    dependencies = [
        ('observations', '0003_models_moved_to_their_apps'),
        ('ranges', '0002_groups_provenance_geofence'),
        ('species', '0002_taxonsynonym_source_label_url_note'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AlertGroup',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('region_code', models.CharField(max_length=16)),
                        ('day', models.DateField()),
                        ('level', models.CharField(choices=[('possible', 'Possible'), ('alert', 'Alert'), ('urgent', 'Urgent')], default='alert', max_length=10)),
                        ('reason', models.CharField(help_text='verified or watch_list', max_length=20)),
                        ('created', models.DateTimeField(auto_now_add=True)),
                        ('observations', models.ManyToManyField(related_name='alert_groups', to='observations.observation')),
                        ('taxon', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='species.taxon')),
                    ],
                    options={
                        'db_table': 'observations_alertgroup',
                    },
                ),
                migrations.CreateModel(
                    name='ContactWebhook',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('url', models.URLField(max_length=500)),
                        ('secret', models.CharField(max_length=200)),
                        ('is_active', models.BooleanField(default=True)),
                        ('contact', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='webhooks', to='ranges.contact')),
                    ],
                    options={
                        'db_table': 'observations_contactwebhook',
                    },
                ),
                migrations.CreateModel(
                    name='AlertDelivery',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('channel', models.CharField(choices=[('email', 'Email'), ('webhook', 'Webhook')], max_length=8)),
                        ('target', models.CharField(max_length=500)),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('sent', 'Sent'), ('failed', 'Failed'), ('skipped', 'Skipped')], db_index=True, default='pending', max_length=8)),
                        ('payload', models.JSONField(default=dict)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                        ('last_error', models.TextField(blank=True)),
                        ('response_status', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('created', models.DateTimeField(auto_now_add=True)),
                        ('sent_at', models.DateTimeField(blank=True, null=True)),
                        ('contact', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='alert_deliveries', to='ranges.contact')),
                        ('observation', models.ForeignKey(help_text='the sighting that raised it', on_delete=django.db.models.deletion.CASCADE, related_name='alert_deliveries', to='observations.observation')),
                        ('group', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='alerts.alertgroup')),
                        ('webhook', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='deliveries', to='alerts.contactwebhook')),
                    ],
                    options={
                        'verbose_name_plural': 'alert deliveries',
                        'db_table': 'observations_alertdelivery',
                    },
                ),
                migrations.AddConstraint(
                    model_name='alertgroup',
                    constraint=models.UniqueConstraint(fields=('taxon', 'region_code', 'day'), name='one_alert_group_per_taxon_region_day'),
                ),
                migrations.AddConstraint(
                    model_name='alertdelivery',
                    constraint=models.UniqueConstraint(fields=('group', 'contact', 'channel', 'target'), name='one_delivery_per_group_contact_target'),
                ),
            ],
            database_operations=[],  # the tables exist already: only the model state moves
        ),
    ]
