"""Vector stores: where chunks live and how they are found (sqlite-vec + FTS5, pgvector +
PostgreSQL full-text search), behind `VectorStore`."""

from homeport.knowledge.stores.base import VectorStore, open_store, register_store

__all__ = ["VectorStore", "open_store", "register_store"]
