"""Drops indexes no query needs, so every value and history write updates fewer of them.

The single-column foreign key indexes on PropertyValue.person, PropertyValue.property and
PropertyValueChange.person duplicate the leading column of a composite index. The option index now
leads with the option, so it also serves the PROTECT check that the option's own index served.

Index drops run as SQL: Django's SQLite backend would otherwise copy the whole table to change
`db_index` on a foreign key.
"""

import django.db.models.deletion
from django.db import migrations, models


def drop(table: str, name: str, column: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        f'DROP INDEX IF EXISTS "{name}"', reverse_sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")'
    )


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="propertyvalue",
            index=models.Index(
                condition=models.Q(("value_option__isnull", False)),
                fields=["value_option", "property", "person"],
                name="value_option_person",
            ),
        ),
        migrations.RemoveIndex(
            model_name="propertyvalue",
            name="value_option_idx",
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="propertyvalue",
                    name="person",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="values",
                        to="people.person",
                    ),
                ),
                migrations.AlterField(
                    model_name="propertyvalue",
                    name="property",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="values",
                        to="people.property",
                    ),
                ),
                migrations.AlterField(
                    model_name="propertyvalue",
                    name="value_option",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="people.propertyoption",
                    ),
                ),
                migrations.AlterField(
                    model_name="propertyvaluechange",
                    name="person",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="changes",
                        to="people.person",
                    ),
                ),
            ],
            database_operations=[
                drop("people_propertyvalue", "people_propertyvalue_person_id_9bd24e1f", "person_id"),
                drop("people_propertyvalue", "people_propertyvalue_property_id_1ef88d65", "property_id"),
                drop("people_propertyvalue", "people_propertyvalue_value_option_id_ca86b1ae", "value_option_id"),
                drop("people_propertyvaluechange", "people_propertyvaluechange_person_id_8deb0b48", "person_id"),
            ],
        ),
    ]
