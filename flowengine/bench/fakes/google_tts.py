"""A local Google Cloud Text-to-Speech (v1 text:synthesize): the API key checked (x-goog-api-key or ?key=), one
JSON answer whose base64 audioContent is a WAV file of a tone as long as the text, its bytes written in paced
chunks (Google sends it whole; the pacing lets tests see the client wait for all of it)."""
from __future__ import annotations

import base64
import json
import struct
from typing import Any

from aiohttp import web

from flowengine.bench.fakes.server import FakeServer, speech_seconds, tone
from flowengine.bench.fakes.streamed import stream_answer
from flowengine.bench.fakes.voice import record as voice_record
from flowengine.media.g711 import alaw_encode, ulaw_encode

# audioEncoding -> (WAV format tag, bytes per sample); MP3 and OGG_OPUS are not faked
ENCODINGS = {"MULAW": (7, 1), "ALAW": (6, 1), "LINEAR16": (1, 2)}
STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
          500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def wav(samples: bytes, tag: int, width: int, rate: int) -> bytes:
    fmt = struct.pack("<HHIIHH", tag, 1, rate, rate * width, width, 8 * width)
    return (b"RIFF" + struct.pack("<I", 36 + len(samples)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt +
            b"data" + struct.pack("<I", len(samples)) + samples)


class FakeGoogleTTS(FakeServer):
    """Every request recorded with its JSON body."""

    chunks = 4  # pieces the JSON answer is written in

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/text:synthesize", self._synthesize)

    def authorized(self, request: web.Request) -> bool:
        return self.api_key in (request.headers.get("x-goog-api-key"), request.query.get("key"))

    def error(self, status: int, message: str) -> web.Response:
        if status == 401:  # Google answers a bad API key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID
            return web.json_response({"error": {
                "code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                             "domain": "googleapis.com", "metadata": {"service": "texttospeech.googleapis.com"}}]}},
                status=400)
        return web.json_response({"error": {"code": status, "message": message,
                                            "status": STATUS.get(status, "UNKNOWN")}}, status=status)

    async def _synthesize(self, request: web.Request) -> web.StreamResponse:
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        entry = voice_record(self, request, body)
        refused = await self.refused(request)
        if refused is not None:
            return refused
        problem = _problem(body)
        if problem:
            return self.error(400, problem)
        if self.faults.garbage:
            return web.Response(body=b'{"audioContent": <binary>', content_type="application/json")
        config = body["audioConfig"]
        tag, width = ENCODINGS[config["audioEncoding"]]
        rate = int(config.get("sampleRateHertz") or 24000)
        pcm = tone(speech_seconds(body["input"]["text"]), rate)
        samples = {7: ulaw_encode, 6: alaw_encode}.get(tag, lambda p: p.astype("<i2").tobytes())(pcm)
        answer = json.dumps({"audioContent": base64.b64encode(wav(samples, tag, width, rate)).decode()}).encode()
        return await stream_answer(self, request, entry, answer, content_type="application/json; charset=UTF-8",
                                   chunk_bytes=len(answer) // self.chunks + 1)


def _problem(body: Any) -> str:
    if not isinstance(body, dict):
        return "Invalid JSON payload received."
    text = (body.get("input") or {}).get("text") if isinstance(body.get("input"), dict) else None
    voice, config = body.get("voice"), body.get("audioConfig")
    if not isinstance(text, str) or not text:
        return "Either `input.text` or `input.ssml` is required."
    if not isinstance(voice, dict) or not voice.get("languageCode"):
        return "Voice requires a languageCode."
    if not isinstance(config, dict) or config.get("audioEncoding") not in ENCODINGS:
        return "AudioConfig.audioEncoding must be one of MULAW, ALAW, LINEAR16 here."
    return ""
