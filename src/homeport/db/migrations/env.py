"""Alembic environment: migrations run on the connection Homeport hands over."""

from __future__ import annotations

from alembic import context

from homeport.db.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through homeport.db.migrate, which passes a connection")

# Tables the pgvector knowledge store owns and creates itself (knowledge/stores/pgvector.py);
# autogenerate must not propose dropping them.
STORE_TABLES = ("knowledge_chunks", "knowledge_scopes")


def include_object(obj: object, name: str | None, kind: str, reflected: bool, to: object) -> bool:
    table = getattr(obj, "table", None)
    table_name = name if kind == "table" else getattr(table, "name", None)
    return not (reflected and table_name in STORE_TABLES)


context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
