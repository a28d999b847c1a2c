"""Per-turn latency of an AI call: endpointing, STT, LLM first token, TTS first audio, engine overhead."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from flowengine.telemetry import TurnStage


@dataclass
class TurnMetrics:
    """One caller turn and the reply to it. Times in ms; `decided_at` is perf_counter seconds."""

    index: int
    caller_text: str = ""
    decided_at: float = 0.0
    endpointing_ms: float = 0.0  # end of caller speech -> end-of-turn decision (VAD stop time)
    ended_by: str = ""  # what ended the caller's turn: "vad" or "recogniser" (its end of speech came first)
    stt_ms: float = 0.0  # recogniser compute time (mostly hidden behind endpointing)
    stt_wait_ms: float = 0.0  # what of it was still left after the decision
    llm_first_token_ms: float | None = None
    tts_first_audio_ms: float | None = None
    engine_ms: float | None = None  # decision -> first reply audio queued, provider time excluded
    input_tokens: int = 0
    output_tokens: int = 0

    def provider_ms(self) -> float:
        return self.stt_wait_ms + (self.llm_first_token_ms or 0.0) + (self.tts_first_audio_ms or 0.0)

    @property
    def voice_to_voice_ms(self) -> float | None:
        """End of caller speech -> first reply packet, as the engine sees it (+ one 20 ms tick)."""
        if self.engine_ms is None:
            return None
        return self.endpointing_ms + self.provider_ms() + self.engine_ms + 20.0

    def report(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("decided_at")
        data["voice_to_voice_ms"] = self.voice_to_voice_ms
        return data


def turn_seconds(turn: TurnMetrics) -> dict[TurnStage, float]:
    """The turn's stages in seconds, as the telemetry port takes them; a stage the turn did not reach is left out
    (a reply cut before its first audio has no engine time and no voice-to-voice)."""
    stages: dict[TurnStage, float | None] = {
        "voice_to_voice": turn.voice_to_voice_ms, "endpointing": turn.endpointing_ms, "stt": turn.stt_ms,
        "llm_first_token": turn.llm_first_token_ms, "tts_first_audio": turn.tts_first_audio_ms,
        "engine": turn.engine_ms}
    return {stage: ms / 1000 for stage, ms in stages.items() if ms is not None}
