"""A local stand-in for PlayHT's v2 streaming endpoint: `POST /api/v2/tts/stream` answering raw audio, chunked."""
from __future__ import annotations

from aiohttp import web

from flowengine.bench.fakes import voice
from flowengine.bench.fakes.server import FakeServer, Faults

ENGINES = ("PlayDialog", "Play3.0-mini", "PlayHT2.0-turbo")


class FakePlayHTTTS(FakeServer):
    """Checks `AUTHORIZATION` (the key, bare or `Bearer`) and `X-USER-ID`, the body's text/voice/engine/format;
    answers mulaw (or raw s16le) at the asked sample_rate, in paced chunks."""

    def __init__(self, *, api_key: str = "test-key", user_id: str = "test-user", faults: Faults | None = None) -> None:
        super().__init__(api_key=api_key, faults=faults)
        self.user_id = user_id

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v2/tts/stream", self.stream)

    def authorized(self, request: web.Request) -> bool:
        key = request.headers.get("AUTHORIZATION", "").removeprefix("Bearer ")
        return key == self.api_key and request.headers.get("X-USER-ID") == self.user_id

    def error(self, status: int, message: str) -> web.Response:
        error_id = "UNAUTHORIZED" if status == 401 else "INJECTED_FAULT"
        return web.json_response({"error_message": message, "error_id": error_id}, status=status)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        entry = voice.record(self, request, body)
        if (refusal := await self.refused(request)) is not None:
            return refusal
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body.get("voice"):
            return self.error(400, "text and voice are required")
        if body.get("voice_engine") not in ENGINES:
            return self.error(400, f"unknown voice_engine {body.get('voice_engine')!r}")
        encoding = {"mulaw": "mulaw", "raw": "s16le", "pcm": "s16le"}.get(str(body.get("output_format")))
        rate = body.get("sample_rate", 24000)
        if encoding is None or not isinstance(rate, int) or not 8000 <= rate <= 48000:
            return self.error(400, "this fake speaks mulaw/raw/pcm at 8000-48000 Hz")
        if self.faults.garbage:
            return voice.garbage_page()
        pieces = voice.cut(voice.spoken(body["text"], encoding, rate), encoding, rate)
        return await voice.stream_http(self, request, entry, pieces,
                                       "audio/basic" if encoding == "mulaw" else "audio/l16")
