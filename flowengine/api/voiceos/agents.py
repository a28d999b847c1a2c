"""A VoiceOS agent configuration as an AI: providers as the provider catalogue names them (the ones this engine
cannot run refused by name, with the reason), the prompt, first message, duration limit, tools; webhook headers
split off to be kept encrypted."""
from __future__ import annotations

from typing import Any

from flowengine.api.voiceos.models import AgentConfig
from flowengine.providers.catalogue import LLM, STT, TTS, Catalogue, Status
from flowengine.store import AI

HEADER_MASK = "********"
RELAY_URL = "https://voiceos.relay.invalid/function_call"
"""The server.url of a VoiceOS function tool: never called, its calls are relayed to the agent's webhooks."""


class AgentProblems(ValueError):
    """FastAPI-shaped validation errors: [{loc, msg, type}]."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors))
        self.errors = errors


def _problem(loc: list[str | int], msg: str) -> dict[str, Any]:
    return {"loc": ["body", *loc], "msg": msg, "type": "value_error"}


def agent_to_ai(config: AgentConfig, *, customer_id: str, name: str, where: list[str | int]) -> AI:
    problems: list[dict[str, Any]] = []
    voice, heard, model = config.voice, config.transcriber, config.language_model
    # VoiceOS's cloud providers are range-checked by the models, then asked about here; flowengine's own
    # (`piper`, `espeak`, `whisper`) are accepted as an extension; absent means the engine's default
    voice_id = str(getattr(voice, "voice_id", "") or "") if voice is not None else ""
    language = str(getattr(heard, "language", "") or "") if heard is not None else ""
    tts = _provider(TTS, voice.provider if voice is not None else "", [*where, "voice", "provider"], problems,
                    ("voice_id", voice_id, [*where, "voice", "voice_id"]))
    stt = _provider(STT, heard.provider if heard is not None else "", [*where, "transcriber", "provider"], problems,
                    ("language", language, [*where, "transcriber", "language"]))
    engine_model = f"openai.{model.model}" if model is not None else "openai.gpt-4o"
    _provider(LLM, engine_model, [*where, "language_model", "model"], problems)
    if model is not None and model.credential_id:
        problems.append(_problem([*where, "language_model", "credential_id"], "stored credentials are not supported:"
                                 " the engine uses its configured OPENAI_API_KEY"))
    if config.hooks:
        problems.append(_problem([*where, "hooks"], "hooks are not supported by this engine: use webhooks"))
    tools: list[dict[str, Any]] = []
    if model is not None and model.tools:
        relayed = any("function_call:triggered" in w.events for w in config.webhooks or [])
        if not relayed:
            problems.append(_problem([*where, "language_model", "tools"], "tools need a webhook subscribed to "
                                     "function_call:triggered: its answer is the tool result"))
        tools = [{"type": "function", "function": t.function.model_dump(), "server": {"url": RELAY_URL}}
                 for t in model.tools]
    for i, hook in enumerate(config.webhooks or []):
        if hook.filter:
            from flowengine.api.voiceos.filter import FilterError, parse_filter

            try:
                parse_filter(hook.filter)
            except FilterError as exc:
                problems.append(_problem([*where, "webhooks", i, "filter"], str(exc)))
    if problems:
        raise AgentProblems(problems)
    parameter: dict[str, Any] = {}
    if model is not None:
        parameter = {"temperature": model.temperature, "max_tokens": model.max_tokens}
    return AI(customer_id=customer_id, name=name, engine_model=engine_model,
              init_prompt=config.prompt or "", parameter=parameter, tts_type=tts, tts_voice_id=voice_id,
              stt_type=stt, stt_language=language, tools=tools,
              first_message=config.initial_message or "",
              first_message_mode="assistant-speaks-first" if config.initial_message else "assistant-waits-for-user",
              max_duration_seconds=config.max_duration_seconds or 0)


def _provider(catalogue: Catalogue[Any], name: str, loc: list[str | int], problems: list[dict[str, Any]],
              asked: tuple[str, str, list[str | int]] | None = None) -> str:
    """The engine's name for a provider, or a problem at `loc`; `asked` is (setting, value, its loc): a language
    or voice the provider cannot do is a problem at that loc."""
    setting, wanted, at = asked if asked is not None else ("", "", loc)
    answer = catalogue.check(name, **({setting: wanted} if wanted else {}))
    if not answer.definable:  # a recogniser's or voice's key is the engine's: it must be there now
        on_setting = answer.status is Status.UNSUPPORTED and answer.setting == setting
        problems.append(_problem(at, answer.reason) if on_setting else _problem(loc, answer.problem()))
    return answer.provider


def split_headers(config: AgentConfig) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The configuration to store (webhook headers masked) and the headers of each webhook (to encrypt)."""
    data = config.model_dump(mode="json")
    headers: list[dict[str, str]] = []
    for hook in data.get("webhooks") or []:
        headers.append(dict(hook.get("headers") or {}))
        if hook.get("headers"):
            hook["headers"] = {k: HEADER_MASK for k in hook["headers"]}
    return data, headers
