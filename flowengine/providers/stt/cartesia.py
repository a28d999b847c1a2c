"""Cartesia live recognition (ink-whisper on `/stt/websocket`, manual finalize): pcm_s16le 16 kHz frames in, transcript
deltas out; `finalize` flushes a turn (answered by its last transcript, then flush_done)."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import numpy as np

from flowengine.providers import credentials
from flowengine.providers.stt.base import SAMPLE_RATE, STT_PROVIDERS
from flowengine.providers.stt.wsstream import Event, Fault, Final, Flushed, Interim, WSRecogniser, WSStream

DEFAULT_MODEL = "ink-whisper"
API_VERSION = "2026-08-14"  # the `cartesia-version` the current SDK sends


def cartesia_language(bcp47: str) -> str:
    """Cartesia wants ISO 639-1: "en-US" -> "en" ("" -> "en")."""
    return bcp47.replace("_", "-").split("-")[0].strip().lower() or "en"


class CartesiaStream(WSStream):
    vendor = "cartesia"
    joiner = ""  # transcript texts are deltas carrying their own spaces

    def encode(self, pcm: np.ndarray) -> bytes:
        return pcm.astype("<i2", copy=False).tobytes()

    def finalize_message(self) -> str:
        return "finalize"

    def close_message(self) -> str:
        return "close"

    def parse(self, text: str) -> list[Event]:
        data = json.loads(text)
        kind = data["type"]
        if kind == "transcript":
            words = str(data["text"])
            return [Final(words)] if data.get("is_final") else [Interim(words)]
        if kind == "flush_done":
            return [Flushed()]
        if kind == "error":
            status = int(data.get("status_code") or data.get("code") or 0)
            message = str(data.get("message") or data.get("title") or text[:200])
            if status in (401, 403):
                return [Fault(f"refused the API key ({status}): {message}")]
            return [Fault(message, retry=status >= 500 or status == 429)]
        return []  # done (after close), and types added after this was written


@STT_PROVIDERS.register("cartesia", ready=credentials.ready_for("cartesia"))
class CartesiaSTT(WSRecogniser):
    name = vendor = "cartesia"
    default_base = "https://api.cartesia.ai"

    def __init__(self, *, model: str = DEFAULT_MODEL, finalize_timeout_s: float = 5.0) -> None:
        super().__init__(finalize_timeout_s=finalize_timeout_s)
        self.model = model or DEFAULT_MODEL

    def make_stream(self, language: str, keywords: tuple[str, ...]) -> CartesiaStream:
        params = [("model", self.model), ("encoding", "pcm_s16le"), ("sample_rate", str(SAMPLE_RATE)),
                  ("language", cartesia_language(language))]
        params += [("keyterm", word) for word in keywords if word.strip()]
        url = self.ws_url(self.default_base, "/stt/websocket") + "?" + urlencode(params)
        headers = {"Authorization": f"Bearer {self.access.api_key}", "Cartesia-Version": API_VERSION}
        return CartesiaStream(self.http, url, headers, language=language, finalize_timeout_s=self.finalize_timeout_s)
