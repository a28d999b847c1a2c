"""VAD: ai_vad_config validation, the state machine and its events, real speech with both backends."""
from __future__ import annotations

import numpy as np
import pytest

from flowengine.media.codecs import get_codec
from flowengine.media.g711 import Pcm
from flowengine.media.inbound import InboundBatch, Receiver
from flowengine.media.vad import (
    SpeechEnded,
    SpeechResumed,
    SpeechStarted,
    SpeechStopping,
    VadAnalyzer,
    VadConfig,
    VadConfigError,
    VadEvent,
    VadState,
    volume,
    volume_threshold,
)
from flowengine.media.vad_backends import (
    SileroVadBackend,
    WebRtcVadBackend,
    make_vad_backend,
    webrtc_mode,
)

LOUD = np.full(160, 3000, dtype=np.int16)
QUIET = np.zeros(160, dtype=np.int16)


class ScriptedBackend:
    """Confidence read from the frame itself: the first sample / 1000."""

    sample_rate = 8000
    volume_first = False

    def confidence(self, pcm: Pcm, raw: object = None) -> float:
        return float(pcm[0]) / 1000.0

    def reset(self) -> None:
        pass


def scripted(confidences: list[float], level: int = 3000) -> list[Pcm]:
    out = []
    for c in confidences:
        frame = np.full(160, level, dtype=np.int16)
        frame[0] = int(c * 1000)
        out.append(frame)
    return out


def run(analyzer: VadAnalyzer, frames: list[Pcm]) -> list[VadEvent]:
    events: list[VadEvent] = []
    for frame in frames:
        events.extend(analyzer.process(frame))
    return events


# configuration


def test_defaults_are_pipecats() -> None:
    config = VadConfig()
    assert (config.confidence, config.start_secs, config.stop_secs, config.min_volume) == (0.7, 0.2, 0.2, 0.6)
    assert (config.start_frames, config.stop_frames) == (10, 10)


def test_from_mapping_fills_missing_and_null_fields() -> None:
    assert VadConfig.from_mapping(None) == VadConfig()
    assert VadConfig.from_mapping({"confidence": 0.5, "stop_secs": None}) == VadConfig(confidence=0.5)


def test_every_problem_is_reported_at_once_with_the_field_name() -> None:
    with pytest.raises(VadConfigError) as excinfo:
        VadConfig.from_mapping({"confidence": 1.5, "start_secs": -1, "stop_secs": 31, "min_volume": "loud"})
    assert str(excinfo.value) == (
        "ai_vad_config.confidence must be between 0 and 1, got 1.5; "
        "ai_vad_config.start_secs must be between 0 and 30, got -1; "
        "ai_vad_config.stop_secs must be between 0 and 30, got 31; "
        "ai_vad_config.min_volume must be a number, got 'loud'"
    )


@pytest.mark.parametrize("value", [True, float("nan"), float("inf")])
def test_non_numbers_are_refused(value: object) -> None:
    with pytest.raises(VadConfigError, match=r"ai_vad_config.confidence must be a number"):
        VadConfig(confidence=value)  # type: ignore[arg-type]


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(VadConfigError) as excinfo:
        VadConfig.from_mapping({"confidence": 0.5, "threshold": 3})
    assert str(excinfo.value) == (
        "ai_vad_config has unknown field(s) threshold; known: confidence, start_secs, stop_secs, min_volume"
    )


def test_boundaries_are_accepted() -> None:
    VadConfig(confidence=0, start_secs=0, stop_secs=30, min_volume=1)
    assert VadConfig(start_secs=0).start_frames == 1


# volume


def test_volume_scale() -> None:
    assert volume(QUIET) == 0.0
    assert volume(np.full(160, 32767, dtype=np.int16)) == 1.0
    assert volume(np.full(160, 3277, dtype=np.int16)) == pytest.approx(0.896, abs=0.002)  # -20 dBFS
    level = np.full(160, 108, dtype=np.int16)
    assert volume(level) == pytest.approx(0.6, abs=0.005)
    assert volume_threshold(0.6) == pytest.approx(108**2, rel=0.02)
    assert volume_threshold(0.0) == 0.0


# state machine


def test_full_cycle_with_resume() -> None:
    analyzer = VadAnalyzer(ScriptedBackend(), VadConfig(start_secs=0.06, stop_secs=0.06))
    frames = scripted([0, 0.9, 0.9, 0.9, 0.9, 0, 0.9, 0.9, 0, 0, 0, 0])
    states = []
    events: list[VadEvent] = []
    for frame in frames:
        events.extend(analyzer.process(frame))
        states.append(analyzer.state)
    assert states == [
        VadState.QUIET,
        VadState.STARTING,
        VadState.STARTING,
        VadState.SPEAKING,
        VadState.SPEAKING,
        VadState.STOPPING,
        VadState.SPEAKING,
        VadState.SPEAKING,
        VadState.STOPPING,
        VadState.STOPPING,
        VadState.QUIET,
        VadState.QUIET,
    ]
    assert events == [
        SpeechStarted(t_ms=80, start_ms=20),
        SpeechStopping(t_ms=120, end_ms=100),
        SpeechResumed(t_ms=140),
        SpeechStopping(t_ms=180, end_ms=160),
        SpeechEnded(t_ms=220, start_ms=20, end_ms=160),
    ]


def test_short_blip_never_starts_speech() -> None:
    analyzer = VadAnalyzer(ScriptedBackend(), VadConfig(start_secs=0.1))
    assert run(analyzer, scripted([0.9, 0.9, 0, 0.9, 0.9, 0.9, 0.9, 0])) == []
    assert analyzer.state is VadState.QUIET


def test_confidence_threshold() -> None:
    analyzer = VadAnalyzer(ScriptedBackend(), VadConfig(confidence=0.8, start_secs=0))
    assert run(analyzer, scripted([0.79])) == []
    assert run(analyzer, scripted([0.8])) == [SpeechStarted(t_ms=40, start_ms=20)]


def test_min_volume_gates_confident_but_quiet_frames() -> None:
    analyzer = VadAnalyzer(ScriptedBackend(), VadConfig(start_secs=0, min_volume=0.6))
    assert run(analyzer, scripted([0.9] * 5, level=50)) == []
    assert run(analyzer, scripted([0.9], level=200)) == [SpeechStarted(t_ms=120, start_ms=100)]


def test_zero_stop_secs_stops_and_ends_in_one_frame() -> None:
    analyzer = VadAnalyzer(ScriptedBackend(), VadConfig(start_secs=0, stop_secs=0))
    events = run(analyzer, scripted([0.9, 0]))
    assert events == [SpeechStarted(t_ms=20, start_ms=0), SpeechStopping(t_ms=40, end_ms=20), SpeechEnded(t_ms=40, start_ms=0, end_ms=20)]


# backends


@pytest.mark.parametrize(("confidence", "mode"), [(0.0, 0), (0.3, 1), (0.5, 2), (0.7, 2), (0.75, 3), (1.0, 3)])
def test_webrtc_mode_mapping(confidence: float, mode: int) -> None:
    assert webrtc_mode(confidence) == mode
    assert WebRtcVadBackend(8000, VadConfig(confidence=confidence)).mode == mode


def test_unknown_backend_and_bad_rates() -> None:
    with pytest.raises(ValueError, match="unknown VAD backend 'energy'; expected one of: webrtc, silero"):
        make_vad_backend("energy", 8000)
    with pytest.raises(ValueError, match="webrtcvad needs"):
        WebRtcVadBackend(22050)
    with pytest.raises(ValueError, match="silero VAD needs 8000 or 16000 Hz"):
        SileroVadBackend(24000)


def _with_silence(speech: Pcm, rate: int = 8000) -> Pcm:
    lead = np.zeros(rate, dtype=np.int16)
    tail = np.zeros(2 * rate, dtype=np.int16)
    return np.concatenate((lead, speech, tail))


def _frames(pcm: Pcm, size: int = 160) -> list[Pcm]:
    return [pcm[i : i + size] for i in range(0, len(pcm) - size + 1, size)]


@pytest.mark.parametrize("backend", ["webrtc", "silero"])
def test_real_speech_gives_one_utterance(backend: str, speech_8k: Pcm) -> None:
    config = VadConfig(stop_secs=0.6)  # espeak leaves short pauses between words
    analyzer = VadAnalyzer(make_vad_backend(backend, 8000, config), config)
    events = run(analyzer, _frames(_with_silence(speech_8k)))
    speech_ms = len(speech_8k) // 8
    started = [e for e in events if isinstance(e, SpeechStarted)]
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert len(started) == 1 and len(ended) == 1, events
    # Speech starts 1000 ms in and lasts speech_ms; allow for leading/trailing breath.
    assert 950 <= started[0].start_ms <= 1300
    assert started[0].t_ms == started[0].start_ms + 200
    assert 1000 + speech_ms - 400 <= ended[0].end_ms <= 1000 + speech_ms + 100
    assert ended[0].t_ms == pytest.approx(ended[0].end_ms + 600, abs=20)
    stopping = [e for e in events if isinstance(e, SpeechStopping)]
    assert stopping and stopping[-1].end_ms == ended[0].end_ms


@pytest.mark.parametrize("backend", ["webrtc", "silero"])
def test_silence_and_low_noise_give_no_events(backend: str) -> None:
    noise = (np.random.default_rng(5).standard_normal(8000 * 3) * 30).astype(np.int16)
    analyzer = VadAnalyzer(make_vad_backend(backend, 8000))
    assert run(analyzer, _frames(noise)) == []
    assert run(analyzer, _frames(np.zeros(8000, dtype=np.int16))) == []


def test_silero_at_16k_sees_the_speech(speech_8k: Pcm) -> None:
    from flowengine.media.resample import resample

    speech = resample(_with_silence(speech_8k), 8000, 16000)
    config = VadConfig(stop_secs=0.6)
    analyzer = VadAnalyzer(make_vad_backend("silero", 16000, config), config)
    events = run(analyzer, _frames(speech, 320))
    assert [type(e) for e in events if isinstance(e, (SpeechStarted, SpeechEnded))] == [SpeechStarted, SpeechEnded]


class CountingBackend:
    """A backend that counts the frames it is asked to score."""

    def __init__(self, backend: WebRtcVadBackend) -> None:
        self.inner = backend
        self.sample_rate = backend.sample_rate
        self.volume_first = backend.volume_first
        self.calls = 0

    def confidence(self, pcm: Pcm, raw: bytes | memoryview | None = None) -> float:
        self.calls += 1
        return self.inner.confidence(pcm, raw)

    def reset(self) -> None:
        self.inner.reset()


def test_batched_inbound_path_gives_the_events_of_process_and_scores_only_loud_frames(speech_8k: Pcm) -> None:
    codec = get_codec("ulaw")
    config = VadConfig(stop_secs=0.6)
    rng = np.random.default_rng(3)
    hiss = (rng.standard_normal(8000) * 20).astype(np.int16)
    pcm = codec.decode(codec.encode(np.concatenate((hiss, speech_8k, hiss, speech_8k[:4000], hiss))))
    frames = [pcm[i : i + 160] for i in range(0, len(pcm) - 159, 160)]
    reference = VadAnalyzer(WebRtcVadBackend(8000, config), config)
    expected = [event for f in frames for event in reference.process(f)]
    counting = CountingBackend(WebRtcVadBackend(8000, config))
    events: list[VadEvent] = []
    batch = InboundBatch()
    receiver = Receiver(codec, batch, vad=VadAnalyzer(counting, config), on_event=events.append)
    payloads = [codec.encode(f) for f in frames]
    i = 0
    while i < len(payloads):
        step = 1 + i % 3  # 1, 2 or 3 frames per tick
        receiver._queue(payloads[i : i + step])
        batch.process()
        i += step
    assert [type(e) for e in expected].count(SpeechStarted) == 2
    assert events == expected
    gate = volume_threshold(config.min_volume)
    loud = sum(1 for f in frames if float(np.dot(f.astype(np.float32), f.astype(np.float32))) / 160 >= gate)
    assert counting.calls == loud < len(frames)
