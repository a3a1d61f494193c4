"""Core statements compiled once per database dialect and run as the driver's own SQL.

``Connection.execute(statement, params)`` works out, at every call, the statement's cache key,
looks its compiled form up, builds the parameters by name, runs each value's type processing
and sets up the result's column metadata. A member write runs six statements, most of them
while every other writer waits for the database's write lock, and that work was a quarter of
a create's CPU in process (py-spy), against a tenth for the statements themselves.

A ``Prepared`` statement does the compiling and the planning once per dialect and set of
parameter names, and each call only orders the values, runs the type processors the
compiled statement names and hands the SQL to ``Connection.exec_driver_sql``. That is still
SQLAlchemy's execution: the engine's events (the SQLite write queue takes its lock in
``before_cursor_execute``), its transaction and its error wrapping (``IntegrityError`` and the
rest) apply as to any statement. What it skips is the result's type processing, so a
statement whose result columns need any (a date on SQLite, say) is refused, not silently
answered with the driver's raw values.

For writes only: the member INSERT, UPDATE and DELETE and the rows that go with them. A SELECT
gains nothing, because SQLAlchemy keeps a compiled statement's result metadata with it, while
driver SQL has it built from the cursor at every call: the member lookup of a SCIM filter took
6% more instructions prepared (callgrind), so reads stay on ``Connection.execute``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, CursorResult
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_MISSING = object()


class NotPreparable(ValueError):
    """A statement this module cannot run by itself (it needs SQLAlchemy's full execution)."""


@dataclass(frozen=True)
class _Bind:
    key: str  # the caller's parameter name
    name: str  # the compiled statement's name for it (the driver's, for a named paramstyle)
    default: Any  # the value when the caller gives none (_MISSING: required)
    process: Callable[[Any], Any] | None
    make_default: Callable[[], Any] | None = None  # a column's Python-side default, called per row


@dataclass(frozen=True)
class _Plan:
    sql: str
    positional: bool
    binds: tuple[_Bind, ...]
    returns_key: bool  # an INSERT whose compiled form RETURNs its primary key (implicit returning)
    #: the result columns that need type processing (a date parsed from SQLite's text, say), by position
    results: tuple[int, ...]

    def arguments(self, params: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = []
        for bind in self.binds:
            value = params.get(bind.key, bind.default)
            if value is _MISSING:
                if bind.make_default is None:
                    raise KeyError(f"no value for the bound parameter {bind.key!r}")
                value = bind.make_default()
            values.append(value if bind.process is None else bind.process(value))
        if self.positional:
            return tuple(values)
        return {bind.name: value for bind, value in zip(self.binds, values, strict=True)}


def _default_maker(column: Any, update: bool = False) -> Callable[[], Any]:
    """A column's Python-side default (``default=`` or ``onupdate=``) as SQLAlchemy would compute it."""
    default = column.onupdate if update else column.default
    if default.is_scalar:
        value = default.arg
        return lambda: value
    if default.is_callable:
        # SQLAlchemy wraps every callable default to take the execution context; the models' defaults read
        # none (a default that did would be handed None here).
        make = default.arg
        return lambda: make(None)
    raise NotPreparable(f"the default of {column.key!r} is neither a value nor a function")


def _plan(statement: ClauseElement, connection: Connection, keys: tuple[str, ...]) -> _Plan:
    compiled = statement.compile(dialect=connection.dialect, column_keys=list(keys))
    assert isinstance(compiled, SQLCompiler)
    if "POSTCOMPILE" in compiled.string or compiled.escaped_bind_names:
        raise NotPreparable("the statement has parameters rendered at execution (IN lists, escaped names)")
    defaults = {column.key: _default_maker(column) for column in compiled.insert_prefetch}
    defaults.update({column.key: _default_maker(column, update=True) for column in compiled.update_prefetch})
    dialect = connection.dialect
    processing = (column[3]._cached_result_processor(dialect, None) for column in compiled._result_columns)
    results = tuple(index for index, process in enumerate(processing) if process is not None)
    processors = compiled._bind_processors
    names = compiled.positiontup if compiled.positional else list(compiled.binds)
    assert names is not None
    binds = []
    for name in names:
        bind = compiled.binds[name]
        if bind.callable is not None:
            raise NotPreparable(f"the parameter {bind.key!r} takes its value from a callable")
        make_default = defaults.get(bind.key)
        default = _MISSING if bind.required or make_default is not None else bind.value
        process = cast(Callable[[Any], Any] | None, processors.get(name))  # one processor per parameter here
        binds.append(_Bind(bind.key, name, default, process, make_default))
    return _Plan(
        compiled.string,
        compiled.positional,
        tuple(binds),
        bool(compiled.implicit_returning),
        results,
    )


class Prepared:
    """A Core statement compiled once per dialect and set of parameter names (see the module)."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, tuple[str, ...]], _Plan] = {}

    def _plan_for(self, connection: Connection, keys: Iterable[str]) -> _Plan:
        index = (connection.dialect.name, tuple(keys))
        plan = self._plans.get(index)
        if plan is None:
            plan = self._plans[index] = _plan(self.statement, connection, index[1])
        return plan

    def execute(self, connection: Connection, params: Mapping[str, Any]) -> CursorResult[Any]:
        """Run the statement with one set of parameters; the result's rows (RETURNING) are the driver's values."""
        plan = self._plan_for(connection, params)
        if plan.results:
            raise NotPreparable("its result columns need type processing: run it with Connection.execute")
        return connection.exec_driver_sql(plan.sql, plan.arguments(params))

    def execute_many(self, connection: Connection, rows: list[Mapping[str, Any]]) -> None:
        """Run the statement once per set of parameters (all with the names of the first)."""
        if not rows:
            return
        plan = self._plan_for(connection, rows[0])
        connection.exec_driver_sql(plan.sql, [plan.arguments(row) for row in rows])

    def insert(self, connection: Connection, params: Mapping[str, Any]) -> int:
        """Run a single-row INSERT; returns the new row's primary key."""
        plan = self._plan_for(connection, params)
        result = connection.exec_driver_sql(plan.sql, plan.arguments(params))
        if plan.returns_key:
            return int(result.scalar_one())
        key = result.lastrowid
        assert key is not None  # a single-row INSERT without RETURNING has the driver's row id
        return int(key)
