"""Support for migrations that move a model from one app to another (kept stable: migrations import it)."""

from django.db import migrations


def content_types_moved(*, models: tuple[str, ...], from_app: str, to_app: str) -> migrations.RunPython:
    """A RunPython that moves the models' content types, so permissions and admin history follow."""

    def move(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        for model in models:
            if not ContentType.objects.filter(app_label=to_app, model=model).exists():
                ContentType.objects.filter(app_label=from_app, model=model).update(app_label=to_app)

    return migrations.RunPython(move, migrations.RunPython.noop)
