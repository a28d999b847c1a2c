"""Forced-decoding scores of many sentences that share their openings, with each opening decoded once.

A sentence's score is the sum of log P(token | audio, tokens before it). Answer sentences share openings ("Next
Monday", "Next Tuesday", ...; "At one", ..., "At twelve"), and the decoder's cost is per position (its output layer
alone is 51 865 x 384 multiplications a position). One decoding forced along an opening ("Next") gives the
next-token distribution after each of its prefixes (CTranslate2 `generate` with `return_logits_vocab`: one row per
forced position and one for the step after), so the sentences that differ only after it cost one decoding: 27 day
sentences take 2 decodings of 2 positions, where `align` took 27 of 2-3 (docs/decisions.md, "Scoring answers with
shared openings")."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Tokens = tuple[int, ...]
LEAST_LOG_PROB = float(np.log(1e-12))  # a token's log probability is clamped here, as the aligned scores are


class ShortDecoding(RuntimeError):
    """The decoder gave fewer distributions than the opening has positions (a CTranslate2 that counts otherwise)."""


def chains(sentences: Sequence[Sequence[int]]) -> list[Tokens]:
    """The fewest forced openings whose prefixes include every sentence's prefixes before its last token (the
    positions whose next-token distribution the scores need): the longest of those prefixes, dropping any that is
    the start of another. Shortest first."""
    needed = {tuple(tokens[:-1]) for tokens in sentences if tokens}
    starts = {p[:i] for p in needed for i in range(len(p))}
    return sorted((p for p in needed if p not in starts), key=lambda p: (len(p), p))


def log_probs(model: Any, encoded: npt.NDArray[np.float32], start: Sequence[int], openings: Sequence[Tokens],
              needed: dict[Tokens, set[int]], batch: int) -> dict[tuple[Tokens, int], float]:
    """log P(token | audio, start + prefix) for every (prefix, token) of `needed`, from one forced decoding per
    opening of `openings` (batched by length, `batch` at a time)."""
    import ctranslate2  # type: ignore[import-untyped]

    found: dict[tuple[Tokens, int], float] = {}
    by_length: dict[int, list[Tokens]] = defaultdict(list)
    for opening in openings:
        by_length[len(opening)].append(opening)
    for length, group in sorted(by_length.items()):
        for first in range(0, len(group), batch):
            chunk = group[first:first + batch]
            features = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.repeat(encoded, len(chunk), axis=0)))
            # the opening is forced (a prompt's tokens after the start sequence), then one free step: rows 0..length
            # are the distributions after each of the opening's prefixes; nothing suppressed, as align does not.
            # CTranslate2 4.x returns max_length // 2 rows here (measured), whatever the prompt's length.
            results = model.model.generate(features, [[*start, *opening] for opening in chunk], beam_size=1,
                                           max_length=2 * (length + 1), return_logits_vocab=True,
                                           suppress_blank=False, suppress_tokens=[])
            for opening, result in zip(chunk, results, strict=True):
                rows = np.asarray(result.logits[0], dtype=np.float64)
                if rows.shape[0] < length + 1:
                    raise ShortDecoding(f"the decoder gave {rows.shape[0]} distributions along a {length}-token opening")
                for i in range(length + 1):
                    prefix = opening[:i]
                    wanted = needed.get(prefix)
                    if not wanted:
                        continue
                    row = rows[i]
                    top = float(row.max())
                    normaliser = top + float(np.log(np.exp(row - top).sum()))
                    for token in wanted:
                        found[(prefix, token)] = max(float(row[token]) - normaliser, LEAST_LOG_PROB)
    return found


def sentence_sums(model: Any, encoded: npt.NDArray[np.float32], start: Sequence[int],
                  sentences: Sequence[Sequence[int]], batch: int, openings: Sequence[Tokens] | None = None) -> list[float]:
    """Each sentence's summed log probability given the encoded audio, its openings decoded once (`openings`: the
    sentences' `chains`, when the caller has them already)."""
    needed: dict[Tokens, set[int]] = defaultdict(set)
    for tokens in sentences:
        for i, token in enumerate(tokens):
            needed[tuple(tokens[:i])].add(token)
    found = log_probs(model, encoded, start, chains(sentences) if openings is None else openings, needed, batch)
    return [sum(found[(tuple(tokens[:i]), token)] for i, token in enumerate(tokens)) for tokens in sentences]
