"""the log of API calls that apps' assistants make

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_calls",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=True),
        sa.Column("app", sa.String(length=64), nullable=False),
        sa.Column("app_version", sa.Integer(), nullable=False),
        sa.Column("api", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=100), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_api_calls_at", "api_calls", ["at"])
    op.create_index("ix_api_calls_user_id", "api_calls", ["user_id"])
    op.create_index("ix_api_calls_app", "api_calls", ["app"])


def downgrade() -> None:
    op.drop_index("ix_api_calls_app", table_name="api_calls")
    op.drop_index("ix_api_calls_user_id", table_name="api_calls")
    op.drop_index("ix_api_calls_at", table_name="api_calls")
    op.drop_table("api_calls")
