"""What Whisper's decoder expects of an answer sentence when nobody speaks: each sentence's summed log probability
over a second of silence, computed once per model and sentence set. Taken off (in part) a sentence's score, it
leaves what the audio says for it rather than how likely the text is: "today, please" is likelier text than "Next
Tuesday, please", and wins on noisy audio that holds the latter (docs/decisions.md, "The text's prior taken off")."""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from flowengine.providers.stt.whisper_decode import Window, encode_window

SILENCE_SAMPLES = 16_000  # one second at 16 kHz (measured: the same answers as silence of the utterance's length)
CACHED_SETS = 64  # sentence sets kept per model (a day set, a time's first round, its refinements, requests...)

Scorer = Callable[[Any, Window, int, tuple[str, ...]], list[tuple[str, float, int]]]


class _Priors:
    def __init__(self) -> None:
        self.window: dict[str, Window] = {}
        self.sums: OrderedDict[tuple[str, tuple[str, ...]], list[float]] = OrderedDict()
        self.lock = threading.Lock()


_models: weakref.WeakKeyDictionary[Any, _Priors] = weakref.WeakKeyDictionary()
_models_lock = threading.Lock()


def prior_sums(model: Any, language: str, texts: tuple[str, ...], scorer: Scorer) -> list[float]:
    """Each text's summed log probability over silence (`scorer`: `whisper_context.raw_scores`). Two workers asking
    for the same set at once may both compute it; the result is the same."""
    with _models_lock:
        priors = _models.setdefault(model, _Priors())
    key = (language, texts)
    with priors.lock:
        cached = priors.sums.get(key)
        if cached is not None:
            priors.sums.move_to_end(key)
            return cached
        window = priors.window.get(language)
    if window is None:
        window = encode_window(model, np.zeros(SILENCE_SAMPLES, dtype=np.float32), language)
    sums = [total for _, total, _ in scorer(model, window, SILENCE_SAMPLES, texts)]
    with priors.lock:
        priors.window[language] = window
        priors.sums[key] = sums
        while len(priors.sums) > CACHED_SETS:
            priors.sums.popitem(last=False)
    return sums
