"""A local Azure Speech recogniser (REST for short audio): POST .../conversation/cognitiveservices/v1 with a WAV
body (chunked or whole), the key header checked, the audio heard as it arrives, one JSON answer at its end."""
from __future__ import annotations

import asyncio
import struct
from collections import deque
from collections.abc import Iterable

import numpy as np
from aiohttp import web

from flowengine.bench.fakes.azure_tts import ACCESS_DENIED
from flowengine.bench.fakes.listener import Listener
from flowengine.bench.fakes.server import FakeServer, Faults, Recorded

PATH = "/speech/recognition/conversation/cognitiveservices/v1"
CONTENT_TYPE = "audio/wav; codecs=audio/pcm; samplerate=16000"
TICKS_PER_MS = 10_000  # Azure's offsets and durations are in 100 ns ticks


def wav_format(header: bytes) -> dict[str, int]:
    """The fmt chunk of a RIFF/WAVE header, and where the samples start."""
    if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE stream")
    pos = 12
    found: dict[str, int] = {}
    while pos + 8 <= len(header):
        cid, size = header[pos:pos + 4], struct.unpack("<I", header[pos + 4:pos + 8])[0]
        if cid == b"fmt ":
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", header[pos + 8:pos + 24])
            found = {"format": tag, "channels": channels, "rate": rate, "bits": bits}
        elif cid == b"data":
            if not found:
                raise ValueError("a data chunk before the fmt chunk")
            return {**found, "data_at": pos + 8, "data_size": size}
        pos += 8 + size
    raise ValueError("no data chunk in the first bytes")


class FakeAzureSTT(FakeServer):
    """`script`: the text of each caller turn heard, in order. Every request recorded: body = the WAV format
    {"format", "channels", "rate", "bits"}; messages = the sizes of body pieces as they came; audio_bytes."""

    def __init__(self, *, script: Iterable[str] = (), api_key: str = "test-key", faults: Faults | None = None) -> None:
        super().__init__(api_key=api_key, faults=faults)
        self.script: deque[str] = deque(script)
        self.status = ""  # answer this RecognitionStatus instead of hearing (Error, BabbleTimeout, NoMatch...)

    def routes(self, app: web.Application) -> None:
        app.router.add_post(PATH, self._recognize)

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("Ocp-Apim-Subscription-Key") == self.api_key

    def error(self, status: int, message: str) -> web.Response:
        text = ACCESS_DENIED if status == 401 else message
        return web.json_response({"error": {"code": str(status), "message": text}}, status=status)

    async def _recognize(self, request: web.Request) -> web.StreamResponse:
        entry = self.record(request, {})
        answered = False
        try:
            response = await self._answer(request, entry)
            answered = True
            return response
        finally:  # also when the client hung up and the handler was cancelled (waiting, reading or answering)
            entry.closed_by_client = not answered
            entry.closed_at = asyncio.get_running_loop().time()

    async def _answer(self, request: web.Request, entry: Recorded) -> web.StreamResponse:
        refused = await self.refused(request)
        if refused is not None:
            return refused
        if request.headers.get("Content-Type") != CONTENT_TYPE:
            return self.error(415, f"unsupported Content-Type {request.headers.get('Content-Type')!r}")
        listener = Listener(script=self.script)
        head, odd, pieces = b"", b"", 0
        async for data in request.content.iter_any():
            entry.messages.append(len(data))
            if self.drop_now(pieces):
                if request.transport is not None:
                    request.transport.abort()
                return web.Response()
            pieces += 1
            if not entry.body:
                head += data
                if len(head) < 44:
                    continue
                try:
                    entry.body = wav_format(head)
                except ValueError as exc:
                    return self.error(400, str(exc))
                if (entry.body["format"], entry.body["channels"], entry.body["bits"]) != (1, 1, 16):
                    return self.error(400, f"unsupported WAV format {entry.body}")
                data = head[entry.body["data_at"]:]
            data = odd + data
            cut = len(data) - len(data) % 2
            odd = data[cut:]
            entry.audio_bytes += cut
            listener.feed(np.frombuffer(data[:cut], dtype="<i2"))
        if self.faults.garbage:
            return web.Response(body=b"RecognitionStatus=Success", content_type="application/json")
        duration = int(listener.audio_ms) * TICKS_PER_MS
        if self.status:
            return web.json_response({"RecognitionStatus": self.status, "Offset": 0, "Duration": duration})
        text = listener.take()
        if not text:
            return web.json_response({"RecognitionStatus": "InitialSilenceTimeout", "Offset": duration,
                                      "Duration": 0})
        return web.json_response({
            "RecognitionStatus": "Success", "DisplayText": text, "Offset": 0, "Duration": duration,
            "NBest": [{"Confidence": 0.93, "Lexical": text.lower().strip(".?!"), "ITN": text, "MaskedITN": text,
                       "Display": text}]})
