"""AI messages: tool calls round-trip, lists by AI call, the transcript oldest first."""
from __future__ import annotations

from flowengine.store import AIMessage, Store, ToolCall, ToolFunction
from tests.store.conftest import new_customer

AICALL = "6f7a8b9c-0d1e-4345-8012-345678901234"
OTHER_AICALL = "7f7a8b9c-0d1e-4345-8012-345678901234"


async def test_tool_calls_round_trip(store: Store) -> None:
    customer_id = await new_customer(store)
    call = ToolCall(id="call_1", function=ToolFunction(name="connect_call", arguments='{"to": "+15550100"}'))
    message = await store.aimessages.create(
        AIMessage(customer_id=customer_id, aicall_id=AICALL, role="assistant", direction="incoming", tool_calls=[call])
    )
    got = await store.aimessages.get(customer_id, message.id)
    assert got == message and got.tool_calls[0].function.arguments == '{"to": "+15550100"}'


async def test_transcript_and_lists_by_aicall(store: Store) -> None:
    customer_id = await new_customer(store)
    said = []
    for i, role in enumerate(["system", "user", "assistant", "user", "assistant"]):
        said.append(
            await store.aimessages.create(AIMessage(customer_id=customer_id, aicall_id=AICALL, role=role, content=f"{i}"))
        )
    await store.aimessages.create(AIMessage(customer_id=customer_id, aicall_id=OTHER_AICALL, role="user"))
    await store.aimessages.delete(customer_id, said[3].id)

    transcript = await store.aimessages.transcript(customer_id, AICALL)
    assert [m.content for m in transcript] == ["0", "1", "2", "4"]
    items, _ = await store.aimessages.list_page(customer_id, filters={"aicall_id": AICALL})
    assert [m.content for m in items] == ["4", "2", "1", "0"]  # the API's order: newest first
    other = await new_customer(store)
    assert await store.aimessages.transcript(other, AICALL) == []
