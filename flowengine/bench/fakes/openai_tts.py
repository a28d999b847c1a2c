"""A local OpenAI speech endpoint (POST /v1/audio/speech): Bearer key checked, 24 kHz 16-bit PCM of a tone as long
as the text, chunked and paced; OpenAI's error body shape."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from flowengine.bench.fakes.openai_wire import OpenAIFake, openai_error
from flowengine.bench.fakes.server import speech_seconds, tone
from flowengine.bench.fakes.streamed import stream_answer
from flowengine.bench.fakes.voice import record as voice_record

RATE = 24000
VOICES = {"alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin",
          "cedar"}


class FakeOpenAITTS(OpenAIFake):
    """Every request recorded with its JSON body."""

    chunk_ms = 100

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/audio/speech", self._speech)

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        entry = voice_record(self, request, body)
        refused = await self.refused(request)
        if refused is not None:
            return refused
        if not isinstance(body, dict) or not body.get("model") or not isinstance(body.get("input"), str):
            return openai_error(400, "model and input are required", param="input")
        voice = body.get("voice")
        custom = isinstance(voice, dict) and str(voice.get("id", "")).startswith("voice_")
        if not (custom or (isinstance(voice, str) and voice in VOICES)):
            return openai_error(400, f"Invalid value for 'voice': {voice!r}", param="voice", code="invalid_value")
        if body.get("response_format") != "pcm":
            return openai_error(400, "this fake serves response_format pcm only", param="response_format")
        if self.faults.garbage:
            return web.json_response({"object": "not.audio"})
        audio = tone(speech_seconds(body["input"]), RATE).astype("<i2").tobytes()
        return await stream_answer(self, request, entry, audio, content_type="application/octet-stream",
                                   chunk_bytes=RATE * 2 * self.chunk_ms // 1000)
