"""Reading uploaded files, each within the upload limit."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import UploadFile

from homeport.errors import PayloadTooLarge, ValidationFailed


@dataclass(frozen=True, slots=True)
class Upload:
    name: str
    content_type: str | None
    data: bytes


async def read_uploads(files: list[UploadFile], limit: int) -> list[Upload]:
    """Every file's bytes; one that is empty or over `limit` fails the request before
    anything is stored."""
    uploads = []
    for file in files:
        data = await file.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(f"'{file.filename}' is larger than {limit} bytes")
        if not data:
            raise ValidationFailed(f"'{file.filename}' is empty", param="files")
        uploads.append(Upload(file.filename or "upload", file.content_type, data))
    return uploads
