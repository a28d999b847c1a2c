"""A Vapi assistant as an AI: the supported subset of Vapi's fields (one table), and the mapping onto AI fields.

Anything outside SUPPORTED is refused with its JSON path (`assistant.voice.speed`), never ignored; values
the engine cannot honour (a voice provider it does not have) are refused naming the path and the value.
Which model, voice and transcriber providers exist is the provider catalogue's answer (Vapi's spellings such
as `11labs` included). docs/decisions.md has the same table for users."""
from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from flowengine.ai.tools.declared import DeclaredToolError, split_secrets
from flowengine.providers.catalogue import LLM, STT, TTS, Catalogue
from flowengine.store import AI
from flowengine.store.aifeatures import VoicemailDetection

ANY = True
"""A leaf: any value (checked by the AI record's own validation)."""

_MODEL: dict[str, Any] = {"provider": ANY, "model": ANY, "messages": ANY, "tools": ANY, "temperature": ANY,
                          "maxTokens": ANY}
ASSISTANT: dict[str, Any] = {
    "name": ANY, "firstMessage": ANY, "firstMessageMode": ANY, "endCallPhrases": ANY, "endCallMessage": ANY,
    "silenceTimeoutSeconds": ANY, "maxDurationSeconds": ANY, "voicemailMessage": ANY,
    "voicemailDetection": {"provider": ANY, "enabled": ANY, "machineDetectionTimeout": ANY,
                           "machineDetectionSpeechThreshold": ANY, "machineDetectionSpeechEndThreshold": ANY,
                           "machineDetectionSilenceTimeout": ANY},
    "analysisPlan": ANY, "metadata": ANY, "serverUrl": ANY, "serverUrlSecret": ANY, "serverMessages": ANY,
    "recordingEnabled": ANY, "hipaaEnabled": ANY,
    "model": _MODEL, "voice": {"provider": ANY, "voiceId": ANY}, "transcriber": {"provider": ANY, "language": ANY, "keywords": ANY, "keyterm": ANY},
}
OVERRIDES: dict[str, Any] = {**ASSISTANT, "variableValues": ANY}
"""The supported subset of Vapi's assistant (and assistantOverrides): every other key is refused by path."""

RULE_FIELDS = {"firstMessage": "first_message", "firstMessageMode": "first_message_mode",
               "endCallPhrases": "end_call_phrases", "endCallMessage": "end_call_message",
               "silenceTimeoutSeconds": "silence_timeout_seconds", "maxDurationSeconds": "max_duration_seconds",
               "voicemailMessage": "voicemail_message", "analysisPlan": "analysis_plan"}
"""Vapi assistant fields that are the AI's call rules of the same name (also overridable on an assistantId)."""
TEXT_FIELDS = ("first_message", "end_call_message", "voicemail_message", "init_prompt")
_VAPI_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w.\-]*)\s*\}\}")


def engine_variables(text: str) -> str:
    """Vapi's `{{name}}` (filled from variableValues) as the engine's `${name}`; other Liquid stays as written."""
    return _VAPI_VARIABLE.sub(lambda m: "${" + m.group(1) + "}", text)


def rule_fields(assistant: dict[str, Any]) -> dict[str, Any]:
    """The AI fields of the assistant's call rules that it sets, `{{variables}}` in their texts converted."""
    fields = {ours: assistant[vapi] for vapi, ours in RULE_FIELDS.items() if assistant.get(vapi) is not None}
    return {k: engine_variables(v) if k in TEXT_FIELDS and isinstance(v, str) else v for k, v in fields.items()}


SERVER_MESSAGES = ("status-update", "end-of-call-report", "tool-calls", "transcript", "conversation-update",
                   "speech-update")
"""The serverUrl messages this engine sends (Vapi's default set when serverMessages is absent is the first four)."""
DEFAULT_SERVER_MESSAGES = ("status-update", "end-of-call-report", "tool-calls", "transcript")


class AssistantError(ValueError):
    """Unsupported or invalid assistant fields; `problems` are (path, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))
        self.problems = problems


def unsupported(data: Any, spec: dict[str, Any], where: str) -> list[tuple[str, str]]:
    """(path, message) for every key of `data` outside `spec`, recursively."""
    if not isinstance(data, dict):
        return [(where, "must be an object")]
    found: list[tuple[str, str]] = []
    for key, value in data.items():
        path = f"{where}.{key}" if where else key
        if key not in spec:
            found.append((path, "not supported by this engine"))
        elif isinstance(spec[key], dict) and value is not None:
            found += unsupported(value, spec[key], path)
    return found


def merge(assistant: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Vapi's assistantOverrides: objects merge key by key, everything else replaces."""
    out = dict(assistant)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in ("metadata", "variableValues"):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _engine_model(model: dict[str, Any], where: str, problems: list[tuple[str, str]]) -> str:
    provider, name = str(model.get("provider") or ""), str(model.get("model") or "")
    if not provider or not name:
        problems.append((f"{where}.model", "model.provider and model.model are required"))
        return ""
    answer = LLM.check(f"{provider}.{name}")
    if not answer.runs_here:  # a missing key is the call's problem: the engine may have it by then
        problems.append((f"{where}.model.provider", f"{provider!r} is not available: {answer.reason}"))
        return ""
    return f"{answer.provider}.{name}"


def provider_of(catalogue: Catalogue[Any], value: Any, path: str, problems: list[tuple[str, str]],
                asked: dict[str, tuple[Any, str]] | None = None) -> str:
    """The engine's name for a Vapi voice/transcriber provider (absent: the engine's default), or a problem.
    `asked`: setting -> (its value, its path), e.g. `language` -> ("de", "assistant.transcriber.language"): the
    provider is asked whether it can do them, and a setting it cannot is the problem of that setting's path."""
    settings = {k: str(v) for k, (v, _) in (asked or {}).items() if v}
    answer = catalogue.check(str(value or ""), **settings)
    if not answer.definable:
        problems.append(answer.blame(path, {k: p for k, (_, p) in (asked or {}).items()}))
    return answer.provider


def _voicemail(data: dict[str, Any] | None, where: str, problems: list[tuple[str, str]]) -> VoicemailDetection | None:
    if not data or data.get("enabled") is False:
        return None
    provider = str(data.get("provider", ""))
    if provider not in ("asterisk", "audio"):
        problems.append((f"{where}.voicemailDetection.provider",
                         (f"{provider!r} is not available: this engine detects machines with 'asterisk' (AMD) "
                          "or 'audio' (its own classifier)")))
        return None
    fields: dict[str, Any] = {"provider": provider}
    for vapi, ours, scale in (("machineDetectionTimeout", "machine_detection_timeout_s", 1),
                              ("machineDetectionSpeechThreshold", "speech_threshold_ms", 1),
                              ("machineDetectionSpeechEndThreshold", "speech_end_threshold_ms", 1),
                              ("machineDetectionSilenceTimeout", "silence_timeout_ms", 1)):
        if vapi in data:
            fields[ours] = data[vapi] * scale
    try:
        return VoicemailDetection(**fields)
    except ValidationError as exc:
        problems += [(f"{where}.voicemailDetection", e["msg"]) for e in exc.errors()]
        return None


def server_messages(assistant: dict[str, Any], where: str = "assistant") -> list[str]:
    """The serverUrl messages wanted (refuses the ones this engine never sends)."""
    wanted = assistant.get("serverMessages")
    if wanted is None:
        return list(DEFAULT_SERVER_MESSAGES)
    bad = [m for m in wanted if m not in SERVER_MESSAGES] if isinstance(wanted, list) else [wanted]
    if bad:
        raise AssistantError([(f"{where}.serverMessages",
                                (f"{bad!r} not sent by this engine; it sends {', '.join(SERVER_MESSAGES)}"))])
    return [str(m) for m in wanted]


def assistant_to_ai(assistant: dict[str, Any], *, customer_id: str, where: str = "assistant",
                    spec: dict[str, Any] = ASSISTANT) -> tuple[AI, dict[str, str]]:
    """The AI record of a Vapi assistant and its function tools' secrets (kept write-only)."""
    problems = unsupported(assistant, spec, where)
    # a part that is not an object is already a problem (`unsupported`): read it as empty, never crash on it
    model, voice, heard = (part if isinstance(part := assistant.get(key), dict) else {}
                           for key in ("model", "voice", "transcriber"))
    engine_model = _engine_model(model, where, problems)
    messages = model.get("messages") or []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") != "system":
            problems.append((f"{where}.model.messages[{i}].role", "only system messages (the prompt) are supported"))
    prompt = "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
    tts = provider_of(TTS, voice.get("provider"), f"{where}.voice.provider", problems,
                      {"voice_id": (voice.get("voiceId"), f"{where}.voice.voiceId")})
    stt = provider_of(STT, heard.get("provider"), f"{where}.transcriber.provider", problems,
                      {"language": (heard.get("language"), f"{where}.transcriber.language")})
    for flag in ("recordingEnabled", "hipaaEnabled"):
        if assistant.get(flag):
            problems.append((f"{where}.{flag}", "true is not supported by this engine (false only)"))
    tools, secrets = _tools(model, assistant, where, problems)
    detection = _voicemail(assistant.get("voicemailDetection"), where, problems)
    try:
        server_messages(assistant, where)
    except AssistantError as exc:
        problems += exc.problems
    if problems:
        raise AssistantError(problems)
    parameter = {k: model[k] for k in ("temperature", "maxTokens") if k in model}
    keywords = _keywords(heard, f"{where}.transcriber")
    if keywords:
        parameter["stt_keywords"] = keywords
    fields: dict[str, Any] = {
        "name": str(assistant.get("name") or "vapi assistant"), "engine_model": engine_model,
        "init_prompt": engine_variables(prompt),
        "parameter": parameter, "tts_type": tts, "tts_voice_id": str(voice.get("voiceId", "")),
        "stt_type": stt, "stt_language": str(heard.get("language", "")), "tools": tools,
        "voicemail_detection": detection,
    }
    fields.update(rule_fields(assistant))
    try:
        return AI(customer_id=customer_id, **fields), secrets
    except ValidationError as exc:
        names = {"first_message_mode": "firstMessageMode", "end_call_phrases": "endCallPhrases",
                 "silence_timeout_seconds": "silenceTimeoutSeconds", "max_duration_seconds": "maxDurationSeconds",
                 "analysis_plan": "analysisPlan"}
        raise AssistantError([(f"{where}.{names.get(str(e['loc'][0]), str(e['loc'][0]))}", e["msg"])
                              for e in exc.errors()]) from None


def _keywords(heard: dict[str, Any], where: str) -> list[str]:
    """Deepgram's `keywords` (`word:boost`, the boost left to the recogniser) and `keyterm` phrases, as the AI's
    `parameter.stt_keywords`; anything but a list of strings is the field's problem."""
    found: list[str] = []
    for key in ("keyterm", "keywords"):
        value = heard.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise AssistantError([(f"{where}.{key}", "must be a list of strings")])
        found += [v.rsplit(":", 1)[0] if key == "keywords" else v for v in value]
    return found


def _tools(model: Any, assistant: dict[str, Any], where: str,
           problems: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Declared tools; a `function` without its own server goes to the assistant's serverUrl, as in Vapi."""
    items = model.get("tools") if isinstance(model, dict) else None
    if not items:
        return [], {}
    filled: list[Any] = []
    for item in items:
        if isinstance(item, dict) and item.get("type") == "function" and not item.get("server") \
                and assistant.get("serverUrl"):
            item = {**item, "server": {"url": assistant["serverUrl"], "secret": assistant.get("serverUrlSecret") or ""}}
        filled.append(item)
    try:
        return split_secrets(filled)
    except DeclaredToolError as exc:
        problems.append((f"{where}.model", str(exc)))
        return [], {}
