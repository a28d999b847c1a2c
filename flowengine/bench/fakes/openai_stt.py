"""A local OpenAI transcription endpoint (POST /v1/audio/transcriptions, multipart): Bearer key checked, the file
must be a WAV and the model field present; the audio is heard by a Listener, the text comes from a script."""
from __future__ import annotations

import io
import wave
from collections import deque
from collections.abc import Iterable
from typing import Any

import numpy as np
from aiohttp import web

from flowengine.bench.fakes.listener import Listener
from flowengine.bench.fakes.openai_wire import OpenAIFake, openai_error
from flowengine.bench.fakes.server import Faults


class FakeOpenAISTT(OpenAIFake):
    """`script`: the text of each turn heard, in order. Every request recorded: body = the form fields, the
    file's name and its WAV format {"channels", "width", "rate", "frames"}."""

    def __init__(self, *, script: Iterable[str] = (), api_key: str = "test-key", faults: Faults | None = None) -> None:
        super().__init__(api_key=api_key, faults=faults)
        self.script: deque[str] = deque(script)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)

    async def _transcribe(self, request: web.Request) -> web.StreamResponse:
        entry = self.record(request, {})
        finished = False
        try:
            answer = await self._answer(request, entry)
            finished = True
            return answer
        finally:
            entry.closed_by_client = not finished

    async def _answer(self, request: web.Request, entry: Any) -> web.StreamResponse:
        form = await request.post()
        upload = form.get("file")
        entry.body = {k: v for k, v in form.items() if isinstance(v, str)}
        try:
            return await self._heard(request, entry, upload)
        finally:
            if isinstance(upload, web.FileField):
                upload.file.close()  # aiohttp spools uploads to a temporary file

    async def _heard(self, request: web.Request, entry: Any, upload: object) -> web.StreamResponse:
        refused = await self.refused(request)
        if refused is not None:
            return refused
        if not entry.body.get("model"):
            return openai_error(400, "you must provide a model parameter", param="model")
        if not isinstance(upload, web.FileField):
            return openai_error(400, "a file is required", param="file")
        entry.body["filename"] = upload.filename
        try:
            with wave.open(io.BytesIO(upload.file.read()), "rb") as audio:
                entry.body["wav"] = {"channels": audio.getnchannels(), "width": audio.getsampwidth(),
                                     "rate": audio.getframerate(), "frames": audio.getnframes()}
                pcm = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2")
        except (wave.Error, EOFError) as exc:
            return openai_error(400, f"Invalid file format: {exc}", param="file", code="invalid_value")
        entry.audio_bytes = pcm.size * 2
        if self.drop_now(0):
            if request.transport is not None:
                request.transport.abort()
            return web.Response()
        if self.faults.garbage:
            return web.Response(body=b'{"text": "unterminated', content_type="application/json")
        listener = Listener(script=self.script, rate=entry.body["wav"]["rate"])
        listener.feed(pcm)
        text = listener.take()
        if entry.body.get("response_format") == "text":
            return web.Response(text=text)
        return web.json_response({"text": text, "usage": {"type": "duration", "seconds": round(pcm.size / 16000)}})
