"""Engine, sessions and the migration state of the database."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import ARRAY, any_, bindparam, event, exc, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from gateway.settings import Settings

log = logging.getLogger(__name__)

POOL_SIZE = 20  # connections per process
WAIT_FOR_DATABASE_SECONDS = 1.0
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

T = TypeVar("T")
IN_LIST_CHUNK = 500  # values in one IN list: Postgres' parser recurses over long ones


def in_chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """``values`` in slices short enough for one IN list each."""
    for start in range(0, len(values), IN_LIST_CHUNK):
        yield values[start : start + IN_LIST_CHUNK]


def among(session: Any, column: Any, values: Sequence[Any]) -> Any:
    """``column IN values``; on Postgres ``column = ANY(array)``: one statement whatever the number of values,
    compiled and prepared once (an IN list is rendered again at each execution, a statement per length)."""
    if session.bind.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def unnested(table: Any, columns: dict[str, str]) -> Any:
    """Rows of the table's ``columns`` given as one array parameter each (column: parameter), for an
    UPDATE … FROM on Postgres: one statement and one execution for any number of rows, prepared once (an
    executemany runs the statement once a row; a VALUES list is compiled and prepared again per length)."""
    return select(
        *(func.unnest(bindparam(name, type_=ARRAY(table.c[key].type))).label(key) for key, name in columns.items())
    ).subquery("given")


def stored_text(body: bytes, limit: int) -> str:
    """Bytes received (a body) as text a column holds: the first ``limit`` bytes, decoded leniently, NULs
    replaced (Postgres text holds none)."""
    return body[:limit].decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def create_engine(database_url: str) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # A fixed pool: connections beyond it would be opened and closed again with every burst, and
    # opening one (with its TLS attempt) costs far more than waiting a moment for a free one.
    engine = create_async_engine(url, pool_size=POOL_SIZE, max_overflow=0, pool_recycle=3600)
    event.listen(engine.sync_engine, "checkout", _replace_closed)
    return engine


def _replace_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection the server closed (a restart, a terminated backend) is replaced before it is
    used: asyncpg notices the close as it happens, so this check costs no round trip, where
    pool_pre_ping's would cost one per checkout (a fifth of a send's database time)."""
    if dbapi_connection.driver_connection.is_closed():
        raise exc.DisconnectionError("the server closed this pooled connection")


# SQLSTATE classes of a database that can't serve now: connection exceptions, operator intervention
# (shutting down, starting up), insufficient resources (too many connections).
_UNAVAILABLE_SQLSTATES = ("08", "57P", "53")


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says the database can't be reached or can't serve now, rather
    than that the statement was wrong: a refused or lost connection, a server starting up or shutting down,
    no free connection in the pool, a locked SQLite file."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, (exc.InterfaceError, exc.OperationalError, exc.TimeoutError)):
            return True  # TimeoutError: no pooled connection in time
        if isinstance(current, OSError) and _raised_by_driver(current):
            return True  # refused, reset, timed out as the pool opened a connection (raised as they are)
        if str(getattr(current, "sqlstate", None) or "").startswith(_UNAVAILABLE_SQLSTATES):
            return True
        current = current.__cause__ or current.__context__
    return False


def _raised_by_driver(error: BaseException) -> bool:
    return any(
        frame.f_globals.get("__name__", "").startswith(("asyncpg", "aiosqlite", "sqlalchemy"))
        for frame, _ in traceback.walk_tb(error.__traceback__)
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers run beside the writer.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_maker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(settings: Settings) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = settings.database_url
    return config


@cache
def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)


class SchemaBehind(RuntimeError):
    pass


async def check_schema(engine: AsyncEngine, *, wait: bool = False) -> None:
    """Refuse to run on a database whose schema is not the one this code expects. With ``wait``, a database
    that can't be reached is waited for (a process starting while it restarts must not give up: a
    supervisor stops restarting a process that fails as it starts)."""
    while True:
        try:
            current = await current_revision(engine)
            break
        except Exception as error:
            if not wait or not database_unavailable(error):
                raise
            log.warning("waiting for the database: %s", error)
            await asyncio.sleep(WAIT_FOR_DATABASE_SECONDS)
    head = head_revision()
    if current != head:
        raise SchemaBehind(
            f"the database schema is at revision {current or 'none (empty database)'}, this gateway needs {head}: "
            "run `gateway migrate` first"
        )
