"""A local stand-in for Deepgram Aura's REST speak endpoint: `POST /v1/speak` answering raw audio, chunked."""
from __future__ import annotations

import uuid

from aiohttp import web

from flowengine.bench.fakes import voice
from flowengine.bench.fakes.server import FakeServer

ENCODINGS = {"mulaw": "mulaw", "linear16": "s16le"}  # the raw encodings this fake speaks (of Deepgram's list)
RATES = (8000, 16000, 24000, 32000, 48000)


class FakeDeepgramTTS(FakeServer):
    """Checks `Authorization: Token <key>`, the model/encoding/sample_rate query and the `{"text"}` body; answers
    a tone as long as the text in the asked encoding, in paced chunks."""

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/speak", self.speak)

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Token {self.api_key}"

    def error(self, status: int, message: str) -> web.Response:
        code = "INVALID_AUTH" if status == 401 else "INJECTED_FAULT"
        return web.json_response({"err_code": code, "err_msg": message, "request_id": str(uuid.uuid4())},
                                 status=status)

    async def speak(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        entry = voice.record(self, request, body)
        if (refusal := await self.refused(request)) is not None:
            return refusal
        encoding = ENCODINGS.get(request.query.get("encoding", ""))
        rate = int(request.query.get("sample_rate", "0") or 0)
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text or not request.query.get("model"):
            return self.error(400, "body must be {\"text\": \"...\"} and model is required")
        if encoding is None or rate not in RATES or request.query.get("container", "none") != "none":
            return self.error(400, "this fake speaks raw mulaw/linear16 (container=none) at a documented rate")
        if self.faults.garbage:
            return voice.garbage_page()
        pieces = voice.cut(voice.spoken(text, encoding, rate), encoding, rate)
        content_type = "audio/basic" if encoding == "mulaw" else "audio/l16"
        return await voice.stream_http(self, request, entry, pieces, content_type)
