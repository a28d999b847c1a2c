"""A local stand-in for Cartesia's TTS WebSocket (`/tts/websocket`): contexts, chunk/done/error events, cancel."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from flowengine.bench.fakes import voice
from flowengine.bench.fakes.server import FakeServer

ENCODINGS = {"pcm_mulaw": "mulaw", "pcm_s16le": "s16le"}  # the raw encodings this fake speaks
RATES = (8000, 16000, 22050, 24000, 44100, 48000)
MODELS = ("sonic-3", "sonic-3.5", "sonic-latest", "sonic-2")


class FakeCartesiaTTS(FakeServer):
    """Checks the key at the upgrade (`Authorization: Bearer` with a `cartesia-version` header, or the older
    `X-API-Key` / `?api_key=`), each generation request's fields; answers `chunk` events with the context_id,
    then `done`; `{"context_id","cancel":true}` stops that context at once (recorded as `cancelled`). Invalid
    requests get the documented `error` event. A client closing mid-context is recorded (closed_by_client)."""

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/tts/websocket", self.socket)

    def authorized(self, request: web.Request) -> bool:
        bearer = request.headers.get("Authorization") == f"Bearer {self.api_key}"
        older = self.api_key in (request.headers.get("X-API-Key"), request.query.get("api_key"))
        version = request.headers.get("cartesia-version") or request.query.get("cartesia_version")
        return (bearer or older) and bool(version)

    def error(self, status: int, message: str) -> web.Response:
        title = "Unauthorized" if status == 401 else "Injected fault"
        return web.json_response({"title": title, "message": message, "status_code": status,
                                  "request_id": str(uuid.uuid4())}, status=status)

    async def socket(self, request: web.Request) -> web.StreamResponse:
        entry = voice.record(self, request)
        if (refusal := await self.refused(request)) is not None:
            return refusal
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        contexts: dict[str, asyncio.Task[None]] = {}
        try:
            async for msg in ws:
                message = _json(msg.data) if msg.type == WSMsgType.TEXT else msg.data
                entry.messages.append(message)
                if not isinstance(message, dict):
                    await self._error(ws, "", 400, "a message that is not a JSON object")
                    continue
                context_id = str(message.get("context_id") or "")
                if message.get("cancel") is True:
                    if (task := contexts.pop(context_id, None)) is not None and not task.done():
                        entry.cancelled = True
                        task.cancel()
                    continue
                if (problem := _invalid(message)) is not None:
                    await self._error(ws, context_id, 400, problem)
                    continue
                fmt = message["output_format"]
                contexts[context_id] = asyncio.create_task(self._speak(
                    request, ws, entry, context_id, message["transcript"],
                    ENCODINGS[fmt["encoding"]], int(fmt["sample_rate"])))
        finally:
            unfinished = [t for t in contexts.values() if not t.done()]
            if unfinished or entry.cancelled:
                voice.closed_by_client(entry)
            for task in unfinished:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return ws

    async def _speak(self, request: web.Request, ws: web.WebSocketResponse, entry: voice.VoiceRecord,
                     context_id: str, transcript: str, encoding: str, rate: int) -> None:
        pieces = voice.cut(voice.spoken(transcript, encoding, rate), encoding, rate)

        def frame(piece: bytes) -> str:
            return json.dumps({"type": "chunk", "context_id": context_id, "data": base64.b64encode(piece).decode(),
                               "done": False, "status_code": 206, "step_time": 12.5})

        if await voice.send_ws(self, request, ws, entry, pieces, frame) and not ws.closed:
            await ws.send_str(json.dumps({"type": "done", "context_id": context_id, "done": True,
                                          "status_code": 206}))
            entry.finished = True
            entry.closed_at = asyncio.get_running_loop().time()

    async def _error(self, ws: web.WebSocketResponse, context_id: str, status: int, message: str) -> None:
        await ws.send_str(json.dumps({"type": "error", "context_id": context_id, "done": True, "message": message,
                                      "title": "Invalid request", "status_code": status,
                                      "error_code": "invalid_request"}))


def _invalid(message: dict[str, Any]) -> str | None:
    """What is wrong with a generation request (None: nothing)."""
    if not message.get("context_id"):
        return "context_id is required"
    if message.get("model_id") not in MODELS:
        return f"unknown model_id {message.get('model_id')!r}"
    if not isinstance(message.get("transcript"), str):
        return "transcript is required"
    spec = message.get("voice")
    if not (isinstance(spec, str) and spec) and not (isinstance(spec, dict) and spec.get("id")
                                                     and spec.get("mode", "id") == "id"):
        return "voice must be an id, {\"id\"} or {\"mode\":\"id\",\"id\"}"
    fmt = message.get("output_format")
    if not isinstance(fmt, dict) or fmt.get("container") != "raw" or fmt.get("encoding") not in ENCODINGS \
            or fmt.get("sample_rate") not in RATES:
        return "output_format must be raw pcm_mulaw/pcm_s16le at a documented rate"
    if message.get("continue") not in (False, None):
        return "this fake takes whole transcripts (continue: false)"
    return None


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
