"""A local AWS Polly: POST /v1/speech (SynthesizeSpeech, rest-json, SigV4 service polly) answering the audio as
the HTTP body in chunks (pcm s16le or mulaw at 8000, pcm at 16000), Polly's error bodies and types."""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from flowengine.bench.fakes import sigv4
from flowengine.bench.fakes.server import FakeServer, speech_seconds, tone
from flowengine.bench.fakes.streaming import drop, watched
from flowengine.bench.fakes.voice import record as voice_record
from flowengine.media.g711 import ulaw_encode

VOICES = {"Joanna": ("standard", "neural", "generative", "long-form"), "Matthew": ("standard", "neural"),
          "Ivy": ("standard", "neural"), "Brian": ("standard", "neural"), "Raveena": ("standard",)}
FORMATS = {("pcm", "8000"), ("pcm", "16000"), ("mulaw", "8000")}
ERROR_TYPES = {400: "ValidationException", 403: "UnrecognizedClientException", 429: "ThrottlingException",
               500: "ServiceFailureException", 503: "ServiceFailureException"}
CHUNK_S = 0.1


class FakePollyTTS(FakeServer):
    """`api_key`/`secret_key`/`region`: the SigV4 identity it accepts."""

    def __init__(self, *, secret_key: str = "fake-secret", region: str = "us-east-1", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.secret_key, self.region = secret_key, region
        self.refusal = ""

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/speech", self._speech)

    def authorized(self, request: web.Request) -> bool:
        self.refusal = sigv4.refusal(request, request.get("raw_body", b""), access_key=self.api_key,
                                     secret_key=self.secret_key, region=self.region, service="polly")
        return not self.refusal

    def error(self, status: int, message: str, kind: str = "") -> web.Response:
        if status in (401, 403) and self.refusal == "signature mismatch":
            status, kind = 403, "InvalidSignatureException"
            message = "The request signature we calculated does not match the signature you provided."
        elif status in (401, 403):
            status, kind = 403, "UnrecognizedClientException"
            message = "The security token included in the request is invalid."  # AWS names no key (`refusal` says why)
        kind = kind or ERROR_TYPES.get(status, "ServiceFailureException")
        return web.json_response({"message": message}, status=status, headers={"x-amzn-ErrorType": kind})

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        request["raw_body"] = raw
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        entry = voice_record(self, request, body)
        if (refusal := await self.refused(request)) is not None:
            return refusal
        if problem := _invalid(body):
            return self.error(400, *problem)
        assert isinstance(body, dict)
        fmt, rate = body["OutputFormat"], body.get("SampleRate", "16000")
        response = web.StreamResponse(headers={
            "Content-Type": "application/json" if self.faults.garbage else f"audio/{fmt}",
            "x-amzn-RequestCharacters": str(len(body["Text"]))})
        await response.prepare(request)
        if self.faults.garbage:
            await response.write(b'{"not": "audio"}')
            return response
        samples = tone(speech_seconds(body["Text"]), int(rate))
        audio = ulaw_encode(samples) if fmt == "mulaw" else samples.astype("<i2").tobytes()
        step = int(int(rate) * CHUNK_S) * (1 if fmt == "mulaw" else 2)
        entry.chunks_total = -(-len(audio) // step)
        async with watched(entry):
            for sent, start in enumerate(range(0, len(audio), step)):
                if self.drop_now(sent):
                    drop(request)
                    return response
                await self.pace()
                await response.write(audio[start:start + step])
                entry.audio_bytes += len(audio[start:start + step])
                entry.chunks_sent += 1
                entry.sent_after_close += request.transport is None or request.transport.is_closing()
            await response.write_eof()
            entry.finished = True
        return response


def _invalid(body: Any) -> tuple[str, str] | None:
    """(message, error type) of Polly's refusal, None when the request is good."""
    if not isinstance(body, dict) or not isinstance(body.get("Text"), str) or not body["Text"]:
        return "1 validation error detected: Value at 'text' failed to satisfy constraint", "ValidationException"
    voice, engine = body.get("VoiceId"), body.get("Engine", "standard")
    if voice not in VOICES:
        return (f"1 validation error detected: Value '{voice}' at 'voiceId' failed to satisfy constraint",
                "ValidationException")
    if engine not in VOICES[voice]:
        return f"This voice does not support the selected engine: {engine}", "EngineNotSupportedException"
    if (body.get("OutputFormat"), body.get("SampleRate", "16000")) not in FORMATS:
        return "Invalid sample rate for the output format", "InvalidSampleRateException"
    if len(body["Text"]) > 3000:
        return "Maximum text length has been exceeded", "TextLengthExceededException"
    return None

