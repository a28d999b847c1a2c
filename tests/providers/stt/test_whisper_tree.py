"""Answer sentences scored on their prefix tree give the scores a forced alignment of each gives, for far fewer
decoder positions; a model whose decoder cannot be read is aligned."""
from __future__ import annotations

import logging
import struct
from pathlib import Path

import numpy as np
import pytest

from flowengine.bench.corpus import VOICES, Line, over_the_line, render
from flowengine.providers.stt import whisper_context, whisper_tree
from flowengine.providers.stt.answers import answers_for
from flowengine.providers.stt.base import STTContext
from flowengine.providers.stt.whisper import WhisperSTT
from flowengine.providers.stt.whisper_context import SCORE_TAIL_FRAMES
from flowengine.providers.stt.whisper_decode import encode_window
from flowengine.providers.stt.whisper_tree import Tree, UnreadableModel, decoder_for, read_variables


def test_every_shared_prefix_is_one_node() -> None:
    # start (1, 2); "Next Monday" (7, 10), "Next Tuesday" (7, 11), "Monday" (10,), "On Monday please" (8, 10, 9)
    tree = Tree.of([1, 2], [(7, 10), (7, 11), (10,), (8, 10, 9)])
    assert tree.tokens.tolist() == [1, 2, 7, 8, 10]  # the start, then "Next", "On", "On Monday": once each
    assert tree.parents == (-1, 0, 1, 1, 3)
    assert tree.depths.tolist() == [0, 1, 2, 2, 3]
    # each token's probability is read at the node of what comes before it
    assert tree.reads == ((1, 2), (1, 2), (1,), (1, 3, 4))
    mask = tree.ancestry()
    assert mask[4].tolist() == [True, True, False, True, True]  # "On Monday" sees the start, "On" and itself
    assert not mask[2, 3] and not mask[3, 2]  # siblings never see each other


@pytest.fixture(scope="module")
async def model() -> object:
    provider = WhisperSTT()
    return (await provider._loaded()).model


def _aligned(model: object, encoded: np.ndarray, sot: list[int], tokens: list[list[int]]) -> list[float]:
    import ctranslate2  # type: ignore[import-untyped]

    return [float(np.sum(np.log(np.maximum(result.text_token_probs, 1e-12))))
            for result in model.model.align(  # type: ignore[attr-defined]
                ctranslate2.StorageView.from_array(np.ascontiguousarray(np.repeat(encoded, len(tokens), axis=0))),
                sot, tokens, encoded.shape[1] * 2)]


@pytest.mark.parametrize(("said", "kind", "voice"), [("Next Tuesday please.", "day", "us-female"),
                                                     ("At ten in the morning.", "time", "caribbean"),
                                                     ("My name is Sam Taylor.", "name", "us-male-slow")])
def test_the_tree_scores_as_each_sentence_aligned_alone(model: object, said: str, kind: str, voice: str) -> None:
    audio = over_the_line(render(Line(said), next(v for v in VOICES if v.name == voice))).astype(np.float32) / 32768
    window = encode_window(model, audio, "en")
    names = ("Sam Taylor", "Alex Morgan", "Priya Shah", "Jordan Lee", "Maria Garcia")
    answers = answers_for(STTContext(kind, names if kind == "name" else ()), said)
    assert answers is not None
    # the first round, and a time's endings (prefixes of several lengths: "At ten in the", "At ten a.")
    texts = answers.first + answers.then(answers.first[:2])
    tokenizer = window.tokenizer
    tokens = [tokenizer.encode(" " + text) for text in texts]
    encoded = np.array(window.encoded)[:, :len(audio) // 320 + SCORE_TAIL_FRAMES]
    decoder = decoder_for(model)
    assert decoder is not None  # the bundled model's decoder is read when the model loads
    start = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    tree = decoder.sentence_sums(encoded[0], start, tokens)
    aligned = _aligned(model, encoded, list(tokenizer.sot_sequence), tokens)
    # the same sums up to CTranslate2's int8 rounding (float32 here; measured: within 1.02 on 7 tokens, 0.6 on 2)
    off = np.abs(np.array(tree) - np.array(aligned))
    assert np.all(off <= 0.5 + 0.15 * np.array([len(t) for t in tokens]))
    # and a sentence on a tree of many scores as it does on a tree of its own: nodes see only their ancestors
    for i in (0, len(tokens) // 2, len(tokens) - 1):
        assert decoder.sentence_sums(encoded[0], start, [tokens[i]])[0] == pytest.approx(tree[i], abs=1e-3)
    assert int(np.argmax(tree)) == int(np.argmax(aligned))
    positions = sum(len(start) + len(t) - 1 for t in tokens)  # what aligning each from its start decodes
    assert len(Tree.of(start, tokens).parents) * 2 < positions


def test_a_decoder_that_cannot_be_read_is_aligned(model: object, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    audio = over_the_line(render(Line("Next Tuesday please."), VOICES[1])).astype(np.float32) / 32768
    window = encode_window(model, audio, "en")
    answers = answers_for(STTContext("day"))
    assert answers is not None
    on_tree = whisper_context.raw_scores(model, window, len(audio), answers.first)
    (tmp_path / "model.bin").write_bytes(b"\x06\x00")  # truncated
    with caplog.at_level(logging.WARNING, logger=whisper_tree.__name__):
        assert whisper_tree.attach(model, tmp_path) is None
    assert any("cannot be read" in r.getMessage() for r in caplog.records)
    try:
        aligned = whisper_context.raw_scores(model, window, len(audio), answers.first)
    finally:
        assert whisper_tree.attach(model, Path(WhisperSTT()._key()[0])) is not None
    assert [t for t, _, _ in aligned] == list(answers.first)
    assert max(aligned, key=lambda s: s[1] / s[2] ** 0.5)[0] == max(on_tree, key=lambda s: s[1] / s[2] ** 0.5)[0]
    assert max(abs(a[1] - b[1]) for a, b in zip(aligned, on_tree, strict=True)) < 1.0


def _model_file(path: Path, spec: str) -> Path:
    def string(text: str) -> bytes:
        return struct.pack("H", len(text) + 1) + text.encode() + b"\x00"

    path.write_bytes(struct.pack("I", 6) + string(spec) + struct.pack("I", 1) + struct.pack("I", 0) + struct.pack("I", 0))
    return path


def test_only_a_whisper_model_is_read(tmp_path: Path) -> None:
    with pytest.raises(UnreadableModel, match="TransformerSpec"):
        read_variables(_model_file(tmp_path / "model.bin", "TransformerSpec"))
    assert read_variables(_model_file(tmp_path / "model.bin", "WhisperSpec")) == {}
    with pytest.raises(UnreadableModel, match="no decoder/activation"):
        whisper_tree.TreeDecoder.load(tmp_path)
