"""`gateway migrate`: bring the database schema to the newest revision."""

from __future__ import annotations

from alembic import command

from gateway.lib.db import alembic_config
from gateway.settings import Settings


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)
