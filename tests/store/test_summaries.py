"""AI summaries: VoIPBIN's fields round-trip; one live summary per (customer, reference_id, language), kept
by the database across restarts and between engine nodes; soft delete; another customer sees nothing."""
from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from flowengine.store import NIL_ID, NOT_YET, AlreadyExistsError, NotFoundError, Store, Summary
from tests.store.conftest import SECRET_KEY, new_customer

CALL_ID = "d4e5f6a7-b8c9-4123-8efa-234567890123"
VOIPBIN_FIELDS = {"id", "customer_id", "activeflow_id", "on_end_flow_id", "reference_type", "reference_id", "status",
                  "language", "content", "tm_create", "tm_update", "tm_delete"}


async def test_fields_round_trip_and_done(store: Store) -> None:
    assert VOIPBIN_FIELDS | {"error"} == set(Summary.model_fields) - {"revision"}
    customer_id = await new_customer(store)
    summary, created = await store.summaries.create_once(Summary(
        customer_id=customer_id, activeflow_id="c3d4e5f6-a7b8-4012-8def-123456789012", on_end_flow_id="summarised",
        reference_id=CALL_ID, language="en-US"))
    assert created and summary.status == "progressing" and summary.reference_type == "call"
    assert summary.content == summary.error == "" and summary.tm_update == summary.tm_delete == NOT_YET
    assert await store.summaries.get(customer_id, summary.id) == summary
    done = await store.summaries.update(customer_id, summary.id, status="done", content="The caller booked Friday.")
    assert (await store.summaries.get(customer_id, summary.id)) == done
    assert done.status == "done" and done.content == "The caller booked Friday." and done.tm_update != NOT_YET
    assert done.on_end_flow_id == "summarised"


def test_reference_type_and_status_are_voipbins() -> None:
    with pytest.raises(ValidationError, match="reference_type"):
        Summary(customer_id=NIL_ID, reference_id=CALL_ID, reference_type="video")
    with pytest.raises(ValidationError, match="status"):
        Summary(customer_id=NIL_ID, reference_id=CALL_ID, status="failed")


async def test_one_live_summary_per_customer_reference_and_language(store: Store) -> None:
    customer_id, other_id = await new_customer(store), await new_customer(store)
    first, created = await store.summaries.create_once(Summary(customer_id=customer_id, reference_id=CALL_ID,
                                                               language="en-US"))
    again, created_again = await store.summaries.create_once(Summary(customer_id=customer_id, reference_id=CALL_ID,
                                                                     language="en-US", on_end_flow_id="other"))
    assert created and not created_again and again == first
    german, created = await store.summaries.create_once(Summary(customer_id=customer_id, reference_id=CALL_ID,
                                                                language="de-DE"))
    assert created and german.id != first.id
    theirs, created = await store.summaries.create_once(Summary(customer_id=other_id, reference_id=CALL_ID,
                                                                language="en-US"))
    assert created and theirs.id != first.id
    assert await store.summaries.find(customer_id, CALL_ID, "en-US") == first
    assert await store.summaries.find(customer_id, CALL_ID, "fr-FR") is None
    # the database itself refuses a second live one (what keeps two engine nodes apart)
    with pytest.raises(AlreadyExistsError):
        await store.summaries.create(Summary(customer_id=customer_id, reference_id=CALL_ID, language="en-US"))
    # a deleted summary no longer counts: the reference can be summarised again
    await store.summaries.delete(customer_id, first.id)
    fresh, created = await store.summaries.create_once(Summary(customer_id=customer_id, reference_id=CALL_ID,
                                                               language="en-US"))
    assert created and fresh.id != first.id
    deleted = await store.summaries.get(customer_id, first.id, include_deleted=True)
    assert deleted.tm_delete != NOT_YET


async def test_idempotence_holds_across_a_restart(shared_url: str) -> None:
    async with await Store.open(shared_url, secret_keys=[SECRET_KEY]) as before:
        customer_id = await new_customer(before)
        made, created = await before.summaries.create_once(Summary(customer_id=customer_id, reference_id=CALL_ID))
        assert created
    async with await Store.open(shared_url, secret_keys=[SECRET_KEY]) as after:
        found, created = await after.summaries.create_once(Summary(customer_id=customer_id, reference_id=CALL_ID))
        assert not created and found == made


async def test_nodes_asking_at_once_make_one_summary(shared_url: str) -> None:
    nodes = [await Store.open(shared_url, secret_keys=[SECRET_KEY]) for _ in range(3)]
    try:
        customer_id = await new_customer(nodes[0])
        results = await asyncio.gather(*(
            node.summaries.create_once(Summary(customer_id=customer_id, reference_id=CALL_ID, language="en-US"))
            for node in nodes for _ in range(3)))
        assert sum(created for _, created in results) == 1
        assert len({summary.id for summary, _ in results}) == 1
        page = await nodes[1].summaries.list_page(customer_id)
        assert [s.id for s in page.items] == [results[0][0].id]
    finally:
        for node in nodes:
            await node.aclose()


async def test_another_customer_neither_sees_nor_deletes(store: Store) -> None:
    customer_id, other_id = await new_customer(store), await new_customer(store)
    mine, _ = await store.summaries.create_once(Summary(customer_id=customer_id, reference_id=CALL_ID))
    with pytest.raises(NotFoundError):
        await store.summaries.get(other_id, mine.id)
    with pytest.raises(NotFoundError):
        await store.summaries.delete(other_id, mine.id)
    assert (await store.summaries.list_page(other_id)).items == []
    assert await store.summaries.find(other_id, CALL_ID, "") is None
    assert (await store.summaries.get(customer_id, mine.id)).deleted is False
    with pytest.raises(NotFoundError, match="customer"):
        await store.summaries.create_once(Summary(customer_id="0f0f0f0f-0000-4000-8000-000000000000",
                                                  reference_id=CALL_ID))
