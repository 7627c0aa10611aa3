"""Bringing the schema up to date with Alembic, on SQLite or PostgreSQL."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works: it only serialises replicas that migrate at the same time.
PG_MIGRATION_LOCK = 71_701


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


def _upgrade(connection: Connection, revision: str) -> None:
    _lock_for_migration(connection)
    command.upgrade(alembic_config(connection), revision)
    log.debug("database schema at %s", revision)


def _lock_for_migration(connection: Connection) -> None:
    """Hold a lock until the transaction ends, so a second migrator waits, then finds it done."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
    elif connection.dialect.name == "sqlite":
        # The driver starts no transaction before DDL; take the write lock (waiting up to
        # the busy timeout) so that the version check and the DDL are one transaction.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
