"""Statements on the database driver's own cursor, for the hot paths (intake's commit, the
worker's claim and record, the idempotent receiver's look-ups)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError


class DriverStatements:
    """Statements on the driver's own cursor for one dialect: multi-row inserts by
    `executemany`, and plain SQL written with `?` markers (turned into `%s` for psycopg).

    Through SQLAlchemy Core a statement costs 0.1 to 0.3 ms before the driver sees it
    (statement and cache key building, parameter processing, result objects): more than the
    insert itself for the few rows of a small batch. Here each column's value still goes
    through its type's own bind processor (UTC datetimes, JSON, ...), exactly what Core would
    send; a column left out of a row gets its Python-side default, as with Core.

    A driver error is raised as SQLAlchemy's `DBAPIError`, as Core would raise it, so callers
    handle one family of store failures."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.qmark = dialect.paramstyle == "qmark"
        self.driver_error: type[Exception] = dialect.loaded_dbapi.Error
        self._inserts: dict[tuple[str, tuple[str, ...]], _InsertPlan] = {}
        self._values: dict[tuple[str, str], Any] = {}

    def sql(self, text: str) -> str:
        return text if self.qmark else text.replace("?", "%s")

    def quote(self, name: str) -> str:
        return str(self.dialect.identifier_preparer.quote(name))

    def insert(self, cursor: Any, table: Any, rows: Sequence[dict[str, Any]]) -> None:
        """Insert `rows` (column values by name) into `table` (a Table or a mapped class)."""
        if not rows:
            return
        t: Table = getattr(table, "__table__", table)
        columns = tuple(dict.fromkeys(name for row in rows for name in row))
        plan = self._inserts.get((t.name, columns))
        if plan is None:
            plan = self._inserts[(t.name, columns)] = self._plan(t, columns)
        sql, fields = plan
        params = [
            tuple(
                (row[name] if name in row else default())
                if convert is None
                else convert(row[name] if name in row else default())
                for name, convert, default in fields
            )
            for row in rows
        ]
        self.executemany(cursor, sql, params)

    def value(self, table: Any, column: str, value: Any) -> Any:
        """`value` as the driver must get it for `column` of `table`."""
        t: Table = getattr(table, "__table__", table)
        convert = self._values.get((t.name, column), _UNSET)
        if convert is _UNSET:
            convert = t.c[column].type.dialect_impl(self.dialect).bind_processor(self.dialect)
            self._values[(t.name, column)] = convert
        return value if convert is None else convert(value)

    def reader(
        self, table: Any, columns: Sequence[str]
    ) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
        """Converts a fetched row of `columns` of `table` as Core's result would (the stored
        text of a datetime on SQLite to an aware datetime, ...)."""
        t: Table = getattr(table, "__table__", table)
        converters = [
            t.c[c].type.dialect_impl(self.dialect).result_processor(self.dialect, None)
            for c in columns
        ]

        def read(row: Sequence[Any]) -> tuple[Any, ...]:
            return tuple(
                v if convert is None else convert(v)
                for v, convert in zip(row, converters, strict=True)
            )

        return read

    def execute(self, cursor: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            cursor.execute(sql, params)
        except self.driver_error as exc:
            raise DBAPIError.instance(sql, params, exc, self.driver_error) from exc
        return cursor

    def executemany(self, cursor: Any, sql: str, params: Sequence[Sequence[Any]]) -> None:
        try:
            cursor.executemany(sql, params)
        except self.driver_error as exc:
            raise DBAPIError.instance(sql, params, exc, self.driver_error) from exc

    def _plan(self, t: Table, columns: tuple[str, ...]) -> _InsertPlan:
        marker = "?" if self.qmark else "%s"
        sql = (
            f"INSERT INTO {self.quote(t.name)} ({', '.join(self.quote(c) for c in columns)})"
            f" VALUES ({', '.join([marker] * len(columns))})"
        )
        fields: list[tuple[str, Callable[[Any], Any] | None, Callable[[], Any]]] = []
        for name in columns:
            column = t.c[name]
            convert = column.type.dialect_impl(self.dialect).bind_processor(self.dialect)
            fields.append((name, convert, _default_of(column)))
        return sql, fields


_UNSET = object()
_InsertPlan = tuple[str, list[tuple[str, Callable[[Any], Any] | None, Callable[[], Any]]]]


def _default_of(column: Any) -> Callable[[], Any]:
    """The Python-side default of a column, as Core applies it to a row that leaves it out."""
    default = column.default
    if default is None:
        return lambda: None
    if default.is_scalar:
        value = default.arg
        return lambda: value
    if default.is_callable:
        make = default.arg
        return lambda: make(None)  # SQLAlchemy wraps a no-argument callable to take a context
    raise ValueError(f"column {column.name} has a default that only SQL can compute")
