"""The offline voice (piper): each of a text's sentences is yielded as soon as it is synthesised."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from flowengine.providers.tts.piper import PiperTTS

TEXT = "Good morning. We are open from nine to five on weekdays. On Saturday we open at ten."


async def test_piper_yields_each_sentence_before_synthesising_the_next() -> None:
    tts = PiperTTS()
    await tts.warm_up()
    voice = tts._voice
    real = voice.synthesize
    made: list[int] = []

    def counting(text: str, *args: Any, **kwargs: Any) -> Iterator[Any]:
        chunks: Iterable[Any] = real(text, *args, **kwargs)
        for chunk in chunks:
            made.append(len(chunk.audio_int16_array))
            yield chunk

    voice.synthesize = counting  # observes the real synthesis, changes nothing
    try:
        seen_when_yielded: list[int] = []
        chunks: list[np.ndarray] = []
        async for chunk in tts.stream(TEXT):
            seen_when_yielded.append(len(made))
            chunks.append(chunk)
    finally:
        del voice.synthesize
    assert len(chunks) == 3  # one per sentence
    assert seen_when_yielded == [1, 2, 3]  # the first came out before the second was synthesised
    assert [len(c) for c in chunks] == made
    assert all(c.dtype == np.int16 and np.abs(c).max() > 1000 for c in chunks)  # real speech, not silence
