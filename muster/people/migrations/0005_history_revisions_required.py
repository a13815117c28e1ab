"""History: each change now has its revision; the columns the revision took over go.

Separate from 0004: PostgreSQL refuses to alter a table in the transaction that just updated its
rows under a deferred foreign key ("pending trigger events").
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0004_history_revisions"),
    ]

    operations = [
        migrations.AlterField(
            model_name="propertyvaluechange",
            name="revision",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="changes",
                to="people.revision",
            ),
        ),
        migrations.RemoveField(model_name="propertyvaluechange", name="source"),
        migrations.RemoveField(model_name="propertyvaluechange", name="source_code"),
        migrations.RemoveField(model_name="propertyvaluechange", name="changed_by"),
        migrations.RemoveField(model_name="propertyvaluechange", name="at"),
        migrations.AlterModelOptions(name="propertyvaluechange", options={"ordering": ["-id"]}),
    ]
