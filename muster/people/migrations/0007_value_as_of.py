"""Each value keeps its as-of: the values held so far are as of their last write."""

import django.utils.timezone
from django.db import migrations, models


def as_of_last_write(apps, schema_editor):  # type: ignore[no-untyped-def]
    PropertyValue = apps.get_model("people", "PropertyValue")
    PropertyValue.objects.update(as_of=models.F("updated"))


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0006_import_lease"),
    ]

    operations = [
        migrations.AddField(
            model_name="propertyvalue",
            name="as_of",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(as_of_last_write, migrations.RunPython.noop),
    ]
