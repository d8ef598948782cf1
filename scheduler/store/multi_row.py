"""Multi-row statements for SQLAlchemy Core: ``UPDATE ... FROM (VALUES ...)`` compiled once per shape,
the chunking that keeps any statement within the drivers' parameter limits, and ``COPY`` for large
inserts on PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, cast, column, type_coerce, update, values
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

ROWS_PER_STATEMENT = 500  # at most 8 parameters a row: well under SQLite's 32,766 and PostgreSQL's 65,535


def copy_rows(connection: Connection, table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Insert ``rows`` (values in ``columns``' order) with one ``COPY ... FROM STDIN`` (PostgreSQL),
    inside the connection's transaction.

    10,000 jobs took 1.3 s through SQLAlchemy's batched INSERT, nearly all of it Python building
    parameters, on the thread of the message handler, which shares the interpreter with the event
    loop. Values go as CSV: None is NULL (unquoted empty), everything else quoted as needed.
    A refusal from the database is raised as SQLAlchemy raises it for a statement (``DataError``,
    ``IntegrityError``), so callers tell refused values from an outage the same way.
    """
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    buffer.seek(0)
    quote = connection.dialect.identifier_preparer.quote
    statement = f"COPY {quote(table.name)} ({', '.join(map(quote, columns))}) FROM STDIN WITH (FORMAT csv)"
    dbapi = connection.dialect.loaded_dbapi
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.copy_expert(statement, buffer)
    except dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dbapi.Error, dialect=connection.dialect) from exc
    finally:
        cursor.close()


def chunks(rows: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        yield rows[start : start + ROWS_PER_STATEMENT]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...] | None  # the parameters' order for a positional driver (SQLite); None: by name
    defaults: dict[str, Any]  # the statement's own parameters (constants in SET and WHERE)
    processors: tuple  # per column of v: SQLAlchemy's conversion of a value for this driver, or None
    keys: tuple[tuple[str, ...], ...]  # per row of v, its cells' parameter names


class UpdateFromValues:
    """``WITH v(...) AS (VALUES ...) UPDATE table SET assign(v) FROM v WHERE where(v)``.

    SQLAlchemy does not cache a statement built on ``VALUES``: compiled for every batch, it costs
    more than the per-row statements it replaces. So the statement is compiled here once per
    dialect and row count, with a bound parameter in every cell, and executed as driver SQL with
    the values converted by the columns' own types. Row counts are rounded up to a power of two
    (the extra rows are NULLs, which match nothing): a handful of shapes.
    """

    def __init__(self, table, columns: tuple, assign: Callable, where: Callable) -> None:
        self.table, self.columns, self.assign, self.where = table, columns, assign, where
        self._compiled: dict[tuple[str, str, int], _Compiled] = {}

    def _compile(self, dialect, rows: int) -> _Compiled:
        compiled = self._compiled.get((dialect.name, dialect.driver, rows))
        if compiled is None:
            # PostgreSQL types a VALUES column by its rows: all NULLs would make it text. Cast each cell.
            # (Not on SQLite, where CAST(... AS DATETIME) would turn a timestamp's text into a number.)
            typed = cast if dialect.name == "postgresql" else type_coerce
            keys = tuple(tuple(f"v{i}_{c.name}" for c in self.columns) for i in range(rows))
            data = [
                tuple(typed(bindparam(key, type_=c.type), c.type) for key, c in zip(row, self.columns, strict=True))
                for row in keys
            ]
            v = values(*[column(c.name, c.type) for c in self.columns], name="v").data(data).cte("v")
            statement = update(self.table).values(self.assign(v.c)).where(self.where(v.c)).compile(dialect=dialect)
            compiled = self._compiled[(dialect.name, dialect.driver, rows)] = _Compiled(
                statement.string,
                tuple(statement.positiontup) if statement.positional else None,
                dict(statement.params),
                tuple(c.type.dialect_impl(dialect).bind_processor(dialect) for c in self.columns),
                keys,
            )
        return compiled

    def execute(self, connection: Connection, rows: list[tuple]) -> None:
        for chunk in chunks(rows):
            size = min(ROWS_PER_STATEMENT, max(8, 1 << (len(chunk) - 1).bit_length()))
            compiled = self._compile(connection.dialect, size)
            params = dict(compiled.defaults)
            processors = compiled.processors
            for keys, row in zip(compiled.keys, chunk, strict=False):  # padding rows keep their NULLs
                for key, process, value in zip(keys, processors, row, strict=True):
                    params[key] = value if process is None or value is None else process(value)
            if compiled.names is None:
                connection.exec_driver_sql(compiled.sql, params)
            else:
                connection.exec_driver_sql(compiled.sql, tuple(params[name] for name in compiled.names))
