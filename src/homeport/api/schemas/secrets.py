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
    """How many encrypted values of each kind are now encrypted under the current key."""

    secrets: int = Field(description="Users' secrets")
    provider_keys: int = Field(description="Providers' API keys")
    oauth_client_secrets: int = Field(description="OAuth providers' client secrets")
    connection_tokens: int = Field(description="Users' connection tokens (access and refresh)")
    oauth_pending: int = Field(description="OAuth connections in progress")
