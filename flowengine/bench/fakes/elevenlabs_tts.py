"""A local stand-in for ElevenLabs' input-streaming TTS WebSocket (`/v1/text-to-speech/{voice}/stream-input`)."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from typing import Any

from aiohttp import WSMsgType, web

from flowengine.bench.fakes import voice
from flowengine.bench.fakes.server import FakeServer

FORMATS = {"ulaw_8000": ("mulaw", 8000), "pcm_8000": ("s16le", 8000), "pcm_16000": ("s16le", 16000),
           "pcm_22050": ("s16le", 22050), "pcm_24000": ("s16le", 24000), "pcm_44100": ("s16le", 44100)}
MODELS = ("eleven_flash_v2_5", "eleven_turbo_v2_5", "eleven_multilingual_v2")


class FakeElevenLabsTTS(FakeServer):
    """Checks `xi-api-key` at the upgrade (401 with ElevenLabs' `detail` body otherwise), the model and output
    format; takes the init message `{"text":" "}`, text messages (generating on `flush` or at the end message
    `{"text":""}`), answers `{"audio": b64, "isFinal": null, ...}` messages, then `{"isFinal": true}` and a close
    with 1000. A client closing first is recorded (closed_by_client) and sent nothing more."""

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/text-to-speech/{voice}/stream-input", self.socket)

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("xi-api-key") == self.api_key

    def error(self, status: int, message: str) -> web.Response:
        reason = "invalid_api_key" if status == 401 else "injected_fault"
        return web.json_response({"detail": {"status": reason, "message": message}}, status=status)

    async def socket(self, request: web.Request) -> web.StreamResponse:
        entry = voice.record(self, request)
        if (refusal := await self.refused(request)) is not None:
            return refusal
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        fmt = FORMATS.get(request.query.get("output_format", "mp3_44100_128"))
        if fmt is None or request.query.get("model_id", MODELS[0]) not in MODELS:
            await ws.send_str(json.dumps({"message": "this fake speaks ulaw_8000/pcm_* of a known model",
                                          "error": "invalid_request", "code": 1008}))
            await ws.close(code=1008, message=b"invalid request")
            return ws
        speaking: asyncio.Task[None] | None = None
        buffered: list[str] = []
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    entry.messages.append(msg.data)
                    continue
                message = _json(msg.data)
                entry.messages.append(message)
                if not isinstance(message, dict) or not isinstance(message.get("text"), str):
                    await ws.close(code=1008, message=b"a message without text")
                    break
                if len(entry.messages) == 1:
                    continue  # the init message: its text is " "
                end = message["text"] == ""
                if message["text"]:
                    buffered.append(message["text"])
                if (message.get("flush") or end) and speaking is None:
                    text, buffered = "".join(buffered).strip(), []
                    speaking = asyncio.create_task(self._speak(request, ws, entry, text, fmt))
            # the socket closed: by _speak after the final message, by a drop, or by the client (barge-in)
        finally:
            if speaking is not None and not entry.finished:
                voice.closed_by_client(entry)
            if speaking is not None and not speaking.done():
                speaking.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await speaking
        return ws

    async def _speak(self, request: web.Request, ws: web.WebSocketResponse, entry: voice.VoiceRecord, text: str,
                     fmt: tuple[str, int]) -> None:
        encoding, rate = fmt
        pieces = voice.cut(voice.spoken(text, encoding, rate), encoding, rate)

        def frame(piece: bytes) -> str:
            return json.dumps({"audio": base64.b64encode(piece).decode(), "isFinal": None,
                               "normalizedAlignment": None, "alignment": None})

        if await voice.send_ws(self, request, ws, entry, pieces, frame) and not ws.closed:
            await ws.send_str(json.dumps({"isFinal": True}))
            entry.finished = True
            entry.closed_at = asyncio.get_running_loop().time()
            await ws.close()


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
