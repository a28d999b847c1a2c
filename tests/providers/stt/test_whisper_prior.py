"""A sentence's prior (its sum over silence) is computed once per model, language and sentence set, and ranking
takes the given share of it off each score."""
from __future__ import annotations

from typing import Any

import pytest

from flowengine.providers.stt import whisper_prior
from flowengine.providers.stt.whisper import WhisperSTT
from flowengine.providers.stt.whisper_context import ranked, raw_scores
from flowengine.providers.stt.whisper_prior import prior_sums


@pytest.fixture(scope="module")
async def model() -> Any:
    return (await WhisperSTT()._loaded()).model


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: Any) -> list[tuple[str, float, int]]:
        self.calls += 1
        return raw_scores(*args)


def test_the_prior_is_scored_once_per_sentence_set(model: Any) -> None:
    scorer = Counting()
    days = ("Monday.", "Next Tuesday, please.", "today")
    first = prior_sums(model, "en", days, scorer)
    assert scorer.calls == 1 and len(first) == 3 and all(total < 0 for total in first)
    assert prior_sums(model, "en", days, scorer) == first and scorer.calls == 1
    prior_sums(model, "en", days[:2], scorer)  # another set
    assert scorer.calls == 2
    # the likelier text has the higher prior: that is what ranking takes off
    assert first[2] > first[1]


def test_the_cache_keeps_the_sets_used_last(model: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(whisper_prior, "CACHED_SETS", 2)
    scorer = Counting()
    sets = [("Yes.",), ("No.",), ("Sure.",)]
    for texts in sets:
        prior_sums(model, "en", texts, scorer)
    assert scorer.calls == 3
    prior_sums(model, "en", sets[2], scorer)  # kept
    assert scorer.calls == 3
    prior_sums(model, "en", sets[0], scorer)  # the oldest was dropped
    assert scorer.calls == 4


def test_ranking_takes_the_share_of_the_prior_off_each_sum() -> None:
    sums = [("today", -4.0, 1), ("Next Tuesday", -6.0, 4)]  # (text, summed log probability, tokens)
    assert ranked(sums, length_power=0.5) == [("Next Tuesday", -3.0), ("today", -4.0)]
    priors = [-2.0, -20.0]  # "today" is likely text, "Next Tuesday" unlikely
    calls: list[int] = []

    def prior() -> list[float]:
        calls.append(1)
        return priors

    assert ranked(sums, length_power=1.0, prior_weight=0.5, prior=prior) == [("Next Tuesday", 1.0), ("today", -3.0)]
    assert ranked(sums, length_power=1.0, prior=prior) == [("Next Tuesday", -1.5), ("today", -4.0)]
    assert calls == [1]  # no weight: the prior is not asked for
