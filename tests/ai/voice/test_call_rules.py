"""Call rules on real calls through the private Asterisk: first message, silence timeout, maximum duration,
end-call phrases, and the usage and costs recorded for the call."""
from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from flowengine.ai import talk  # noqa: F401  (registers ai_talk)
from flowengine.ai.aicall import AICallService
from flowengine.ai.definitions import AIConfig
from flowengine.ai.postcall.outcome import END_OF_CALL_REPORT
from flowengine.ai.voice.callrules import SILENCE_PROMPT
from flowengine.ai.voice.media import MediaSettings
from flowengine.asterisk.ari.client import AriClient
from flowengine.events import EventBus
from flowengine.flow.context import ServicesLink
from flowengine.flow.persistence import ENGINE_CUSTOMER_ID
from flowengine.providers.llm.base import LLMProvider
from flowengine.providers.pricing import LLMPrice, PerCharacters, PerMinute, PriceTable
from flowengine.providers.stt.base import STTProvider
from flowengine.store import AI, NOT_YET, Customer, Store
from tests.ai.fakes import ScriptedSTT, ScriptedToolLLM
from tests.ai.test_ai_talk import Pool, speech_file
from tests.conftest import Asterisk
from tests.flow.calls import Harness, flow_harness, place_call, speech_seconds
from tests.support import eventually

AI_ID = "8a0e5c1e-0000-4000-8000-000000000002"
FLOW = {"id": "main", "actions": [
    {"type": "answer"},
    {"id": "agent", "type": "ai_talk", "option": {"assistance_id": AI_ID,
                                                   "variable_values": {"office": "Bright Smile"}}},
    {"id": "after", "type": "variable_set", "option": {"key": "after", "value": "yes"}},
]}


class RuleAIs:
    def __init__(self, **fields: Any) -> None:
        self.config = AIConfig(AI(id=AI_ID, customer_id=ENGINE_CUSTOMER_ID, name="rules", engine_model="scripted.test",
                                  tool_names=["stop_service"], **fields))

    def get(self, ai_id: str) -> AIConfig | None:
        return self.config if ai_id == AI_ID else None


@asynccontextmanager
async def rules_harness(asterisk: Asterisk, ari: AriClient, tmp: Path, llm: LLMProvider, stt: STTProvider,
                        **fields: Any) -> AsyncIterator[tuple[Harness, AICallService, EventBus]]:
    bus, link = EventBus(), ServicesLink()
    service = AICallService(RuleAIs(**fields), Pool(stt, llm), ari, MediaSettings(), events=bus, flow_services=link)
    async with flow_harness(asterisk, ari, tmp, ai=service, link=link) as h:
        h.flows.add(FLOW)
        yield h, service, bus


def spoken(service: AICallService) -> list[tuple[str, str]]:
    record = service.recent[-1].record
    return [(m.role, m.content) for m in service.messages[record.id] if m.role in ("user", "assistant")]


async def test_first_message_then_silence_prompt_then_silence_timed_out(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    async with rules_harness(asterisk, ari, tmp_path, ScriptedToolLLM([]), ScriptedSTT([]),
                             first_message="Hello from ${office}.", silence_timeout_seconds=2,
                             end_call_message="Goodbye for now.") as (h, service, bus):
        async with bus.stream() as events:
            caller = await place_call(ari, record=True)
            af = await h.wait_ended(timeout=40)
            report = await events.next(END_OF_CALL_REPORT, timeout=10)
        live = service.recent[-1]
        assert live.record.ended_reason == "silence-timed-out"
        assert af.ended_reason == "ai_talk ended the flow: silence-timed-out" and "after" not in af.variables
        assert spoken(service) == [("assistant", "Hello from Bright Smile."), ("assistant", SILENCE_PROMPT),
                                   ("assistant", "Goodbye for now.")]
        assert live.record.variable_values == {"office": "Bright Smile"}
        assert report.data["ended_reason"] == "silence-timed-out" and report.extra["voiceos_ended_reason"] == "agent_ended"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", report.data["tm_end"])  # VoIPBIN's text
        assert report.data["tm_end"] != "9999-01-01 00:00:00.000000" and live.record.tm_end != NOT_YET
        heard = asterisk.instance.directory / "spool" / "recording" / f"{caller.recording}.wav"
        await eventually(lambda: asterisk.channels() == [], what="all channels gone")
        await eventually(heard.exists, what="caller recording")
        assert speech_seconds(heard) > 2.0  # greeting, prompt and goodbye reached the caller


async def test_max_duration_cuts_the_agent_and_says_the_end_message(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    long = "Let me tell you about all of our opening hours and our many services. " * 6
    async with rules_harness(asterisk, ari, tmp_path, ScriptedToolLLM([]), ScriptedSTT([]), first_message=long,
                             max_duration_seconds=3, end_call_message="Sorry, we are out of time.") as (h, service, _):
        loop = asyncio.get_running_loop()
        started = loop.time()
        await place_call(ari)
        af = await h.wait_ended(timeout=40)
        elapsed = loop.time() - started
        live = service.recent[-1]
        assert live.record.ended_reason == "exceeded-max-duration"
        assert af.ended_reason == "ai_talk ended the flow: exceeded-max-duration"
        said = spoken(service)
        assert said[-1] == ("assistant", "Sorry, we are out of time.")
        assert said[0][0] == "assistant" and len(said[0][1]) < len(long.strip())  # the long message was cut
        assert 3.0 <= elapsed < 20  # a bound on the rule, not a speed measurement


async def test_end_call_phrase_ends_the_call_after_the_agent_said_it_and_waits_for_user(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    llm = ScriptedToolLLM([("Thanks for calling, talk to you soon!", [])])
    stt = ScriptedSTT(["Goodbye."])
    prompt = speech_file(tmp_path, "bye", "Goodbye.")
    async with rules_harness(asterisk, ari, tmp_path, llm, stt, first_message="Never said.",
                             first_message_mode="assistant-waits-for-user",
                             end_call_phrases=["Talk to you soon"], end_call_message="Not said either.") as (h, service, _):
        caller = await place_call(ari, record=True)
        await eventually(lambda: bool(service.live), what="AI call live")
        await asyncio.sleep(1.5)
        live = next(iter(service.live.values()))
        assert live.conversation is not None and live.conversation.messages[-1].role != "assistant"
        playback = await caller.leg.play(prompt)
        await playback.wait(15)
        af = await h.wait_ended(timeout=30)
        record = service.recent[-1].record
        assert record.ended_reason == "assistant-said-end-call-phrase"
        assert af.ended_reason == "ai_talk ended the flow: assistant-said-end-call-phrase"
        assert spoken(service) == [("user", "Goodbye."), ("assistant", "Thanks for calling, talk to you soon!")]
        heard = asterisk.instance.directory / "spool" / "recording" / f"{caller.recording}.wav"
        await eventually(lambda: asterisk.channels() == [], what="all channels gone")
        await eventually(heard.exists, what="caller recording")
        assert speech_seconds(heard) > 1.2  # the whole phrase was played before the hangup


async def test_usage_and_costs_of_a_call_match_what_it_did(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    llm = ScriptedToolLLM([("Sure, booked for Tuesday. Goodbye.", ["stop_service"])])
    stt = ScriptedSTT(["Book Tuesday please."])
    prompt = speech_file(tmp_path, "tuesday", "Book Tuesday please.")
    async with rules_harness(asterisk, ari, tmp_path, llm, stt, first_message="Hello.") as (h, service, _bus):
        service.prices = PriceTable(llm={"scripted": LLMPrice(input_per_million=1_000_000, output_per_million=2e6)},
                                    stt={"scripted": PerMinute(per_minute=6.0)},
                                    tts={"espeak": PerCharacters(per_million_characters=1e6)},
                                    transport=PerMinute(per_minute=60.0))
        caller = await place_call(ari)
        await eventually(lambda: bool(service.live), what="AI call live")
        await asyncio.sleep(2.0)
        playback = await caller.leg.play(prompt)
        await playback.wait(15)
        await h.wait_ended(timeout=30)
        record = service.recent[-1].record
        assert record.ended_reason == "assistant-ended-call"
        usage, costs = record.usage, record.costs
        assert usage is not None and costs is not None
        said = [text for role, text in spoken(service) if role == "assistant"]
        assert usage["llm"]["provider"] == "scripted" and usage["llm"]["estimated"] is False
        assert usage["llm"]["requests"] == len(llm.requests) == 1
        assert (usage["llm"]["prompt_tokens"], usage["llm"]["completion_tokens"]) == (10, 5)
        assert usage["tts"]["provider"] == "espeak"
        assert said == ["Hello.", "Sure, booked for Tuesday. Goodbye."]
        # what was sent to the voice, sentence by sentence (the stored message joins them with a space)
        assert usage["tts"]["characters"] == len("Hello.") + len("Sure, booked for Tuesday.") + len("Goodbye.")
        assert usage["stt"]["requests"] == stt.calls >= 1 and 0.8 < usage["stt"]["seconds"] < 10
        assert 2.0 < usage["transport"]["seconds"] < 30
        vapi = costs["vapi"]
        assert vapi["llm"] == pytest.approx(10 * 1 + 5 * 2)
        assert vapi["tts"] == pytest.approx(usage["tts"]["characters"])
        assert vapi["stt"] == pytest.approx(usage["stt"]["seconds"] / 60 * 6, abs=1e-5)
        assert vapi["transport"] == pytest.approx(usage["transport"]["seconds"], abs=1e-3)
        assert vapi["total"] == pytest.approx(vapi["llm"] + vapi["tts"] + vapi["stt"] + vapi["transport"], abs=1e-5)
        assert costs["voiceos"]["language_model"]["input_tokens"] == 10 and costs["unpriced"] == []


class ServerPool(Pool):
    """Every AI call and every analysis gets a new client of the local OpenAI-compatible server."""

    def __init__(self, stt: STTProvider, base_url: str) -> None:
        super().__init__(stt, ScriptedToolLLM([]))
        self.base_url = base_url

    def llm(self, engine_model: str, api_key: str, parameter: dict[str, Any]) -> LLMProvider:
        from flowengine.providers.llm import create_llm

        return create_llm("openai.gpt-test", "sk-test", parameter, base_url=self.base_url)


async def test_analysis_runs_after_the_call_and_an_invalid_answer_is_reported_invalid(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    from tests.fakes.openai_server import FakeOpenAIServer, Reply

    schema = {"type": "object", "required": ["day"], "properties": {"day": {"enum": ["Monday", "Tuesday"]}}}
    prompt = speech_file(tmp_path, "thursday", "Thursday please.")
    async with FakeOpenAIServer() as server:
        server.script(Reply(text="Thursday it is. Goodbye.", tool_calls=(("stop_service", "{}"),), usage=(50, 6)),
                      Reply(text="The caller booked Thursday.", usage=(80, 6)),
                      Reply(text='{"day": "Thursday"}', usage=(90, 5)),
                      Reply(text='{"score": 8}', usage=(100, 4)))
        stt = ScriptedSTT(["Thursday please."])
        bus = EventBus()
        ais = RuleAIs(first_message="Which day?", analysis_plan={
            "structuredDataPlan": {"enabled": True, "schema": schema}})
        link = ServicesLink()
        service = AICallService(ais, ServerPool(stt, server.base_url), ari, MediaSettings(), events=bus,
                                flow_services=link)
        async with flow_harness(asterisk, ari, tmp_path, ai=service, link=link) as h, bus.stream() as events:
            h.flows.add(FLOW)
            caller = await place_call(ari)
            await eventually(lambda: bool(service.live), what="AI call live")
            await asyncio.sleep(1.5)
            playback = await caller.leg.play(prompt)
            await playback.wait(15)
            await h.wait_ended(timeout=30)
            report = await events.next(END_OF_CALL_REPORT, timeout=30)
        record = service.recent[-1].record
        analysis = record.analysis
        assert analysis is not None and report.data["analysis"] == analysis
        assert analysis["summary"] == "The caller booked Thursday."
        assert analysis["structuredData"] is None
        assert analysis["structuredDataValidation"]["valid"] is False
        assert analysis["successEvaluation"] == "8"
        assert "User: Thursday please." in report.data["transcript"]
        assert record.costs is not None and record.usage is not None
        assert record.usage["llm"]["prompt_tokens"] == 50
        assert record.usage["analysis"]["structuredData"]["prompt_tokens"] == 90
        assert record.costs["vapi"]["analysisCostBreakdown"]["successEvaluationCompletionTokens"] == 4
        assert record.costs["voiceos"]["language_model"]["input_tokens"] == 50 + 80 + 90 + 100


async def test_ai_summary_summarises_the_call_once_it_ended_and_runs_its_flow(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    from tests.fakes.openai_server import FakeOpenAIServer, Reply

    flow = {"id": "main", "actions": [
        {"type": "answer"},
        {"type": "ai_summary", "option": {"on_end_flow_id": "summarised", "language": "en-US"}},
        {"type": "ai_talk", "option": {"assistance_id": AI_ID}},
    ]}
    summarised = {"id": "summarised", "actions": [
        {"type": "variable_set", "option": {"key": "got", "value": "${voipbin.ai_summary.content}"}}]}
    prompt = speech_file(tmp_path, "friday", "Friday please.")
    async with FakeOpenAIServer() as server:
        server.script(Reply(text="Friday is booked. Goodbye.", tool_calls=(("stop_service", "{}"),)),
                      Reply(text="The caller booked Friday."))
        bus = EventBus()
        url = f"sqlite+aiosqlite:///{tmp_path / 'summaries.db'}"
        store = await Store.open(url)  # summaries and AI call transcripts are kept there
        await store.customers.ensure(Customer(id=ENGINE_CUSTOMER_ID, name="engine"))
        link = ServicesLink()
        service = AICallService(RuleAIs(first_message="Which day?"), ServerPool(ScriptedSTT(["Friday please."]),
                                                                                server.base_url),
                                ari, MediaSettings(), store, events=bus, flow_services=link)
        async with (store, flow_harness(asterisk, ari, tmp_path, ai=service, link=link, events=bus) as h,
                    bus.stream() as events):
            h.flows.add(flow)
            h.flows.add(summarised)
            caller = await place_call(ari)
            created = await events.next("summary_created", timeout=10)
            assert created.data["status"] == "progressing"
            await eventually(lambda: bool(service.live), what="AI call live")
            await asyncio.sleep(1.5)
            playback = await caller.leg.play(prompt)
            await playback.wait(15)
            updated = await events.next("summary_updated", timeout=30)
            await h.wait_ended(count=2, timeout=30)
        assert updated.data["status"] == "done" and updated.data["content"] == "The caller booked Friday."
        after = next(af for af in h.ended if af.flow_id == "summarised")
        call_id = next(af for af in h.ended if af.flow_id == "main").reference_id  # the summarised call
        assert created.data["reference_id"] == call_id
        assert after.variables["got"] == "The caller booked Friday."
        assert after.variables["voipbin.ai_summary.reference_id"] == call_id
        request = server.requests[-1].body["messages"]
        assert "User: Friday please." in request[-1]["content"] and "en-US" in request[0]["content"]
        async with await Store.open(url) as restarted:  # kept across a restart, one per call and language
            kept = await restarted.summaries.find(ENGINE_CUSTOMER_ID, updated.data["reference_id"], "en-US")
        assert kept is not None and kept.id == created.data["id"] and kept.content == "The caller booked Friday."
