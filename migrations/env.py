"""Alembic environment: runs every migration on SQLite and on Postgres through the async drivers."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from advanced_alchemy.base import orm_registry
from alembic import context
from sqlalchemy.engine import Connection

from gateway import models  # noqa: F401  (registers the tables on the metadata)
from gateway.lib.db import create_engine
from gateway.settings import Settings

target_metadata = orm_registry.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only alter tables by copying them
        compare_type=False,  # encrypted and GUID columns would always look changed; tables, columns and indexes are compared
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    # `gateway migrate` passes the URL; a bare `alembic` call falls back to the GATEWAY_* settings.
    url = context.config.attributes.get("database_url") or Settings.from_env().database_url
    engine = create_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `gateway migrate`")
try:
    asyncio.get_running_loop()
except RuntimeError:
    asyncio.run(_run_online())
else:  # called from async code (tests, an embedding app): a thread with a loop of its own
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _run_online()).result()
