"""Uploaded files, kept by content (SHA-256) under the data directory."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

from homeport.errors import NotFound


class BlobStore:
    def __init__(self, root: Path):
        self.root = root

    async def put(self, data: bytes) -> str:
        """Store `data` (once, whatever how often it is put); returns its SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(self._write, digest, data)
        return digest

    async def get(self, digest: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(digest).read_bytes)
        except FileNotFoundError:
            raise NotFound(f"the stored file {digest[:12]} is missing") from None

    def _write(self, digest: str, data: bytes) -> None:
        path = self._path(digest)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(data)
        os.replace(partial, path)  # whole or absent, never half-written

    def _path(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise NotFound("no such stored file")
        return self.root / digest[:2] / digest
