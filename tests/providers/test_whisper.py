"""The offline STT (faster-whisper + bundled tiny.en) on real synthetic speech from two different voices."""
from __future__ import annotations

import asyncio
import io
import subprocess
import time
import wave

import numpy as np
import numpy.typing as npt
import pytest
import soxr

from flowengine.providers.llm.textnorm import spoken_digits
from flowengine.providers.stt import STT_PROVIDERS, STTError
from flowengine.providers.stt.whisper import WhisperSTT, whisper_language
from flowengine.providers.tts import TTS_PROVIDERS
from flowengine.providers.tts.piper import PiperTTS

SENTENCES = [
    "my number is five five five one two three four",
    "I would like to book an appointment for Tuesday at ten in the morning",
    "what are your opening hours on Saturday",
    "yes please",
    "can you transfer me to a human agent please because I have a question about my bill",
]
Audio = npt.NDArray[np.int16]


def wer(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word errors, reference words) after normalisation (numbers as digits, each digit a word)."""
    ref, hyp = spoken_digits(reference), spoken_digits(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1], len(ref)


def resample(pcm: npt.NDArray[np.int16], rate: int, to: int = 16000) -> Audio:
    return np.asarray(soxr.resample(pcm, rate, to), dtype=np.int16)


def espeak(text: str) -> Audio:
    out = subprocess.run(["espeak-ng", "--stdout", text], check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(out)) as w:
        return resample(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), w.getframerate())


@pytest.fixture(scope="module")
def piper_speech() -> list[Audio]:
    """The sentences in the offline voice without its generator noise: piper draws fresh noise at every synthesis,
    so its audio (and what Whisper hears in it) would differ from run to run; the tests want the same audio."""
    from piper.config import SynthesisConfig

    tts = TTS_PROVIDERS.create("piper")
    assert isinstance(tts, PiperTTS)
    voice = tts._load()
    exact = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    return [resample(np.concatenate([c.audio_int16_array for c in voice.synthesize(s, syn_config=exact)]),
                     tts.sample_rate) for s in SENTENCES]


@pytest.fixture(scope="module")
def espeak_speech() -> list[Audio]:
    return [espeak(s) for s in SENTENCES]


@pytest.fixture(scope="module")
async def stt() -> WhisperSTT:
    provider = STT_PROVIDERS.create("whisper")
    assert isinstance(provider, WhisperSTT)
    await provider.warm_up()
    return provider


async def check_wer(stt: WhisperSTT, speech: list[Audio], *, limit: float) -> None:
    errors = words = 0
    for sentence, audio in zip(SENTENCES, speech, strict=True):
        t = await stt.transcribe(audio, language="en-US")
        e, n = wer(sentence, t.text)
        errors, words = errors + e, words + n
        assert e / n <= 0.5, (sentence, t.text)
        assert t.language == "en" and 0 < t.confidence <= 1 and t.compute_ms > 0
        assert abs(t.audio_ms - len(audio) / 16) <= 1
    assert errors / words <= limit, f"WER {errors}/{words}"


async def test_transcribes_the_piper_voice(stt: WhisperSTT, piper_speech: list[Audio]) -> None:
    await check_wer(stt, piper_speech, limit=0.1)


async def test_transcribes_the_espeak_voice(stt: WhisperSTT, espeak_speech: list[Audio]) -> None:
    await check_wer(stt, espeak_speech, limit=0.25)


async def test_transcribes_telephone_audio(stt: WhisperSTT, piper_speech: list[Audio]) -> None:
    """The call path: 8 kHz u-law on the wire, back to 16 kHz for the recogniser."""
    from flowengine.media.g711 import ulaw_decode, ulaw_encode

    phone = [resample(ulaw_decode(ulaw_encode(resample(a, 16000, 8000))), 8000) for a in piper_speech]
    await check_wer(stt, phone, limit=0.15)


async def test_digits_come_back_as_the_number_said(stt: WhisperSTT, piper_speech: list[Audio]) -> None:
    t = await stt.transcribe(piper_speech[0])
    assert "5551234" in "".join(spoken_digits(t.text))


async def test_full_window_mode_agrees(piper_speech: list[Audio]) -> None:
    reference = WhisperSTT(full_window=True)
    t = await reference.transcribe(piper_speech[2])
    assert wer(SENTENCES[2], t.text)[0] == 0, t.text


async def test_silence_and_tiny_clips_give_no_words(stt: WhisperSTT) -> None:
    assert (await stt.transcribe(np.zeros(800, dtype=np.int16))).text == ""  # 50 ms: not even tried
    t = await stt.transcribe(np.zeros(16000, dtype=np.int16))
    assert len(t.text.split()) <= 1  # Whisper may say "you" to digital silence; it must not ramble


async def test_inference_stays_off_the_event_loop(stt: WhisperSTT, piper_speech: list[Audio]) -> None:
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    try:
        results = await asyncio.gather(*(stt.transcribe(a) for a in piper_speech[:3]))  # queued on one worker
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
    assert [wer(s, r.text)[0] for s, r in zip(SENTENCES, results, strict=False)] == [0, 0, 0]
    assert max(gaps) < 0.1


async def test_the_model_is_loaded_once_per_process(stt: WhisperSTT) -> None:
    other = WhisperSTT()
    assert other._engine() is stt._engine()


@pytest.mark.parametrize(("bcp47", "code"), [("en-US", "en"), ("en_GB", "en"), ("EN", "en"), ("", "en")])
def test_language_hint(bcp47: str, code: str) -> None:
    assert whisper_language(bcp47, multilingual=False) == code
    assert whisper_language("de-DE", multilingual=True) == "de"


async def test_other_languages_are_refused_clearly(stt: WhisperSTT) -> None:
    with pytest.raises(STTError, match=r"'de-DE'.*English only"):
        await stt.transcribe(np.zeros(16000, dtype=np.int16), language="de-DE")


async def test_bad_input(stt: WhisperSTT) -> None:
    with pytest.raises(STTError, match="mono"):
        await stt.transcribe(np.zeros((2, 100), dtype=np.int16))
    with pytest.raises(STTError, match="int16"):
        await stt.transcribe(np.zeros(100, dtype=np.int32))
