"""Deepgram live recognition (`/v1/listen` WebSocket): linear16 16 kHz frames in, interim and final results out,
its endpointing (speech_final) and UtteranceEnd as the end of the caller's speech."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import numpy as np

from flowengine.providers import credentials
from flowengine.providers.stt.base import SAMPLE_RATE, STT_PROVIDERS
from flowengine.providers.stt.wsstream import Event, Fault, Final, Flushed, Interim, SpeechEnded, WSRecogniser, WSStream

DEFAULT_MODEL = "nova-3"  # the telephony models (nova-2-phonecall...) are a `model` away
ENDPOINTING_MS = 300
UTTERANCE_END_MS = 1000  # Deepgram's minimum


def listen_query(model: str, language: str, keywords: tuple[str, ...]) -> str:
    params = [("model", model), ("encoding", "linear16"), ("sample_rate", str(SAMPLE_RATE)), ("channels", "1"),
              ("interim_results", "true"), ("endpointing", str(ENDPOINTING_MS)),
              ("utterance_end_ms", str(UTTERANCE_END_MS)), ("vad_events", "true"), ("smart_format", "true")]
    if language:
        params.append(("language", language))
    # nova-3 takes key terms (phrases); the older models boost single keywords
    name = "keyterm" if model.startswith("nova-3") else "keywords"
    params += [(name, word) for word in keywords if word.strip()]
    return urlencode(params)


class DeepgramStream(WSStream):
    vendor = "deepgram"
    keepalive_s = 5.0  # Deepgram closes a socket without data for ~10 s (NET-0001)
    unanswered_flush_grace_s = 0.3  # Finalize is not always answered when nothing significant is buffered

    def encode(self, pcm: np.ndarray) -> bytes:
        return pcm.astype("<i2", copy=False).tobytes()

    def finalize_message(self) -> str:
        return '{"type": "Finalize"}'

    def close_message(self) -> str:
        return '{"type": "CloseStream"}'

    def keepalive_message(self) -> str:
        return '{"type": "KeepAlive"}'

    def parse(self, text: str) -> list[Event]:
        data = json.loads(text)
        kind = data["type"]
        if kind == "Results":
            best = data["channel"]["alternatives"][0]
            words, confidence = str(best["transcript"]), float(best.get("confidence") or 0.0)
            end_s = float(data["start"]) + float(data["duration"])
            if data.get("from_finalize"):
                return [Flushed(words, confidence, end_s)]
            if data.get("is_final"):
                return [Final(words, confidence, end_s), *([SpeechEnded()] if data.get("speech_final") else [])]
            return [Interim(words)]
        if kind == "UtteranceEnd":
            return [SpeechEnded()]
        if kind == "Error":
            return [Fault(str(data.get("description") or data.get("message") or text[:200]))]
        return []  # Metadata, SpeechStarted, and types added after this was written


@STT_PROVIDERS.register("deepgram", ready=credentials.ready_for("deepgram"))
class DeepgramSTT(WSRecogniser):
    name = vendor = "deepgram"
    default_base = "https://api.deepgram.com"

    def __init__(self, *, model: str = DEFAULT_MODEL, finalize_timeout_s: float = 5.0) -> None:
        super().__init__(finalize_timeout_s=finalize_timeout_s)
        self.model = model or DEFAULT_MODEL

    def make_stream(self, language: str, keywords: tuple[str, ...]) -> DeepgramStream:
        url = self.ws_url(self.default_base, "/v1/listen") + "?" + listen_query(self.model, language, keywords)
        return DeepgramStream(self.http, url, {"Authorization": f"Token {self.access.api_key}"}, language=language,
                              finalize_timeout_s=self.finalize_timeout_s)
