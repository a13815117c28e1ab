from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import TransactionTestCase

BEFORE = [("people", "0003_slimmer_history_indexes")]


class HistoryRevisionsMigrationTestCase(TransactionTestCase):
    """0004/0005 move who, how and when from each change to a revision shared by a write's changes."""

    def test_changes_written_together_share_a_revision_and_keep_their_facts(self) -> None:
        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)
        old = executor.loader.project_state(BEFORE).apps
        user = old.get_model("accounts", "User").objects.create(email="rita@example.org", role="researcher")
        person = old.get_model("people", "Person").objects.create(first_name="Pat")
        age = old.get_model("people", "Property").objects.create(key="age", label="Age", type="number")
        city = old.get_model("people", "Property").objects.create(key="city", label="City", type="text")
        change = old.get_model("people", "PropertyValueChange")
        first = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        later = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
        for prop, new, source, code, by, at in [
            (age, 30, "csv", "import-1", user, first),
            (city, "Leeds", "csv", "import-1", user, first),
            (age, 31, "manual", "", user, later),
            (city, "York", "api", "api", None, later),
        ]:
            change.objects.create(
                person=person, property=prop, new=new, source=source, source_code=code, changed_by=by, at=at
            )

        executor = MigrationExecutor(connection)
        latest = executor.loader.graph.leaf_nodes()
        executor.migrate(latest)
        new_apps = executor.loader.project_state(latest).apps
        rows = new_apps.get_model("people", "PropertyValueChange").objects.order_by("id")
        facts = list(
            rows.values_list(
                "new", "revision__source", "revision__source_code", "revision__changed_by__email", "revision__at"
            )
        )
        self.assertEqual(
            facts,
            [
                (30, "csv", "import-1", "rita@example.org", first),
                ("Leeds", "csv", "import-1", "rita@example.org", first),
                (31, "manual", "", "rita@example.org", later),
                ("York", "api", "api", None, later),
            ],
        )
        revisions = list(rows.values_list("revision_id", flat=True))
        self.assertEqual(revisions[0], revisions[1])
        self.assertEqual(len(set(revisions)), 3)
