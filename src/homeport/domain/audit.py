"""Audit events: who did what to what, when, and whether it worked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class AuditEvent:
    id: str
    at: datetime
    action: str  # e.g. "auth.sign_in", "key.created", "app.applied", "sharing.changed"
    outcome: str  # "success" or "failure"
    actor_user_id: str | None
    actor_key_id: str | None
    target_type: str | None
    target_id: str | None
    ip: str | None
    details: dict[str, Any] = field(default_factory=dict)
