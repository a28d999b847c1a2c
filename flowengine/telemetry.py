"""The measurements port: what the floors below the API report as it happens (turns, barge-ins, provider requests,
speech queue waits), and the one sink of the process they report to (silent until the API installs its own)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol

TurnStage = Literal["voice_to_voice", "endpointing", "stt", "llm_first_token", "tts_first_audio", "engine"]
TURN_STAGES: tuple[TurnStage, ...] = ("voice_to_voice", "endpointing", "stt", "llm_first_token", "tts_first_audio",
                                      "engine")
ProviderKind = Literal["stt", "llm", "tts"]
RequestOutcome = Literal["ok", "error", "cancelled"]
"""`cancelled`: cut short by the engine (a barge-in, the call's end), neither a success nor the provider's fault."""
BargeIn = Literal["interrupted", "resumed"]
"""What the caller's speech over the agent turned out to be: a real interruption, or a backchannel (the agent goes on)."""


class Telemetry(Protocol):
    """Implementations return at once and are thread-safe: queue waits are reported from worker threads.
    Labels are bounded by the caller (provider and pool names come from the registries, never call ids)."""

    def turn(self, seconds: Mapping[TurnStage, float]) -> None:
        """One answered caller turn: the stages it measured, in seconds (a stage it did not reach is left out)."""

    def barge_in(self, verdict: BargeIn) -> None:
        """The caller spoke while the agent did."""

    def provider_request(self, kind: ProviderKind, provider: str, outcome: RequestOutcome, seconds: float) -> None:
        """One request to a speech or language provider, from its start to its last result (or failure)."""

    def queue_wait(self, kind: ProviderKind, pool: str, seconds: float) -> None:
        """How long a request of a local model waited for a free worker of its pool before running."""


class Silent:
    """The sink before one is installed (tests of lower floors, benchmarks): reports go nowhere."""

    def turn(self, seconds: Mapping[TurnStage, float]) -> None:
        pass

    def barge_in(self, verdict: BargeIn) -> None:
        pass

    def provider_request(self, kind: ProviderKind, provider: str, outcome: RequestOutcome, seconds: float) -> None:
        pass

    def queue_wait(self, kind: ProviderKind, pool: str, seconds: float) -> None:
        pass


_sink: Telemetry = Silent()


def install(sink: Telemetry) -> None:
    """Sets where reports go from now on (the process has one: Prometheus counts per process)."""
    global _sink
    _sink = sink


def sink() -> Telemetry:
    return _sink
