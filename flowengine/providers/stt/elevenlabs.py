"""ElevenLabs live recognition (Scribe realtime WebSocket, manual commits): base64 pcm_16000 chunks in, partial and
committed transcripts out; our finalize is the commit, its committed_transcript the turn's text."""
from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import numpy as np

from flowengine.providers import credentials
from flowengine.providers.stt.base import SAMPLE_RATE, STT_PROVIDERS
from flowengine.providers.stt.wsstream import Event, Fault, Flushed, Interim, WSRecogniser, WSStream

DEFAULT_MODEL = "scribe_v2_realtime"
# Manual commits: each commit is answered by exactly one committed_transcript, so a finalize gets its own turn's
# text. With commit_strategy=vad the vendor's own commits (its end of speech) would be indistinguishable from
# the answer to ours, and a turn's text could land in the next one; the engine's VAD ends turns instead.
COMMIT_STRATEGY = "manual"
MIN_COMMIT_S = 0.3  # a commit with less uncommitted audio is refused (commit_throttled)
FATAL = {"auth_error": "refused the API key", "quota_exceeded": "quota exceeded", "rate_limited": "rate limited",
         "input_error": "refused the input", "chunk_size_exceeded": "refused a chunk as too large",
         "commit_throttled": "refused the commit", "unaccepted_terms": "terms not accepted"}
RETRYABLE = {"error", "transcriber_error", "session_time_limit_exceeded", "queue_overflow", "resource_exhausted"}


def elevenlabs_language(bcp47: str) -> str:
    """ISO 639-1 from a BCP47 hint ("" = let Scribe detect it)."""
    return bcp47.replace("_", "-").split("-")[0].strip().lower()


class ElevenLabsStream(WSStream):
    vendor = "elevenlabs"
    min_flush_audio_s = MIN_COMMIT_S

    def encode(self, pcm: np.ndarray) -> str:
        audio = base64.b64encode(pcm.astype("<i2", copy=False).tobytes()).decode("ascii")
        return json.dumps({"message_type": "input_audio_chunk", "audio_base_64": audio, "commit": False,
                           "sample_rate": SAMPLE_RATE})

    def finalize_message(self) -> str:
        return json.dumps({"message_type": "input_audio_chunk", "audio_base_64": "", "commit": True,
                           "sample_rate": SAMPLE_RATE})

    def parse(self, text: str) -> list[Event]:
        data = json.loads(text)
        kind = str(data["message_type"])
        if kind == "partial_transcript":
            return [Interim(str(data["text"]))]
        if kind == "committed_transcript":
            return [Flushed(str(data["text"]))]
        if kind in FATAL or kind in RETRYABLE or "error" in data:
            detail = str(data.get("error") or data.get("message") or "")
            return [Fault(f"{FATAL.get(kind, kind)}: {detail}", retry=kind in RETRYABLE)]
        return []  # session_started, committed_transcript_with_timestamps, types added after this was written


@STT_PROVIDERS.register("elevenlabs", ready=credentials.ready_for("elevenlabs"))
class ElevenLabsSTT(WSRecogniser):
    name = vendor = "elevenlabs"
    default_base = "https://api.elevenlabs.io"

    def __init__(self, *, model: str = DEFAULT_MODEL, finalize_timeout_s: float = 5.0) -> None:
        super().__init__(finalize_timeout_s=finalize_timeout_s)
        self.model = model or DEFAULT_MODEL

    def make_stream(self, language: str, keywords: tuple[str, ...]) -> ElevenLabsStream:
        params = [("model_id", self.model), ("audio_format", f"pcm_{SAMPLE_RATE}"),
                  ("commit_strategy", COMMIT_STRATEGY)]
        if elevenlabs_language(language):
            params.append(("language_code", elevenlabs_language(language)))
        params += [("keyterms", word) for word in keywords if word.strip()]
        url = self.ws_url(self.default_base, "/v1/speech-to-text/realtime") + "?" + urlencode(params)
        return ElevenLabsStream(self.http, url, {"xi-api-key": self.access.api_key}, language=language,
                                finalize_timeout_s=self.finalize_timeout_s)
