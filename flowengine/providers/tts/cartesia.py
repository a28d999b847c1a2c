"""Cartesia Sonic voices over the TTS WebSocket (`/tts/websocket`), one context per sentence, 8 kHz mu-law."""
from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator

import aiohttp
import numpy as np

from flowengine.providers import credentials
from flowengine.providers.cloud import READ_TIMEOUT_S, TransientError
from flowengine.providers.tts.base import TTS_PROVIDERS
from flowengine.providers.tts.cloud import CloudTTS, PcmChunks, b64_audio
from flowengine.providers.tts.websocket import connect, receive_json, status_error

BASE_URL = "https://api.cartesia.ai"
API_VERSION = "2026-08-14"  # the cartesia-version the current SDK sends
MODEL = "sonic-3"  # the current GA model, pinned (sonic-latest would move under us)
OUTPUT_FORMAT = {"container": "raw", "encoding": "pcm_mulaw", "sample_rate": 8000}
MAX_MESSAGES = 100_000  # a bound on one sentence's messages


def supports(*, voice_id: object = "", **_: object) -> tuple[str, str] | None:
    """Cartesia names its voices by UUID."""
    if voice_id:
        try:
            uuid.UUID(str(voice_id))
        except ValueError:
            return "voice_id", f"cartesia's voice_id is a voice's UUID, not {str(voice_id)!r}"
    return None


@TTS_PROVIDERS.register("cartesia", ready=credentials.ready_for("cartesia"), supports=supports)
class CartesiaTTS(CloudTTS):
    """One socket and one context_id per sentence (`continue: false`: the whole transcript at once); chunks are
    decoded as they arrive until `done`. A barge-in sends the context's cancel, then closes the socket."""

    vendor = "cartesia"
    name = "cartesia"
    default_voice = "71a7ad14-091c-4e8e-a314-022ece01c121"
    sample_rate = 8000
    read_timeout_s = READ_TIMEOUT_S

    async def _synthesize(self, text: str, voice: str, language: str) -> AsyncIterator[np.ndarray]:
        context_id = uuid.uuid4().hex
        request = {"context_id": context_id, "model_id": MODEL, "transcript": text,
                   "voice": {"mode": "id", "id": voice}, "output_format": OUTPUT_FORMAT, "continue": False}
        if language:
            request["language"] = language.split("-")[0].lower()
        headers = {"Authorization": f"Bearer {self.access.api_key}", "cartesia-version": API_VERSION}
        pcm = PcmChunks("mulaw")
        async with connect(self, self.ws_url(BASE_URL, "/tts/websocket"), headers=headers,
                           read_timeout_s=self.read_timeout_s) as ws:
            done = False
            try:
                await ws.send_str(json.dumps(request))
                for _ in range(MAX_MESSAGES):
                    message = await receive_json(ws, self.vendor)
                    if message is None:
                        raise TransientError("cartesia closed the socket before the sentence was done")
                    kind = message.get("type")
                    if kind == "error":
                        done = True
                        status = message.get("status_code")
                        raise status_error(self.vendor, status if isinstance(status, int) else 500,
                                           str(message.get("message") or message.get("title") or "")[:200])
                    if message.get("context_id") not in (None, context_id):
                        continue  # another context's message: not ours
                    if kind == "chunk":
                        yield pcm.push(b64_audio(message.get("data"), self.vendor))
                    elif kind == "done" or message.get("done") is True:
                        done = True
                        return
                    elif kind not in ("timestamps", "flush_done", "phoneme_timestamps"):
                        raise TransientError(f"cartesia sent a message that is not its protocol: {kind!r}")
                raise TransientError("cartesia sent no end of the sentence")
            finally:
                if not done and not ws.closed:
                    # barge-in (or a failure of ours): stop the generation (and the billing) before closing
                    with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                        await ws.send_str(json.dumps({"context_id": context_id, "cancel": True}))
