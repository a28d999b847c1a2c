"""A local stand-in for Hume's streaming TTS: `POST /v0/tts/stream/json` answering NDJSON audio chunks."""
from __future__ import annotations

import base64
import json
import uuid

from aiohttp import web

from flowengine.bench.fakes import voice
from flowengine.bench.fakes.server import FakeServer

RATE = 48000  # Hume's PCM: 48 kHz s16le mono, headerless


class FakeHumeTTS(FakeServer):
    """Checks `X-Hume-Api-Key`, the utterances/format body (instant_mode only with a voice, as Hume requires);
    answers one `{"type":"audio"}` line per chunk of a 48 kHz tone as long as the text, paced."""

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v0/tts/stream/json", self.stream)

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("X-Hume-Api-Key") == self.api_key

    def error(self, status: int, message: str) -> web.Response:
        if status == 401:  # the API gateway's answer to a bad key
            return web.json_response({"fault": {"faultstring": "Invalid ApiKey",
                                                "detail": {"errorcode": "oauth.v2.InvalidApiKey"}}}, status=401)
        return web.json_response({"message": message}, status=status)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        entry = voice.record(self, request, body)
        if (refusal := await self.refused(request)) is not None:
            return refusal
        utterances = body.get("utterances") if isinstance(body, dict) else None
        if not isinstance(utterances, list) or not utterances or not all(
                isinstance(u, dict) and isinstance(u.get("text"), str) for u in utterances):
            return self.error(400, "utterances: a list of {text} is required")
        assert isinstance(body, dict)
        if (body.get("format") or {}).get("type", "mp3") != "pcm":
            return self.error(400, "this fake speaks format {type: pcm} only")
        if body.get("instant_mode") and not all(isinstance(u.get("voice"), dict) for u in utterances):
            return self.error(400, "instant_mode requires a voice to be specified")
        if self.faults.garbage:
            return web.Response(text="this is not json\n", content_type="application/json")
        text = " ".join(u["text"] for u in utterances)
        pieces = voice.cut(voice.spoken(text, "s16le", RATE), "s16le", RATE)
        generation, request_id = str(uuid.uuid4()), str(uuid.uuid4())

        def line(piece: bytes) -> bytes:
            index = entry.chunks_sent
            return json.dumps({
                "type": "audio", "audio": base64.b64encode(piece).decode(), "audio_format": "pcm",
                "chunk_index": index, "generation_id": generation, "is_last_chunk": index == len(pieces) - 1,
                "request_id": request_id, "snippet_id": generation, "text": text}).encode() + b"\n"

        return await voice.stream_http(self, request, entry, pieces, "application/json", frame=line)
