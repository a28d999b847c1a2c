"""The synthesis cache: a sentence said again comes back unchanged, the bound holds, off means off."""
from __future__ import annotations

import numpy as np

from flowengine.providers.tts.synth_cache import SHARED, SynthesisCache


def _audio(n: int, value: int = 1) -> np.ndarray:
    return np.full(n, value, dtype=np.int16)


def test_a_sentence_said_again_comes_back_as_a_copy() -> None:
    cache = SynthesisCache(max_bytes=1 << 20)
    assert cache.get("joe", "Hello.") is None
    cache.put("joe", "Hello.", [_audio(100), _audio(50, 2)])
    again = cache.get("joe", "Hello.")
    assert again is not None and [c.tolist() for c in again] == [[1] * 100, [2] * 50]
    again[0][:] = 9  # a consumer changing its chunks changes nothing cached
    third = cache.get("joe", "Hello.")
    assert third is not None and int(third[0][0]) == 1
    assert (cache.hits, cache.misses) == (2, 1)
    assert cache.get("amy", "Hello.") is None  # another voice is another sentence


def test_the_bound_drops_the_least_recently_used() -> None:
    cache = SynthesisCache(max_bytes=1000)
    cache.put("v", "a", [_audio(200)])  # 400 bytes each
    cache.put("v", "b", [_audio(200)])
    assert cache.get("v", "a") is not None  # "a" is now the most recent
    cache.put("v", "c", [_audio(200)])
    assert cache.bytes <= 1000 and len(cache) == 2
    assert cache.get("v", "b") is None and cache.get("v", "a") is not None
    cache.put("v", "huge", [_audio(1000)])  # larger than the whole cache: not kept
    assert cache.get("v", "huge") is None
    cache.resize(400)
    assert len(cache) == 1 and cache.bytes == 400


def test_off_keeps_nothing() -> None:
    cache = SynthesisCache(max_bytes=0)
    cache.put("v", "a", [_audio(10)])
    assert cache.get("v", "a") is None and len(cache) == 0


async def test_piper_says_a_sentence_again_from_the_cache_when_it_is_on() -> None:
    from flowengine.providers.tts import TTS_PROVIDERS

    piper = TTS_PROVIDERS.create("piper")
    size = SHARED.max_bytes
    SHARED.resize(1 << 20)
    try:
        first = np.concatenate([c async for c in piper.stream("See you on Tuesday at ten.")])
        hits = SHARED.hits
        second = np.concatenate([c async for c in piper.stream("See you on Tuesday at ten.")])
        assert SHARED.hits == hits + 1
        assert np.array_equal(first, second) and first.size > 10000
    finally:
        SHARED.resize(size)
