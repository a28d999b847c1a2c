"""The price table (config `prices`) and an AI call's costs in Vapi's costBreakdown and VoiceOS's cost_breakdown shapes."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flowengine.providers.usage import UsageReport

OFFLINE_PROVIDERS = ("rules", "whisper", "piper", "espeak", "asterisk")


class _Price(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LLMPrice(_Price):
    input_per_million: float = Field(0.0, ge=0)  # per million prompt tokens
    output_per_million: float = Field(0.0, ge=0)  # per million completion tokens


class PerMinute(_Price):
    per_minute: float = Field(0.0, ge=0)


class PerCharacters(_Price):
    per_million_characters: float = Field(0.0, ge=0)


class PriceTable(_Price):
    """Prices by provider. `llm` keys are `provider.model` or just `provider` (any model of it); `stt` and
    `tts` keys are provider names (`whisper`, `piper`...). The offline providers cost nothing; a provider
    without a price is costed at 0 and named in the breakdown's `unpriced` list, never silently."""

    currency: str = "USD"
    llm: dict[str, LLMPrice] = Field(default_factory=dict)
    stt: dict[str, PerMinute] = Field(default_factory=dict)
    tts: dict[str, PerCharacters] = Field(default_factory=dict)
    transport: PerMinute = Field(default_factory=PerMinute)  # the phone line, per minute of call
    platform: PerMinute = Field(default_factory=PerMinute)  # the engine itself (Vapi `vapi`, VoiceOS `agent`)

    def llm_price(self, provider: str, model: str) -> LLMPrice | None:
        return self.llm.get(f"{provider}.{model}") or self.llm.get(provider) or (
            LLMPrice() if provider in OFFLINE_PROVIDERS else None)

    def stt_price(self, provider: str) -> PerMinute | None:
        return self.stt.get(provider) or (PerMinute() if provider in OFFLINE_PROVIDERS else None)

    def tts_price(self, provider: str) -> PerCharacters | None:
        return self.tts.get(provider) or (PerCharacters() if provider in OFFLINE_PROVIDERS else None)


VOICEOS_PROVIDERS: dict[str, tuple[str, ...]] = {
    "language_model": ("openai",), "voice": ("deepgram", "azure", "elevenlabs", "rime", "playht"),
    "transcriber": ("deepgram", "azure"), "telephony": ("twilio",), "agent": ("voiceos",)}
"""The providers VoiceOS's SDK accepts in each cost line (its enums); the first one stands in for any other."""


def voiceos_breakdown(breakdown: dict[str, Any], seconds: float = 0.0) -> dict[str, Any]:
    """VoiceOS's cost_breakdown as its SDK parses it: each line's `provider` one its enum accepts. A provider
    it does not know (piper, whisper, an OpenAI-compatible LLM of another vendor, asterisk) is shown as the
    line's stand-in (`deepgram`, `openai`, `twilio`) and named in `engine_provider` beside it; the amounts
    stay on their line. Idempotent; also reshapes breakdowns stored before (`agent` a bare amount)."""
    out = dict(breakdown)
    agent = out.get("agent", 0)
    if not isinstance(agent, dict):
        out["agent"] = {"provider": "voiceos", "cost": agent, "seconds": seconds}
    for part, allowed in VOICEOS_PROVIDERS.items():
        line = out.get(part)
        if not isinstance(line, dict):
            continue
        line = dict(line)
        provider = str(line.get("provider", ""))
        if provider not in allowed:
            line["provider"] = allowed[0]
            line.setdefault("engine_provider", provider)
        out[part] = line
    return out


def _money(value: float) -> float:
    return round(value, 6)


def llm_cost(prices: PriceTable, provider: str, model: str, prompt: int, completion: int,
             unpriced: list[str]) -> float:
    price = prices.llm_price(provider, model)
    if price is None:
        unpriced.append(f"llm {provider}.{model}")
        return 0.0
    return (prompt * price.input_per_million + completion * price.output_per_million) / 1_000_000


def costs(usage: UsageReport, prices: PriceTable) -> dict[str, Any]:
    """The `costs` of one AI call, amounts in `prices.currency`: `vapi` is Vapi's `costBreakdown`, `voiceos`
    VoiceOS's `cost_breakdown`."""
    unpriced: list[str] = []
    llm = usage.llm
    llm_total = llm_cost(prices, llm.provider, llm.model, llm.prompt_tokens, llm.completion_tokens, unpriced)
    stt_price = prices.stt_price(usage.stt.provider)
    if stt_price is None:
        unpriced.append(f"stt {usage.stt.provider}")
    stt_total = usage.stt.seconds / 60 * (stt_price.per_minute if stt_price else 0.0)
    tts_price = prices.tts_price(usage.tts.provider)
    if tts_price is None:
        unpriced.append(f"tts {usage.tts.provider}")
    tts_total = usage.tts.characters * (tts_price.per_million_characters if tts_price else 0.0) / 1_000_000
    minutes = usage.transport.seconds / 60
    transport_total = minutes * prices.transport.per_minute
    platform_total = minutes * prices.platform.per_minute
    analysis = usage.analysis
    analysis_costs = {
        part: llm_cost(prices, llm.provider, llm.model, t.prompt_tokens, t.completion_tokens, unpriced)
        for part, t in analysis.items()}
    total = llm_total + stt_total + tts_total + transport_total + platform_total + sum(analysis_costs.values())
    vapi: dict[str, Any] = {
        "transport": _money(transport_total), "stt": _money(stt_total), "llm": _money(llm_total),
        "tts": _money(tts_total), "vapi": _money(platform_total), "total": _money(total),
        "llmPromptTokens": llm.prompt_tokens, "llmCompletionTokens": llm.completion_tokens,
        "ttsCharacters": usage.tts.characters,
    }
    if analysis:
        breakdown: dict[str, Any] = {}
        for part, t in analysis.items():
            breakdown[part] = _money(analysis_costs[part])
            breakdown[f"{part}PromptTokens"] = t.prompt_tokens
            breakdown[f"{part}CompletionTokens"] = t.completion_tokens
        vapi["analysisCostBreakdown"] = breakdown
    voiceos = voiceos_breakdown({
        "total": _money(total),
        "agent": {"provider": "voiceos", "cost": _money(platform_total), "seconds": usage.transport.seconds},
        "language_model": {"provider": llm.provider, "cost": _money(llm_total + sum(analysis_costs.values())),
                           "input_tokens": llm.prompt_tokens + sum(t.prompt_tokens for t in analysis.values()),
                           "output_tokens": llm.completion_tokens
                           + sum(t.completion_tokens for t in analysis.values())},
        "transcriber": {"provider": usage.stt.provider, "cost": _money(stt_total), "seconds": usage.stt.seconds},
        "voice": {"provider": usage.tts.provider, "cost": _money(tts_total), "characters": usage.tts.characters},
        "telephony": {"provider": usage.transport.provider, "cost": _money(transport_total),
                      "seconds": usage.transport.seconds},
    })
    lines = [  # each provider by its engine name, with what it was used for
        {"type": "transcriber", "provider": usage.stt.provider, "seconds": round(usage.stt.seconds, 3),
         "cost": _money(stt_total)},
        {"type": "model", "provider": llm.provider, "model": llm.model, "prompt_tokens": llm.prompt_tokens,
         "completion_tokens": llm.completion_tokens, "cost": _money(llm_total)},
        {"type": "voice", "provider": usage.tts.provider, "characters": usage.tts.characters,
         "cost": _money(tts_total)},
        {"type": "transport", "provider": usage.transport.provider, "seconds": round(usage.transport.seconds, 3),
         "cost": _money(transport_total)},
    ]
    return {"currency": prices.currency, "total": _money(total), "vapi": vapi, "voiceos": voiceos, "lines": lines,
            "tokens_estimated": llm.estimated, "unpriced": sorted(set(unpriced))}
