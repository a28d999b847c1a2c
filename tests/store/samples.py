"""One valid record per customer-scoped repository, and a legal change of each, for the
tests that every repository must pass alike."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowengine.store import (
    AI,
    Activeflow,
    Address,
    AIcall,
    AIMessage,
    Call,
    CustomerRecord,
    Flow,
    Store,
    Team,
    TeamMember,
)
from flowengine.store.repository import ScopedRepository

SAMPLES: dict[str, Callable[[str], CustomerRecord]] = {
    "flows": lambda cid: Flow(customer_id=cid, name="menu", actions=[{"id": "a1", "type": "answer", "option": {}}]),
    "activeflows": lambda cid: Activeflow(customer_id=cid, reference_type="call"),
    "calls": lambda cid: Call(customer_id=cid, direction="incoming", source=Address(type="tel", target="+15550100")),
    "ais": lambda cid: AI(customer_id=cid, name="sales", engine_model="openai.gpt-4o"),
    "aicalls": lambda cid: AIcall(customer_id=cid, reference_type="call"),
    "aimessages": lambda cid: AIMessage(customer_id=cid, role="user", direction="outgoing", content="hello"),
    "teams": lambda cid: Team(
        customer_id=cid,
        name="desk",
        start_member_id="m1",
        members=[TeamMember(id="m1", name="front", ai_id="00000000-0000-0000-0000-00000000000a")],
    ),
    "accesskeys": lambda cid: CustomerRecord(customer_id=cid),  # made by issue(), see create()
}

CHANGES: dict[str, dict[str, Any]] = {
    "flows": {"name": "main menu"},
    "activeflows": {"status": "paused"},
    "calls": {"status": "progressing"},
    "ais": {"name": "support"},
    "aicalls": {"status": "progressing"},
    "aimessages": {"content": "hello again"},
    "teams": {"name": "front desk"},
    "accesskeys": {"name": "ci key"},
}

REPOSITORIES = sorted(SAMPLES)


def repository(store: Store, name: str) -> ScopedRepository[Any]:
    repo: ScopedRepository[Any] = getattr(store, name)
    return repo


async def create(store: Store, name: str, customer_id: str) -> Any:
    if name == "accesskeys":
        return (await store.accesskeys.issue(customer_id, name="key")).key
    return await repository(store, name).create(SAMPLES[name](customer_id))
