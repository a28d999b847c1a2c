"""The process's instruments: the event bus counted with bounded labels, and the telemetry port as the providers,
the espeak voice and the OpenAI-compatible client (against a local server) report through it."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from flowengine import telemetry
from flowengine.api.instruments import OTHER, Instruments
from flowengine.events import EventBus
from flowengine.providers.llm import create_llm
from flowengine.providers.llm.base import ChatMessage, LLMError
from flowengine.providers.tts.espeak import EspeakTTS
from flowengine.providers.usage import UsageMeter
from tests.fakes.openai_server import FakeOpenAIServer, Reply

MESSAGES = [ChatMessage("system", "You book dental appointments."), ChatMessage("user", "Hi, I need a cleaning.")]


def value(instruments: Instruments, name: str, **labels: str) -> float:
    found = instruments.registry.get_sample_value(name, labels)
    return found if found is not None else 0.0


@pytest.fixture
def sink() -> Iterator[Instruments]:
    """Fresh instruments as the process's sink for one test (its own registry), the previous sink put back."""
    previous, instruments = telemetry.sink(), Instruments()
    telemetry.install(instruments)
    try:
        yield instruments
    finally:
        telemetry.install(previous)


def test_the_bus_is_counted_with_labels_from_known_sets_only() -> None:
    bus, instruments = EventBus(), Instruments()
    stop = instruments.listen(bus)
    bus.emit("call_created", "c1", {"id": "call-1", "direction": "incoming"})
    bus.emit("call_hangup", "c1", {"id": "call-1", "direction": "incoming", "hangup_by": "remote",
                                   "hangup_reason": "busy"})
    bus.emit("call_hangup", "c1", {"id": "call-2", "direction": "incoming", "hangup_by": "remote",
                                   "hangup_reason": "a reason from elsewhere"})
    bus.emit("aicall_status_initializing", "c1", {"id": "ai-1", "reference_type": "call"})
    bus.emit("aicall_status_progressing", "c1", {"id": "ai-1", "reference_type": "call"})  # not an end
    bus.emit("aicall_status_terminated", "c1", {"id": "ai-1", "reference_type": "call",
                                                "ended_reason": "silence-timed-out"})
    bus.emit("aicall_status_terminated", "c1", {"id": "ai-2", "reference_type": "call", "ended_reason": "ai-2 x"})
    bus.emit("campaigncall_created", "c1", {"id": "cc-1", "status": "dialing"})
    bus.emit("campaigncall_updated", "c1", {"id": "cc-1", "status": "progressing", "result": ""})  # not done yet
    bus.emit("campaigncall_updated", "c1", {"id": "cc-1", "status": "done", "result": "fail",
                                            "hangup_reason": "noanswer"})
    stop()
    bus.emit("call_created", "c1", {"id": "call-3", "direction": "incoming"})  # no longer listening
    assert value(instruments, "flowengine_calls_started_total", direction="incoming") == 1
    ended = {"direction": "incoming", "hangup_by": "remote"}
    assert value(instruments, "flowengine_calls_ended_total", **ended, hangup_reason="busy") == 1
    assert value(instruments, "flowengine_calls_ended_total", **ended, hangup_reason=OTHER) == 1
    assert value(instruments, "flowengine_aicalls_started_total", reference_type="call") == 1
    assert value(instruments, "flowengine_aicalls_ended_total", reference_type="call",
                 ended_reason="silence-timed-out") == 1
    assert value(instruments, "flowengine_aicalls_ended_total", reference_type="call", ended_reason=OTHER) == 1
    assert value(instruments, "flowengine_campaign_dials_started_total") == 1
    assert value(instruments, "flowengine_campaign_dials_total", result="fail", hangup_reason="noanswer") == 1
    names = {s.name for m in instruments.registry.collect() for s in m.samples}
    assert not any("call-" in n or "ai-" in n for n in names)


async def test_a_voice_reports_each_sentence_and_a_cut_one_as_cancelled(sink: Instruments) -> None:
    tts = UsageMeter().tts(EspeakTTS())
    chunks = [chunk async for chunk in tts.stream("Good morning, this is the dental office.")]
    assert chunks
    assert value(sink, "flowengine_provider_requests_total", kind="tts", provider="espeak", outcome="ok") == 1
    assert value(sink, "flowengine_provider_request_duration_seconds_count", kind="tts", provider="espeak") == 1
    assert value(sink, "flowengine_provider_request_duration_seconds_sum", kind="tts", provider="espeak") > 0
    async with contextlib.aclosing(tts.stream("A long reply the caller talks over. " * 5)) as cut:
        async for _ in cut:
            break  # a barge-in: the conversation closes the stream after the first chunk
    assert value(sink, "flowengine_provider_requests_total", kind="tts", provider="espeak", outcome="cancelled") == 1
    assert value(sink, "flowengine_provider_request_duration_seconds_count", kind="tts", provider="espeak") == 1


async def test_a_failed_model_request_is_an_error_with_its_duration(sink: Instruments) -> None:
    async with FakeOpenAIServer() as server:
        server.script(Reply(text="Sure, which day suits you?"), Reply(status=401, error="bad key"))
        llm = UsageMeter().llm(create_llm("openai.gpt-test", api_key="sk-test-key", base_url=server.base_url))
        try:
            assert [e async for e in llm.stream(MESSAGES)]
            with pytest.raises(LLMError):
                [e async for e in llm.stream(MESSAGES)]
        finally:
            await llm.aclose()
    for outcome in ("ok", "error"):
        assert value(sink, "flowengine_provider_requests_total", kind="llm", provider="openai", outcome=outcome) == 1
    assert value(sink, "flowengine_provider_request_duration_seconds_count", kind="llm", provider="openai") == 2
