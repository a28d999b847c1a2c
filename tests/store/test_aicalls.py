"""AI calls: every field of the AIcall seed round-trips; terminate happens once."""
from __future__ import annotations

from typing import Any

from flowengine.store import NOT_YET, AIcall, Store, VadConfig
from tests.store.conftest import new_customer

SEED_AICALL: dict[str, Any] = {  # the example of seed 000, ids and times aside
    "assistance_type": "ai",
    "assistance_id": "b2c3d4e5-f6a7-8901-bcde-f12345678901",
    "ai_engine_model": "openai.gpt-4o",
    "ai_tts_type": "elevenlabs",
    "ai_tts_voice_id": "21m00Tcm4TlvDq8ikWAM",
    "ai_stt_type": "deepgram",
    "ai_vad_config": None,
    "ai_smart_turn_enabled": True,
    "parameter": {},
    "activeflow_id": "c3d4e5f6-a7b8-9012-cdef-123456789012",
    "reference_type": "call",
    "reference_id": "d4e5f6a7-b8c9-0123-defa-234567890123",
    "confbridge_id": "e5f6a7b8-c9d0-1234-efab-345678901234",
    "current_member_id": "f6a7b8c9-d0e1-2345-fabc-456789012345",
    "status": "progressing",
    "stt_language": "en-US",
}
SEED_TIMES = {"tm_end", "tm_create", "tm_update", "tm_delete"}


async def test_every_seed_field_round_trips(store: Store) -> None:
    assert set(SEED_AICALL) | SEED_TIMES | {"id", "customer_id"} <= set(AIcall.model_fields)
    customer_id = await new_customer(store)
    aicall = await store.aicalls.create(AIcall(customer_id=customer_id, **SEED_AICALL))
    got = await store.aicalls.get(customer_id, aicall.id)
    assert got == aicall
    assert got.model_dump(include=set(SEED_AICALL)) == SEED_AICALL
    assert got.tm_end == NOT_YET


async def test_vad_config_and_metadata(store: Store) -> None:
    customer_id = await new_customer(store)
    snapshot = {"prompt_snapshots": [{"ai_id": "x", "prompt": "You are...", "member_id": "y"}]}
    aicall = await store.aicalls.create(
        AIcall(customer_id=customer_id, ai_vad_config=VadConfig(min_volume=0.4), metadata=snapshot)
    )
    got = await store.aicalls.get(customer_id, aicall.id)
    assert got.ai_vad_config == VadConfig(min_volume=0.4) and got.metadata == snapshot


async def test_terminate_once(store: Store) -> None:
    customer_id = await new_customer(store)
    aicall = await store.aicalls.create(AIcall(customer_id=customer_id, **SEED_AICALL))
    done, changed = await store.aicalls.terminate(customer_id, aicall.id, reason="customer-ended-call")
    assert changed and done.status == "terminated" and done.tm_end != NOT_YET
    assert done.ended_reason == "customer-ended-call"
    again, changed = await store.aicalls.terminate(customer_id, aicall.id, reason="later")
    assert not changed and again == done
    live, _ = await store.aicalls.list_page(customer_id, filters={"status": ["initiating", "progressing"]})
    assert live == []
