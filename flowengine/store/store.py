"""`Store`: opens the database, migrates it, checks the secret key, and holds the repositories."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from pydantic import SecretStr
from sqlalchemy import Table, select, update

from flowengine.store.accesskeys import AccessKeyRepository
from flowengine.store.activeflows import ActiveflowRepository
from flowengine.store.aicalls import AIcallRepository
from flowengine.store.aimessages import AIMessageRepository
from flowengine.store.ais import AIRepository, ais
from flowengine.store.calls import CallRepository
from flowengine.store.campaigncalls import CampaigncallRepository
from flowengine.store.campaigns import CampaignRepository
from flowengine.store.crypto import SecretBox
from flowengine.store.customers import CustomerRepository, customers
from flowengine.store.database import DEFAULT_URL, Database
from flowengine.store.dialclaims import DialClaims
from flowengine.store.flows import FlowRepository
from flowengine.store.frontdoor import AgentRepository, FrontCallRepository, agents
from flowengine.store.keycheck import verify_key
from flowengine.store.migrate import current_version, head_version, migrate
from flowengine.store.nodes import NodeRepository
from flowengine.store.numbers import NumberRepository
from flowengine.store.outbox import OutboxRepository
from flowengine.store.outdials import OutdialRepository, OutdialTargetRepository
from flowengine.store.outplans import OutplanRepository
from flowengine.store.summaries import SummaryRepository
from flowengine.store.teams import TeamRepository
from flowengine.store.timelines import TimelineRepository
from flowengine.store.timestamps import Clock, MonotonicClock

log = logging.getLogger(__name__)

_ENCRYPTED: tuple[tuple[Table, str], ...] = (
    (ais, "engine_key_enc"), (ais, "tool_secrets_enc"), (customers, "webhook_secret_enc"), (agents, "headers_enc"))


class Store:
    """All persistence of one engine node. Open with `await Store.open(url, secret_keys=[...])`
    (or `async with await Store.open(...) as store:`); close with `await store.aclose()`."""

    def __init__(self, db: Database, secrets: SecretBox, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._secrets = secrets
        self.customers = CustomerRepository(db, clock, secrets)
        self.accesskeys = AccessKeyRepository(db, clock)
        self.flows = FlowRepository(db, clock)
        self.activeflows = ActiveflowRepository(db, clock)
        self.calls = CallRepository(db, clock)
        self.ais = AIRepository(db, clock, secrets)
        self.aicalls = AIcallRepository(db, clock)
        self.aimessages = AIMessageRepository(db, clock)
        self.teams = TeamRepository(db, clock)
        self.campaigns = CampaignRepository(db, clock)
        self.outplans = OutplanRepository(db, clock)
        self.outdials = OutdialRepository(db, clock)
        self.outdialtargets = OutdialTargetRepository(db, clock)
        self.campaigncalls = CampaigncallRepository(db, clock)
        self.frontcalls = FrontCallRepository(db, clock)  # Vapi calls, VoiceOS conversations
        self.agents = AgentRepository(db, clock, secrets)  # VoiceOS agents
        self.summaries = SummaryRepository(db, clock)  # AI summaries (ai_summary, /aisummaries)
        self.numbers = NumberRepository(db, clock)  # phone numbers routing inbound calls to customers' flows
        self.outbox = OutboxRepository(db, clock)  # webhook bodies waiting for their receivers
        self.dialclaims = DialClaims(db, clock)  # campaign dials claimed across nodes within the caps
        self.nodes = NodeRepository(db, clock)  # engine nodes and their leases
        self.node_id = ""  # the node whose live records this store writes (`own`)
        self.timelines = TimelineRepository(db, clock)  # what happened on each call, in order

    @classmethod
    async def open(
        cls,
        url: str = DEFAULT_URL,
        *,
        secret_keys: Sequence[str | SecretStr] = (),
        migrate: bool = True,
        clock: Clock | None = None,
        echo: bool = False,
    ) -> Store:
        """Connects, applies pending migrations (unless `migrate=False`) and verifies the secret
        key against the database. `secret_keys`: the first encrypts, all decrypt (rotation)."""
        secrets = SecretBox(secret_keys)  # invalid keys fail before anything is touched
        db = Database(url, echo=echo)
        store = cls(db, secrets, clock or MonotonicClock())
        try:
            await db.prepare()
            if migrate:
                await store.migrate()
            await verify_key(db, secrets, store.clock)
        except BaseException:
            await db.dispose()
            raise
        return store

    def own(self, node_id: str) -> None:
        """Calls, activeflows, AI calls and campaigncalls created from now on belong to `node_id`."""
        self.node_id = node_id
        for repository in (self.calls, self.activeflows, self.aicalls, self.campaigncalls):
            repository.node_id = node_id
        self.dialclaims.node_id = node_id

    async def migrate(self) -> list[int]:
        """Applies pending migrations; returns their versions ([] when already at head)."""
        return await migrate(self.db, self.clock)

    async def schema_version(self) -> int:
        return await current_version(self.db)

    @staticmethod
    def head_version() -> int:
        return head_version()

    async def ping(self) -> None:
        """For /health: raises StoreUnavailableError unless the database answers."""
        await self.db.ping()

    async def rotate_secrets(self) -> int:
        """Re-encrypts every stored secret with the first configured key (after a key change,
        before dropping the old key from the config). Returns how many were re-encrypted."""
        count = 0
        for table, column in _ENCRYPTED:
            async with self.db.write() as conn:
                stmt = select(table.c.id, table.c[column]).where(table.c[column].is_not(None))
                rows = (await conn.execute(stmt)).all()
                for row_id, token in rows:
                    if self._secrets.needs_rotation(token):
                        fresh = self._secrets.rotate(token, purpose=f"{table.name}.{column} of {row_id}")
                        await conn.execute(update(table).where(table.c.id == row_id).values({column: fresh}))
                        count += 1
        if count:
            log.info("re-encrypted %d stored secrets with the current store key", count)
        return count

    async def aclose(self) -> None:
        await self.db.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


async def open_store(
    url: str = DEFAULT_URL, *, secret_keys: Sequence[str | SecretStr] = (), clock: Clock | None = None
) -> Store:
    """`Store.open` with the defaults: migrate at open, verify the key."""
    return await Store.open(url, secret_keys=secret_keys, clock=clock)
