"""Repositories: queries and row<->domain conversion. They flush, never commit.

One module per area; the services import the classes from here.
"""

from homeport.db.repositories.access import (
    GrantRepository,
    OrgRepository,
    TeamRepository,
    granted_to,
)
from homeport.db.repositories.accounts import (
    BrowserSessionRepository,
    ServerSettingRepository,
    ThrottleRepository,
)
from homeport.db.repositories.connections import (
    ConnectionRepository,
    OAuthPendingRepository,
    OAuthProviderRepository,
)
from homeport.db.repositories.ownership import UserDataRepository
from homeport.db.repositories.providers import ProviderRepository
from homeport.db.repositories.runners import ModelRepository, RunnerTokenRepository
from homeport.db.repositories.secrets import SecretRepository
from homeport.db.repositories.sessions import ChatSessionRepository
from homeport.db.repositories.users import ApiKeyRepository, UserRepository

__all__ = [
    "ApiKeyRepository",
    "BrowserSessionRepository",
    "ChatSessionRepository",
    "ConnectionRepository",
    "GrantRepository",
    "ModelRepository",
    "OAuthPendingRepository",
    "OAuthProviderRepository",
    "OrgRepository",
    "ProviderRepository",
    "RunnerTokenRepository",
    "SecretRepository",
    "ServerSettingRepository",
    "TeamRepository",
    "ThrottleRepository",
    "UserDataRepository",
    "UserRepository",
    "granted_to",
]
