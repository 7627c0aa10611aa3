"""The storage layer on a real database: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Connection

from homeport.db.engine import Database
from homeport.db.repositories import (
    ApiKeyRepository,
    ChatSessionRepository,
    ProviderRepository,
    UserRepository,
)
from homeport.db.tables import Base, MessageRow, UserRow
from homeport.domain.users import User
from homeport.errors import Conflict
from homeport.settings import async_database_url

pytestmark = pytest.mark.anyio

TABLES = {*Base.metadata.tables, "alembic_version"}


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(async_database_url(database_url))
    await database.migrate()
    try:
        yield database
    finally:
        await database.close()


async def new_user(db: Database, name: str = "ada") -> User:
    async with db.transaction() as session:
        return await UserRepository(session).add(name=name, email=None, roles=["user"])


def _schema_differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


# -- migrations -------------------------------------------------------------------------------


async def test_migrations_build_the_schema_of_the_tables_and_can_run_again(
    database_url: str,
) -> None:
    database = Database(async_database_url(database_url))
    try:
        async with database.engine.connect() as connection:
            assert await connection.run_sync(_table_names) == set()
        await database.migrate()
        await database.migrate()
        async with database.engine.connect() as connection:
            assert await connection.run_sync(_table_names) == TABLES
            assert await connection.run_sync(_schema_differences) == []
    finally:
        await database.close()


async def test_two_processes_migrating_at_once_both_succeed(database_url: str) -> None:
    first = Database(async_database_url(database_url))
    second = Database(async_database_url(database_url))
    try:
        await asyncio.gather(first.migrate(), second.migrate())
        async with first.engine.connect() as connection:
            assert await connection.run_sync(_schema_differences) == []
    finally:
        await first.close()
        await second.close()


# -- users and keys ------------------------------------------------------------------------------


async def test_users_round_trip_and_a_taken_name_is_a_conflict(db: Database) -> None:
    async with db.transaction() as session:
        users = UserRepository(session)
        ada = await users.add(name="ada", email="ada@example.com", roles=["admin", "user"])
        await users.add(name="bob", email=None, roles=[])

    async with db.transaction() as session:
        users = UserRepository(session)
        assert await users.get(ada.id) == ada
        assert await users.by_name("ada") == ada
        assert await users.get("user_missing") is None
        assert [u.name for u in await users.list()] == ["ada", "bob"]
        assert await users.count() == 2
    assert ada.roles == ("admin", "user")
    assert ada.is_admin
    assert ada.created_at.tzinfo is not None
    assert abs(ada.created_at - datetime.now(UTC)) < timedelta(minutes=1)

    with pytest.raises(Conflict, match="ada"):
        async with db.transaction() as session:
            await UserRepository(session).add(name="ada", email=None, roles=[])
    async with db.transaction() as session:
        assert await UserRepository(session).count() == 2


async def test_api_keys_round_trip_with_aware_datetimes(db: Database) -> None:
    user = await new_user(db)
    expires = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2)))
    async with db.transaction() as session:
        key = await ApiKeyRepository(session).add(
            user_id=user.id,
            name="laptop",
            prefix="hp-abc",
            secret_hash="a" * 64,
            scopes=["chat", "models"],
            expires_at=expires,
        )
    used = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    async with db.transaction() as session:
        keys = ApiKeyRepository(session)
        await keys.touch(key.id, used)
        await keys.revoke(key.id)

    async with db.transaction() as session:
        keys = ApiKeyRepository(session)
        stored = await keys.get(key.id)
        assert await keys.by_hash("a" * 64) == stored
        assert await keys.by_hash("b" * 64) is None
        assert [k.id for k in await keys.list(user_id=user.id)] == [key.id]
        assert await keys.list(user_id="user_nobody") == []
    assert stored is not None
    assert stored.scopes == ("chat", "models")
    assert stored.expires_at == expires
    assert stored.expires_at.utcoffset() is not None
    assert stored.last_used_at == used
    assert stored.revoked_at is not None
    assert stored.revoked_at.tzinfo is not None
    assert stored.created_at <= stored.revoked_at
    assert not stored.is_active(datetime.now(UTC))


async def test_revoking_twice_keeps_the_first_revocation_time(db: Database) -> None:
    user = await new_user(db)
    async with db.transaction() as session:
        keys = ApiKeyRepository(session)
        key = await keys.add(
            user_id=user.id, name="k", prefix="p", secret_hash="c" * 64, scopes=[], expires_at=None
        )
        await keys.revoke(key.id)
        first = await keys.get(key.id)
    assert first is not None and first.revoked_at is not None
    await asyncio.sleep(0.01)
    async with db.transaction() as session:
        await ApiKeyRepository(session).revoke(key.id)
        again = await ApiKeyRepository(session).get(key.id)
    assert again is not None
    assert again.revoked_at == first.revoked_at


# -- providers ----------------------------------------------------------------------------------


async def test_providers_round_trip_json_columns_and_upsert_by_name(db: Database) -> None:
    options = {"headers": {"X-Org": "acme"}, "timeout": 12.5, "tags": ["a", "ü"], "on": True}
    async with db.transaction() as session:
        config, created = await ProviderRepository(session).upsert(
            name="together",
            values={
                "kind": "openai",
                "base_url": "https://api.together.xyz/v1",
                "api_key_encrypted": "ciphertext",
                "models_allowed": ["m1", "m2"],
                "options": options,
                "source": "apply",
            },
        )
    assert created
    async with db.transaction() as session:
        providers = ProviderRepository(session)
        stored = await providers.get("together")
        assert await providers.encrypted_key("together") == "ciphertext"
    assert stored == config
    assert stored.options == options
    assert stored.models_allowed == ("m1", "m2")
    assert stored.has_api_key
    assert stored.source == "apply"
    assert stored.updated_at.tzinfo is not None

    async with db.transaction() as session:
        updated, created = await ProviderRepository(session).upsert(
            name="together",
            values={"base_url": "http://other/v1", "api_key_encrypted": None, "options": {}},
        )
    assert not created
    async with db.transaction() as session:
        providers = ProviderRepository(session)
        listed = await providers.list()
        assert [p.id for p in listed] == [config.id]
        assert listed[0] == updated
        assert await providers.encrypted_key("together") is None
    assert updated.base_url == "http://other/v1"
    assert updated.options == {}
    assert not updated.has_api_key
    assert updated.models_allowed == ("m1", "m2")
    assert updated.updated_at >= config.updated_at
    assert updated.created_at == config.created_at


async def test_providers_are_listed_by_name_and_deleted(db: Database) -> None:
    values = {"kind": "ollama", "base_url": "http://localhost:11434", "models_allowed": None}
    async with db.transaction() as session:
        providers = ProviderRepository(session)
        for name in ("zeta", "alpha", "mid"):
            await providers.upsert(name=name, values=values)
    async with db.transaction() as session:
        providers = ProviderRepository(session)
        assert [p.name for p in await providers.list()] == ["alpha", "mid", "zeta"]
        assert (await providers.get("mid")).models_allowed is None  # type: ignore[union-attr]
        assert await providers.delete("mid")
        assert not await providers.delete("mid")
        assert await providers.get("mid") is None
        assert await providers.encrypted_key("mid") is None


# -- chat sessions ---------------------------------------------------------------------------------


async def test_sessions_page_newest_first_per_user(db: Database) -> None:
    ada, bob = await new_user(db, "ada"), await new_user(db, "bob")
    created = []
    for index in range(5):
        async with db.transaction() as session:
            repo = ChatSessionRepository(session)
            created.append(
                await repo.add(user_id=ada.id, title=f"t{index}", model=None, system_prompt=None)
            )
            await repo.add(user_id=bob.id, title="bob's", model=None, system_prompt=None)

    pages, after = [], None
    while True:
        async with db.transaction() as session:
            page, more = await ChatSessionRepository(session).page(
                user_id=ada.id, limit=2, after=after
            )
        pages.append([s.title for s in page])
        if not more:
            break
        after = page[-1].id
    assert pages == [["t4", "t3"], ["t2", "t1"], ["t0"]]

    async with db.transaction() as session:
        repo = ChatSessionRepository(session)
        assert await repo.get(created[0].id, user_id=ada.id) == created[0]
        assert await repo.get(created[0].id, user_id=bob.id) is None
        assert await repo.update(created[0].id, user_id=bob.id, title="stolen") is None


async def test_session_round_trip_update_and_message_fields(db: Database) -> None:
    user = await new_user(db)
    async with db.transaction() as session:
        repo = ChatSessionRepository(session)
        chat = await repo.add(
            user_id=user.id, title="Plans", model="up/fake-chat", system_prompt="Be brief."
        )
        question = await repo.add_message(chat.id, role="user", content="hi ✓")
        answer = await repo.add_message(
            chat.id,
            role="assistant",
            content="hello",
            status="complete",
            model="up/fake-chat",
            prompt_tokens=3,
            completion_tokens=1,
            time_to_first_token_ms=12,
            duration_ms=34,
            finish_reason="stop",
        )
    async with db.transaction() as session:
        repo = ChatSessionRepository(session)
        renamed = await repo.update(chat.id, user_id=user.id, title="Renamed")
        stored = await repo.get(chat.id, user_id=user.id)
        messages = await repo.messages(chat.id)
    assert messages == [question, answer]
    assert question.status == "complete"
    assert question.content == "hi ✓"
    assert answer.created_at.tzinfo is not None
    assert renamed == stored
    assert stored is not None
    assert (stored.title, stored.model, stored.system_prompt) == (
        "Renamed",
        "up/fake-chat",
        "Be brief.",
    )
    assert stored.created_at == chat.created_at
    assert stored.updated_at >= answer.created_at


async def test_deleting_a_session_deletes_its_messages(db: Database) -> None:
    user = await new_user(db)
    async with db.transaction() as session:
        repo = ChatSessionRepository(session)
        doomed = await repo.add(user_id=user.id, title="a", model=None, system_prompt=None)
        kept = await repo.add(user_id=user.id, title="b", model=None, system_prompt=None)
        for chat in (doomed, kept):
            await repo.add_message(chat.id, role="user", content="x")
            await repo.add_message(chat.id, role="assistant", content="y")
    async with db.transaction() as session:
        repo = ChatSessionRepository(session)
        assert not await repo.delete(doomed.id, user_id="user_other")
        assert await repo.delete(doomed.id, user_id=user.id)
        assert not await repo.delete(doomed.id, user_id=user.id)
    async with db.transaction() as session:
        repo = ChatSessionRepository(session)
        assert await repo.get(doomed.id, user_id=user.id) is None
        assert await repo.messages(doomed.id) == []
        assert len(await repo.messages(kept.id)) == 2
        count = await session.scalar(select(func.count()).select_from(MessageRow))
    assert count == 2


async def test_text_postgres_cannot_hold_is_stored_the_same_on_every_database(
    db: Database,
) -> None:
    user = await new_user(db)
    async with db.transaction() as session:
        repo = ChatSessionRepository(session)
        chat = await repo.add(user_id=user.id, title="t\x00", model=None, system_prompt="\x00")
        await repo.add_message(chat.id, role="user", content="a\x00b")
    async with db.transaction() as session:
        repo = ChatSessionRepository(session)
        assert await repo.get(chat.id + "\x00", user_id=user.id) is None
        stored = await repo.get(chat.id, user_id=user.id)
        messages = await repo.messages(chat.id)
    assert stored is not None
    assert (stored.title, stored.system_prompt) == ("t\ufffd", "\ufffd")
    assert [m.content for m in messages] == ["a\ufffdb"]


# -- transactions and concurrency ------------------------------------------------------------


async def test_a_transaction_that_raises_writes_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError, match="midway"):
        async with db.transaction() as session:
            user = await UserRepository(session).add(name="ada", email=None, roles=[])
            chat = await ChatSessionRepository(session).add(
                user_id=user.id, title="t", model=None, system_prompt=None
            )
            await ChatSessionRepository(session).add_message(chat.id, role="user", content="x")
            raise RuntimeError("failed midway")
    async with db.transaction() as session:
        assert await UserRepository(session).count() == 0
        assert await session.scalar(select(func.count()).select_from(MessageRow)) == 0


async def test_a_failed_transaction_does_not_undo_an_earlier_one(db: Database) -> None:
    await new_user(db, "ada")
    with pytest.raises(Conflict):
        async with db.transaction() as session:
            await UserRepository(session).add(name="bob", email=None, roles=[])
            await UserRepository(session).add(name="ada", email=None, roles=[])
    async with db.transaction() as session:
        names = list(await session.scalars(select(UserRow.name)))
    assert names == ["ada"]


async def test_concurrent_writers_all_persist_in_order(db: Database) -> None:
    user = await new_user(db)
    async with db.transaction() as session:
        chat = await ChatSessionRepository(session).add(
            user_id=user.id, title="busy", model=None, system_prompt=None
        )

    async def write(index: int) -> str:
        async with db.transaction() as session:
            message = await ChatSessionRepository(session).add_message(
                chat.id, role="user", content=f"message {index}"
            )
        return message.id

    ids = await asyncio.gather(*(write(i) for i in range(20)))
    assert len(set(ids)) == 20
    async with db.transaction() as session:
        stored = await ChatSessionRepository(session).messages(chat.id)
    assert [m.id for m in stored] == sorted(ids)
    assert sorted(m.content for m in stored) == sorted(f"message {i}" for i in range(20))
