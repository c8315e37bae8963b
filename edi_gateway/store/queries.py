"""Read-only queries shared by the API, the CLI and the dashboard, and the statements the
hot paths (intake, the pipeline worker) run on the driver's own cursor."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, Table, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from edi_gateway.store.tables import (
    Ack,
    DocumentRow,
    DocumentState,
    Event,
    FindingRow,
    Interchange,
    InterchangeState,
)


def _finding(f: FindingRow) -> dict[str, Any]:
    return {
        "code": f.code,
        "severity": f.severity,
        "text": f.text,
        "location": f.location,
        "source": f.source,
    }


def interchange_status(
    s: Session, interchange_id: str, base_url: str = ""
) -> dict[str, Any] | None:
    """The status document of one interchange: state, documents, findings, acks."""
    ic = s.get(Interchange, interchange_id)
    if ic is None:
        return None
    latest_run = ic.attempts  # findings are numbered by the claim that made them
    findings = list(
        s.scalars(
            select(FindingRow)
            .where(FindingRow.interchange_id == ic.id, FindingRow.run == latest_run)
            .order_by(FindingRow.id)
        )
    )
    docs = list(
        s.scalars(
            select(DocumentRow)
            .where(DocumentRow.interchange_id == ic.id)
            .order_by(DocumentRow.position)
        )
    )
    acks = list(s.scalars(select(Ack).where(Ack.interchange_id == ic.id).order_by(Ack.created_at)))
    return {
        "receipt_id": ic.id,
        "state": ic.state,
        "terminal": InterchangeState(ic.state).terminal,
        "partner_id": ic.partner_id,
        "channel": ic.channel,
        "received_at": ic.received_at.isoformat(),
        "finished_at": ic.finished_at.isoformat() if ic.finished_at else None,
        "sha256": ic.raw_sha256,
        "size": ic.size,
        "filename": ic.filename,
        "format": ic.format,
        "standard": ic.standard,
        "control_reference": ic.control_reference,
        "test": ic.test,
        "duplicate_of": ic.duplicate_of,
        "findings": [_finding(f) for f in findings if f.document_id is None],
        "documents": [
            {
                "document_id": d.id,
                "position": d.position,
                "kind": d.kind,
                "id": d.business_id,
                "message_type": d.message_type,
                "reference": d.reference,
                "state": d.state,
                "receiver_id": d.receiver_id,
                "queue": d.queue,
                "findings": [_finding(f) for f in findings if f.document_id == d.id],
            }
            for d in docs
        ],
        "acks": [
            {
                "id": a.id,
                "kind": a.kind,
                "positive": a.positive,
                "state": a.state,
                "route": a.route,
                "filename": a.filename,
                "media_type": a.media_type,
                "url": f"{base_url}/api/v1/submissions/{ic.id}/acks/{a.id}",
            }
            for a in acks
        ],
    }


def list_interchanges(
    s: Session,
    *,
    state: str | None = None,
    partner: str | None = None,
    before: tuple[dt.datetime, str] | None = None,
    limit: int = 50,
) -> list[Interchange]:
    """Newest first, keyset-paginated on (received_at, id)."""
    q = select(Interchange)
    if state:
        q = q.where(Interchange.state == state)
    if partner:
        q = q.where(Interchange.partner_id == partner)
    if before is not None:
        at, iid = before
        q = q.where(
            (Interchange.received_at < at)
            | ((Interchange.received_at == at) & (Interchange.id < iid))
        )
    return list(
        s.scalars(q.order_by(Interchange.received_at.desc(), Interchange.id.desc()).limit(limit))
    )


def timeline(s: Session, interchange_id: str) -> list[Event]:
    return list(
        s.scalars(select(Event).where(Event.interchange_id == interchange_id).order_by(Event.id))
    )


def state_counts(s: Session) -> dict[str, int]:
    return {
        st: n
        for st, n in s.execute(select(Interchange.state, func.count()).group_by(Interchange.state))
    }


# Asked once per deduplicated document: built once, so a look-up costs only its execution.
_SETTLED = f"('{InterchangeState.DONE}', '{InterchangeState.REJECTED}', '{InterchangeState.DEAD}')"
# No ORDER BY: with one, SQLite walked the partner's interchanges in time order (an index that
# gives the order) instead of finding the few with this reference (migration 0009's index);
# the earliest of those is picked in Python.
_EARLIER_INTERCHANGE_SQL = (
    "SELECT id, received_at FROM interchanges WHERE partner_id = ? AND control_reference = ?"
    f" AND id <> ? AND state IN {_SETTLED}"
)
_EARLIER_LATER_INTERCHANGE_SQL = (  # a later interchange of a payload with several
    "SELECT i.id FROM interchanges i JOIN interchange_references r"
    " ON r.interchange_id = i.id WHERE r.partner_id = ? AND r.control_reference = ?"
    f" AND i.id <> ? AND i.state IN {_SETTLED} ORDER BY i.received_at LIMIT 1"
)
_EARLIER_DOCUMENT_SQL = (
    "SELECT d.id FROM documents d JOIN interchanges i ON i.id = d.interchange_id"
    " WHERE d.business_id = ? AND d.kind = ? AND d.sender_id = ? AND d.receiver_id = ?"
    " AND d.test = ? AND d.interchange_id <> ?"
    f" AND d.state IN ('{DocumentState.ROUTED}', '{DocumentState.DELIVERED}')"
    f" AND i.state = '{InterchangeState.DONE}'"
    " ORDER BY d.created_at, d.id LIMIT 1"
)


class EarlierReceipts:
    """The idempotent receiver's look-ups for one interchange being processed (`own_id`):
    an earlier interchange with the same control reference, an earlier accepted document with
    the same business number (order number, ...) from the same sender to the same receiver.

    They are asked once per interchange and once per order. Through SQLAlchemy each one cost
    about 0.2 to 2 ms (statement building, compilation cache, result objects), more than
    validating the message; on the driver's own cursor with plain SQL (`?` markers, `%s` for
    psycopg) it is a few microseconds. One connection until `close` (or the caller's
    `connection`, which it closes itself, e.g. one for a batch of interchanges); each look-up
    ends its transaction, so no snapshot is kept between them."""

    def __init__(self, engine: Engine, own_id: str, connection: Any = None) -> None:
        self.engine = engine
        self.own_id = own_id
        self._qmark = engine.dialect.paramstyle == "qmark"
        self._conn: Any = connection
        self._owns_connection = connection is None

    def interchange(self, partner_id: str, control_reference: str) -> str | None:
        params = (partner_id, control_reference, self.own_id)
        earlier = self._rows(_EARLIER_INTERCHANGE_SQL, params)
        if earlier:
            return str(min(earlier, key=lambda row: (row[1], row[0]))[0])
        later = self._rows(_EARLIER_LATER_INTERCHANGE_SQL, params)
        return str(later[0][0]) if later else None

    def document(
        self, kind: str, sender_id: str, receiver_id: str, business_id: str, test: bool
    ) -> str | None:
        params = (business_id, kind, sender_id, receiver_id, test, self.own_id)
        found = self._rows(_EARLIER_DOCUMENT_SQL, params)
        return str(found[0][0]) if found else None

    def _rows(self, sql: str, params: tuple[object, ...]) -> list[Any]:
        if self._conn is None:
            self._conn = self.engine.raw_connection()
            self._owns_connection = True
        cursor = self._conn.cursor()
        try:
            cursor.execute(sql if self._qmark else sql.replace("?", "%s"), params)
            return list(cursor.fetchall())
        finally:
            cursor.close()
            self._conn.rollback()

    def close(self) -> None:
        if self._conn is not None and self._owns_connection:
            self._conn.close()
        self._conn = None


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
