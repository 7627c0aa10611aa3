"""Bodies of the device-flow sign-in under /api/v1/auth/device."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from homeport.api.schemas.rest import Strict
from homeport.services.device import DeviceAuthorization, DeviceRequest


class DeviceStartIn(Strict):
    client_name: str | None = Field(
        default=None, max_length=100, description="The device's host name; names the new key"
    )


class DeviceAuthorizationOut(BaseModel):
    device_code: str = Field(description="Secret: the device polls with it. Shown once.")
    user_code: str = Field(description="What the person enters on the verification page")
    verification_uri: str
    verification_uri_complete: str
    interval: int = Field(description="Seconds to wait between polls")
    expires_in: int

    @classmethod
    def of(cls, started: DeviceAuthorization) -> DeviceAuthorizationOut:
        return cls(
            device_code=started.device_code,
            user_code=started.user_code,
            verification_uri=started.verification_uri,
            verification_uri_complete=started.verification_uri_complete,
            interval=started.interval,
            expires_in=started.expires_in,
        )


class DeviceApproveIn(Strict):
    user_code: str = Field(min_length=1, max_length=32)
    approve: bool = Field(default=True, description="false denies the sign-in")


class DeviceRequestOut(BaseModel):
    user_code: str
    client_name: str
    status: str = Field(description="pending, approved or denied")
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, request: DeviceRequest) -> DeviceRequestOut:
        return cls(
            user_code=request.user_code,
            client_name=request.client_name,
            status=request.status,
            created_at=request.created_at,
            expires_at=request.expires_at,
        )


class DeviceTokenIn(Strict):
    device_code: str = Field(min_length=1, max_length=200)
