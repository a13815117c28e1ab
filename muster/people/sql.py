"""Plain SQL for set-based writes, in the dialect of the connection (SQLite or PostgreSQL).

The ORM prepares each of a batch's thousands of parameters one by one and builds a model
instance per row; these take and give plain lists and tuples.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain
from typing import Any

from django.db import connection


def table(model: Any) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


def select_in(model: Any, columns: str, column: str, keys: list[Any], **equal: Any) -> list[tuple[Any, ...]]:
    """SELECT columns FROM model's table WHERE column IN keys (AND each of `equal`), as plain tuples.

    Plain SQL: the ORM prepares each of a batch's thousands of keys one by one.
    """
    if not keys:
        return []
    where = "".join(f" AND {connection.ops.quote_name(name)} = %s" for name in equal)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {table(model)} "  # noqa: S608
            f"WHERE {connection.ops.quote_name(column)} IN ({', '.join(['%s'] * len(keys))}){where}",
            [*keys, *equal.values()],
        )
        return cursor.fetchall()


def execute_many(sql: str, rows: list[list[Any]]) -> None:
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)


def insert_many(model: Any, columns: list[str], rows: list[list[Any]]) -> None:
    """INSERTs rows, each a list of values in the order of `columns` (JSON columns take JSON text)."""
    if not rows:
        return
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    if connection.vendor == "postgresql":
        # COPY streams the rows in one command; PostgreSQL parses JSON text into jsonb itself. The
        # driver's own cursor does it, so Django's wrapper turns its errors into IntegrityError & co.
        with connection.wrap_database_errors, connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table(model)} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    execute_values(lambda values: f"INSERT INTO {table(model)} ({names}) VALUES {values}", marks, rows)  # noqa: S608


def update_many(
    model: Any, assignments: str, rows: list[list[Any]], where: str = "", params: list[Any] | None = None
) -> None:
    """UPDATEs rows by id: each row is [id, value, value…], and each {} in `assignments` takes a value.
    `where` (with %s marks taking `params`) narrows which of those rows change, e.g. "status IN (%s, %s)".

    PostgreSQL updates many rows to a statement, joined to a VALUES list. SQLite runs UPDATE … FROM
    through a temporary table, slower than the statement per row that costs it no round trip.
    """
    if not rows:
        return
    width = len(rows[0])
    name = table(model)
    extra = f" AND {where}" if where else ""
    params = params or []
    if connection.vendor == "sqlite":
        single = assignments.format(*["%s"] * (width - 1))
        execute_many(
            f"UPDATE {name} SET {single} WHERE id = %s{extra}",  # noqa: S608
            [[*row[1:], row[0], *params] for row in rows],
        )
        return
    # The columns of a VALUES list are named column1, column2…
    joined = assignments.format(*[f"v.column{n}" for n in range(2, width + 1)])
    marks = "(" + ", ".join(["%s"] * width) + ")"
    execute_values(
        lambda values: f"UPDATE {name} SET {joined} FROM (VALUES {values}) AS v WHERE {name}.id = v.column1{extra}",  # noqa: S608
        marks,
        rows,
        params,
    )


def execute_values(
    statement: Callable[[str], str], marks: str, rows: list[list[Any]], after: list[Any] | None = None
) -> None:
    """Runs `statement(values)` for rows many to a statement, `values` being their VALUES list;
    `after` are the values of marks the statement has after its VALUES list (the same in each).

    One statement per row costs a round of parsing and binding each, and on PostgreSQL a round trip.
    """
    if not rows:
        return
    after = after or []
    per = max(1, min(len(rows), (connection.features.max_query_params or 999) // len(rows[0]) - len(after), 100))
    whole = len(rows) - len(rows) % per
    if whole:
        params = [[*chain.from_iterable(rows[i : i + per]), *after] for i in range(0, whole, per)]
        execute_many(statement(", ".join([marks] * per)), params)
    if whole < len(rows):
        rest = rows[whole:]
        execute_many(statement(", ".join([marks] * len(rest))), [[*chain.from_iterable(rest), *after]])


def delete_in(model: Any, column: str, keys: list[Any]) -> None:
    """DELETE FROM model's table WHERE column IN keys."""
    if not keys:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table(model)} "  # noqa: S608
            f"WHERE {connection.ops.quote_name(column)} IN ({', '.join(['%s'] * len(keys))})",
            keys,
        )


def update_in(model: Any, assignments: str, params: list[Any], column: str, keys: list[Any]) -> None:
    """UPDATE model's table SET assignments (%s marks taking `params`) WHERE column IN keys, 900 keys a statement.

    One statement for many rows that take the same values: cheaper than a row each, on PostgreSQL above all.
    """
    name = connection.ops.quote_name(column)
    with connection.cursor() as cursor:
        for start in range(0, len(keys), 900):
            chunk = keys[start : start + 900]
            cursor.execute(
                f"UPDATE {table(model)} SET {assignments} "  # noqa: S608
                f"WHERE {name} IN ({', '.join(['%s'] * len(chunk))})",
                [*params, *chunk],
            )


def insert_returning(model: Any, columns: list[str], rows: list[list[Any]], returning: str) -> list[tuple[Any, ...]]:
    """INSERTs rows and gives back `returning` (e.g. "id, person_id") of each, 500 rows to a statement."""
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    found: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            cursor.execute(
                f"INSERT INTO {table(model)} ({names}) "  # noqa: S608
                f"VALUES {', '.join([marks] * len(chunk))} RETURNING {returning}",
                list(chain.from_iterable(chunk)),
            )
            found += cursor.fetchall()
    return found
