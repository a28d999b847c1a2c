"""Usage metering of an AI call's providers and its costs from a price table (both breakdown shapes)."""
from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest
from voiceos.models.conversation_cost import ConversationCost

from flowengine.config import ConfigError, load_config
from flowengine.providers.llm.base import ChatMessage, LLMEvent, LLMProvider, TextDelta, ToolSpec
from flowengine.providers.pricing import LLMPrice, PerCharacters, PerMinute, PriceTable, costs, voiceos_breakdown
from flowengine.providers.usage import UsageMeter, estimate_tokens
from tests.ai.fakes import ScriptedLLM, ScriptedSTT, ToneTTS


class SilentAboutUsage(LLMProvider):
    """A server that reports no token counts (as some OpenAI-compatible servers do)."""

    name = "local"

    async def stream(self, messages: list[ChatMessage], *, tools: list[ToolSpec] | None = None,
                     temperature: float | None = None, max_tokens: int | None = None) -> AsyncIterator[LLMEvent]:
        yield TextDelta("Twelve characters")


async def test_the_meter_counts_what_each_provider_did() -> None:
    meter = UsageMeter()
    llm = meter.llm(ScriptedLLM(["one two three", "four five"], word_delay=0))
    stt, tts = meter.stt(ScriptedSTT(["hi"], delay=0)), meter.tts(ToneTTS())
    for _ in range(2):
        _ = [e async for e in llm.stream([ChatMessage("user", "hello")])]
    await stt.transcribe(np.zeros(24000, dtype=np.int16))
    await stt.transcribe(np.zeros(8000, dtype=np.int16))
    for sentence in ("Hello there.", "Bye."):
        _ = [c async for c in tts.stream(sentence)]
    report = meter.report
    assert (report.llm.prompt_tokens, report.llm.completion_tokens, report.llm.requests) == (20, 5, 2)
    assert report.llm.estimated is False and report.llm.provider == "scripted"
    assert report.stt.seconds == pytest.approx(2.0) and report.stt.requests == 2
    assert report.tts.characters == len("Hello there.") + len("Bye.") and report.tts.provider == "tone"


async def test_tokens_are_estimated_only_where_the_provider_reports_none() -> None:
    meter = UsageMeter()
    llm = meter.llm(SilentAboutUsage())
    _ = [e async for e in llm.stream([ChatMessage("system", "x" * 40), ChatMessage("user", "y" * 8)])]
    usage = meter.report.llm
    assert usage.estimated is True
    assert usage.prompt_tokens == estimate_tokens("x" * 40 + "\n" + "y" * 8) == 13
    assert usage.completion_tokens == estimate_tokens("Twelve characters") == 5


async def test_costs_follow_the_price_table_in_both_shapes() -> None:
    meter = UsageMeter()
    report = meter.report
    report.llm.provider, report.llm.model = "openai", "gpt-4o"
    report.llm.prompt_tokens, report.llm.completion_tokens = 2000, 500
    report.stt.provider, report.stt.seconds = "deepgram", 90.0
    report.tts.provider, report.tts.characters = "elevenlabs", 1500
    report.transport.seconds = 120.0
    prices = PriceTable(llm={"openai.gpt-4o": LLMPrice(input_per_million=2.5, output_per_million=10)},
                        stt={"deepgram": PerMinute(per_minute=0.01)},
                        tts={"elevenlabs": PerCharacters(per_million_characters=100)},
                        transport=PerMinute(per_minute=0.02), platform=PerMinute(per_minute=0.05))
    out = costs(report, prices)
    vapi = out["vapi"]
    assert vapi["llm"] == pytest.approx(2000 * 2.5e-6 + 500 * 10e-6)
    assert vapi["stt"] == pytest.approx(0.015) and vapi["tts"] == pytest.approx(0.15)
    assert vapi["transport"] == pytest.approx(0.04) and vapi["vapi"] == pytest.approx(0.1)
    assert vapi["total"] == pytest.approx(0.01 + 0.015 + 0.15 + 0.04 + 0.1)
    assert (vapi["llmPromptTokens"], vapi["llmCompletionTokens"], vapi["ttsCharacters"]) == (2000, 500, 1500)
    voiceos = out["voiceos"]
    assert voiceos["language_model"] == {"provider": "openai", "cost": pytest.approx(0.01), "input_tokens": 2000,
                                         "output_tokens": 500}
    assert voiceos["transcriber"] == {"provider": "deepgram", "cost": pytest.approx(0.015), "seconds": 90.0}
    assert voiceos["voice"]["characters"] == 1500 and voiceos["telephony"]["seconds"] == 120.0
    assert voiceos["agent"] == {"provider": "voiceos", "cost": pytest.approx(0.1), "seconds": 120.0}
    assert out["unpriced"] == []


def test_offline_providers_are_free_and_unknown_ones_are_named() -> None:
    meter = UsageMeter()
    report = meter.report
    report.llm.provider, report.llm.model, report.llm.prompt_tokens = "rules", "appointments", 100
    report.stt.provider, report.stt.seconds = "whisper", 30.0
    report.tts.provider, report.tts.characters = "cartesia", 400
    out = costs(report, PriceTable())
    assert out["total"] == 0 and out["unpriced"] == ["tts cartesia"]


def test_the_voiceos_breakdown_of_the_engines_own_providers_parses_in_the_voiceos_sdk() -> None:
    report = UsageMeter().report
    report.llm.provider, report.llm.model, report.llm.prompt_tokens = "rules", "appointments", 100
    report.stt.provider, report.stt.seconds = "whisper", 30.0
    report.tts.provider, report.tts.characters = "piper", 400
    report.transport.seconds = 42.0
    voiceos = costs(report, PriceTable())["voiceos"]
    parsed = ConversationCost.from_dict(voiceos)  # the SDK's enums: no piper, whisper, rules or asterisk
    assert parsed is not None and parsed.voice.provider.value == "deepgram" and parsed.voice.characters == 400
    assert parsed.telephony is not None and parsed.telephony.provider.value == "twilio"
    assert parsed.agent.provider.value == "voiceos" and parsed.agent.seconds == 42.0
    engine = {part: voiceos[part].get("engine_provider") for part in ("language_model", "transcriber", "voice",
                                                                      "telephony", "agent")}
    assert engine == {"language_model": "rules", "transcriber": "whisper", "voice": "piper",
                      "telephony": "asterisk", "agent": None}  # what really did the work, beside
    assert voiceos_breakdown(voiceos) == voiceos
    old = {**voiceos, "agent": 0.0, "voice": {"provider": "piper", "cost": 0.0, "characters": 3}}  # stored before
    assert ConversationCost.from_dict(voiceos_breakdown(old, 9.0)) is not None


def test_the_price_table_is_configurable_and_checked() -> None:
    env = {"FLOWENGINE_ASTERISK__PRIVATE_DIR": "run/asterisk",
           "FLOWENGINE_PRICES__LLM": '{"openai.gpt-4o": {"input_per_million": 2.5, "output_per_million": 10}}'}
    config = load_config(environ=env)
    assert config.prices.llm_price("openai", "gpt-4o") == LLMPrice(input_per_million=2.5, output_per_million=10)
    with pytest.raises(ConfigError, match=r"prices\.llm\.openai\.input_per_million"):
        load_config(environ={**env, "FLOWENGINE_PRICES__LLM": '{"openai": {"input_per_million": -1}}'})


def test_cost_lines_name_each_cloud_provider_as_each_front_door_spells_it() -> None:
    from flowengine.api.vapi.views import vapi_costs
    from flowengine.providers.pricing import PerCharacters, PerMinute, PriceTable, costs
    from flowengine.providers.usage import LLMUsage, STTUsage, TTSUsage, UsageReport

    usage = UsageReport(llm=LLMUsage("anthropic", "claude-sonnet-4-5", 1000, 200, 2),
                        stt=STTUsage("deepgram", 90.0, 3), tts=TTSUsage("elevenlabs", 1200, 4))
    prices = PriceTable(stt={"deepgram": PerMinute(per_minute=0.0043)},
                        tts={"elevenlabs": PerCharacters(per_million_characters=180.0)})
    result = costs(usage, prices)
    lines = {line["type"]: line for line in result["lines"]}
    assert (lines["transcriber"]["provider"], lines["voice"]["provider"], lines["model"]["provider"]) == (
        "deepgram", "elevenlabs", "anthropic")
    assert lines["transcriber"]["cost"] == round(1.5 * 0.0043, 6) and lines["voice"]["cost"] == round(1200 * 180e-6, 6)
    assert result["unpriced"] == ["llm anthropic.claude-sonnet-4-5"]  # said, never silently free
    vapi = {c["type"]: c for c in vapi_costs(result["lines"])}
    assert vapi["voice"]["voice"]["provider"] == "11labs" and vapi["transcriber"]["minutes"] == 1.5
    assert vapi["model"]["model"] == {"provider": "anthropic", "model": "claude-sonnet-4-5"}
    voiceos = result["voiceos"]
    assert voiceos["voice"]["provider"] == "elevenlabs" and voiceos["transcriber"]["provider"] == "deepgram"
    assert voiceos["language_model"]["provider"] == "openai"  # VoiceOS's enum has only openai ...
    assert voiceos["language_model"]["engine_provider"] == "anthropic"  # ... the real one is named beside it
