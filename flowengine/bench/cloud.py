"""The conversation bench's cloud stack: the Deepgram, ElevenLabs and Anthropic fakes on loopback, every answer
paying a network delay, and the engine settings and AI fields that point the demo AI at them."""
from __future__ import annotations

import os
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from flowengine.bench.demo import PAUSE
from flowengine.bench.fakes.anthropic_llm import FakeAnthropicLLM
from flowengine.bench.fakes.chat import Reply
from flowengine.bench.fakes.deepgram_stt import FakeDeepgramSTT
from flowengine.bench.fakes.elevenlabs_tts import FakeElevenLabsTTS
from flowengine.bench.fakes.server import Faults
from flowengine.providers.llm.endpoints import ANTHROPIC, base_url_env

VENDORS = {"stt": "deepgram", "tts": "elevenlabs", "llm": "anthropic"}
MODEL = "anthropic.claude-haiku-4-5"
SHORT_REPLY = "Sure, I can help with that."
# long enough (~6 s) that the caller cuts in while it plays
LONG_REPLY = ("We are open Monday to Friday from eight in the morning until six in the evening "
              "and on Saturday from nine until one.")


class ReceptionistLLM(FakeAnthropicLLM):
    """Answers a question about opening hours at length (the bench's barge-ins cut into it), anything else in
    one short sentence."""

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()  # aiohttp keeps the body: the handler reads it again
        except ValueError:
            body = None
        asked = _last_user_text(body)
        self.replies = deque([Reply(text=LONG_REPLY if "hours" in asked.lower() else SHORT_REPLY)])
        return await super()._messages(request)


def _last_user_text(body: Any) -> str:
    messages = body.get("messages") if isinstance(body, dict) else None
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return " ".join(b.get("text", "") for b in content or () if isinstance(b, dict))
    return ""


@dataclass
class CloudStack:
    stt: FakeDeepgramSTT
    tts: FakeElevenLabsTTS
    llm: ReceptionistLLM
    delay_s: float

    def settings(self) -> dict[str, str]:
        """The engine's `speech.providers` for the two speech vendors (configuration names)."""
        out: dict[str, str] = {}
        for vendor, fake in (("DEEPGRAM", self.stt), ("ELEVENLABS", self.tts)):
            out[f"FLOWENGINE_SPEECH__PROVIDERS__{vendor}__API_KEY"] = fake.api_key
            out[f"FLOWENGINE_SPEECH__PROVIDERS__{vendor}__BASE_URL"] = fake.base_url
        return out

    def ai_fields(self, stop_secs: float | None = None) -> dict[str, Any]:
        """The AI on the three vendors; `stop_secs` its VAD's (None: the default). Smart turn off: this bench
        compares the VAD's and the recogniser's turn ends, which the smart turn's extra wait (`bench turns`) hides."""
        fields: dict[str, Any] = {"stt_type": VENDORS["stt"], "tts_type": VENDORS["tts"], "engine_model": MODEL,
                                  "engine_key": self.llm.api_key, "smart_turn_enabled": False,
                                  "parameter": {"first_message": "Hello, this is Bright Smile Dental. How can I help?"}}
        if stop_secs is not None:
            fields["vad_config"] = {"stop_secs": stop_secs}
        return fields

    def expect(self, text: str) -> None:
        """The recogniser will hear `text` in the caller's next utterance, a part per stretch of speech when it
        has pauses (demo.PAUSE marks); anything more is heard as "hello"."""
        self.stt.script.clear()  # the deque every socket's listener shares
        self.stt.script.extend(part.strip() for part in text.split(PAUSE))


@asynccontextmanager
async def cloud_stack(delay_s: float) -> AsyncIterator[CloudStack]:
    """The three fakes, each answer after `delay_s` (Faults.latency_s: before a socket is accepted, a request
    answered, or a recogniser's Finalize answered); the Anthropic base URL is set in this process's
    environment (FLOWENGINE_LLM_ANTHROPIC_BASE_URL) while the stack is up."""
    variable = base_url_env(ANTHROPIC.provider)
    before = os.environ.get(variable)
    async with AsyncExitStack() as stack:
        stt = await stack.enter_async_context(FakeDeepgramSTT(faults=Faults(latency_s=delay_s)))
        tts = await stack.enter_async_context(FakeElevenLabsTTS(faults=Faults(latency_s=delay_s)))
        llm = await stack.enter_async_context(ReceptionistLLM(faults=Faults(latency_s=delay_s)))
        os.environ[variable] = llm.base_url
        try:
            yield CloudStack(stt, tts, llm, delay_s)
        finally:
            if before is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = before
