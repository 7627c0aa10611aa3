"""Bodies of the connection routes: secrets and tokens go in, never out."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from homeport.api.schemas.rest import Strict
from homeport.domain.connections import Connection, OAuthProvider
from homeport.services.connections import ProviderSpec


class OAuthProviderIn(Strict):
    authorize_url: str = Field(max_length=2048, description="The authorization endpoint")
    token_url: str = Field(max_length=2048, description="The token endpoint")
    revoke_url: str | None = Field(
        default=None, max_length=2048, description="The revocation endpoint (RFC 7009)"
    )
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: str | None = Field(
        default=None,
        max_length=4096,
        description="Never shown again; leave it out for a public client (PKCE only)",
    )
    scopes: list[str] = Field(
        default_factory=list, max_length=50, description="Asked for in every connection"
    )

    def spec(self) -> ProviderSpec:
        return ProviderSpec(
            authorize_url=self.authorize_url,
            token_url=self.token_url,
            client_id=self.client_id,
            revoke_url=self.revoke_url,
            client_secret=self.client_secret,
            scopes=tuple(self.scopes),
        )


class OAuthProviderOut(BaseModel):
    name: str
    authorize_url: str
    token_url: str
    revoke_url: str | None
    client_id: str
    confidential: bool = Field(description="Whether it has a client secret (never shown)")
    scopes: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, provider: OAuthProvider) -> OAuthProviderOut:
        return cls(
            name=provider.name,
            authorize_url=provider.authorize_url,
            token_url=provider.token_url,
            revoke_url=provider.revoke_url,
            client_id=provider.client_id,
            confidential=provider.confidential,
            scopes=list(provider.scopes),
            created_at=provider.created_at,
            updated_at=provider.updated_at,
        )


class TokenIn(Strict):
    token: str = Field(min_length=1, max_length=16384, description="Never shown again")


class AuthorizeIn(Strict):
    scopes: list[str] = Field(
        default_factory=list, max_length=50, description="Beyond the provider's own"
    )
    redirect_to: str | None = Field(
        default=None, max_length=2048, description="A path on this server to return to"
    )


class AuthorizeOut(BaseModel):
    authorize_url: str = Field(description="Open it in a browser to connect")


class ConnectionOut(BaseModel):
    name: str
    kind: Literal["oauth2", "token"]
    scopes: list[str]
    expires_at: datetime | None
    connected_at: datetime

    @classmethod
    def of(cls, connection: Connection) -> ConnectionOut:
        return cls(
            name=connection.name,
            kind=connection.kind.value,
            scopes=list(connection.scopes),
            expires_at=connection.expires_at,
            connected_at=connection.connected_at,
        )
