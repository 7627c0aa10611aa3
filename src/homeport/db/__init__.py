"""Storage: SQLAlchemy 2.0 tables, repositories and Alembic migrations."""
