"""The database cache's table, so that `manage.py migrate` alone gives a working database.

Rate limits and lockouts keep their counts in the cache shared by every process (settings.CACHES);
without this table every rate-limited route answered 500. The table is made whichever cache is
configured now, so switching Redis off later still finds it.
"""

from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations

TABLE = "muster_cache"


def create(apps, schema_editor):
    # Django's own DDL for the database cache, on SQLite and PostgreSQL alike; a table made
    # earlier by `manage.py createcachetable` is kept as it is.
    command = CreateCacheTable()
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, TABLE, dry_run=False)


def drop(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [migrations.RunPython(create, drop, elidable=False)]
