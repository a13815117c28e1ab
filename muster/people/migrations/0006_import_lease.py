"""Imports hold a lease while they run (muster.scheduling.leases), and can be cancelled or dismissed.

An import left "running" by a worker that died before leases existed has no record of where its
last committed batch ended: it becomes a failed import that a retry imports again from the start
(rows already imported are matched by email and left as they are).
"""

from typing import Any

from django.db import migrations, models
from django.utils.timezone import now


def fail_stranded_imports(apps: Any, schema_editor: Any) -> None:
    PersonImport = apps.get_model("people", "PersonImport")
    stranded = PersonImport.objects.filter(status="running")
    apps.get_model("people", "ImportSeen").objects.filter(person_import__in=stranded).delete()
    apps.get_model("people", "ImportRejection").objects.filter(person_import__in=stranded).delete()
    stranded.update(
        status="failed",
        error="The worker importing this file stopped. Retry to import it again from the start: "
        "rows already imported are matched by email and left as they are.",
        finished=now(),
        bytes_done=0,
        rows_done=0,
        rows_created=0,
        rows_updated=0,
        rows_rejected=0,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0005_history_revisions_required"),
    ]

    operations = [
        migrations.AddField(
            model_name="personimport",
            name="dismissed",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="personimport",
            name="lease_expires",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="personimport",
            name="lease_holder",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name="personimport",
            name="lines_done",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="personimport",
            name="status",
            field=models.CharField(
                choices=[
                    ("mapping", "Waiting for the column mapping"),
                    ("queued", "Queued"),
                    ("running", "Importing"),
                    ("done", "Done"),
                    ("failed", "Failed"),
                    ("cancelled", "Cancelled"),
                ],
                default="mapping",
                max_length=20,
            ),
        ),
        migrations.RunPython(fail_stranded_imports, migrations.RunPython.noop),
    ]
