"""Bodies of the secrets routes (/api/v1/secrets): values go in, never out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from homeport.api.schemas.rest import Strict
from homeport.domain.secrets import Secret


class SecretIn(Strict):
    value: str = Field(description="The secret's value (at most 64 KiB); it is never shown")


class SecretOut(BaseModel):
    name: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, secret: Secret) -> SecretOut:
        return cls(name=secret.name, created_at=secret.created_at, updated_at=secret.updated_at)


class ReencryptedOut(BaseModel):
    secrets: int = Field(description="How many secrets are now encrypted under the current key")
