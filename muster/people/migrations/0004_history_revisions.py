"""History: who, how and when move from each change to the revision the change belongs to."""

from typing import Any

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def group_changes_into_revisions(apps: Any, schema_editor: Any) -> None:
    """One revision for each (source, source code, user, time) the existing changes share."""
    change_model = apps.get_model("people", "PropertyValueChange")
    revision_model = apps.get_model("people", "Revision")
    revisions: dict[tuple[Any, ...], int] = {}
    pending = []
    rows = change_model.objects.order_by("id").values_list("id", "source", "source_code", "changed_by_id", "at")
    for change_id, *key in rows.iterator(chunk_size=2000):
        wanted = tuple(key)
        if wanted not in revisions:
            source, source_code, changed_by_id, at = wanted
            revisions[wanted] = revision_model.objects.create(
                source=source, source_code=source_code, changed_by_id=changed_by_id, at=at
            ).id
        pending.append(change_model(id=change_id, revision_id=revisions[wanted]))
        if len(pending) >= 2000:
            change_model.objects.bulk_update(pending, ["revision"])
            pending = []
    change_model.objects.bulk_update(pending, ["revision"])


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0003_slimmer_history_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Revision",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("manual", "Manual"),
                            ("csv", "CSV import"),
                            ("api", "API"),
                            ("response", "Survey response"),
                        ],
                        max_length=20,
                    ),
                ),
                ("source_code", models.CharField(blank=True, max_length=100)),
                ("at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "changed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.AddField(
            model_name="propertyvaluechange",
            name="revision",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="changes",
                to="people.revision",
            ),
        ),
        migrations.RunPython(group_changes_into_revisions, migrations.RunPython.noop),
    ]
