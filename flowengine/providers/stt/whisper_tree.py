"""Forced-decoding scores of many answer sentences in one pass of Whisper's decoder over their prefix tree.

A sentence's score is the sum of log P(token | audio, tokens before it). CTranslate2's `align` decodes every
sentence from its start, so "My name is Sam Taylor." and "My name is Alex Morgan." each pay for the start sequence and
"My name is" again, and the decoder's cost is per position (its output layer alone is vocabulary x d_model
multiplications a position). Here the sentences' prefixes form a tree and every node is one position: one forward pass
of the decoder (its weights read from the model's own `model.bin`, in numpy) with *tree attention* (a node attends to
itself and its ancestors, at its depth's position embedding: exactly what each sentence's own causal decoding sees),
then the output layer for the nodes whose next-token distribution a score needs. The 35 sentences that refine a time
("At ten in the morning.") take ~75 positions instead of ~315 (docs/decisions.md, "Answer sentences on one tree")."""
from __future__ import annotations

import logging
import struct
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
LEAST_LOG_PROB = float(np.log(1e-12))  # a token's log probability is clamped here, as the aligned scores are
LAYER_NORM_EPS = 1e-5
LOGIT_ROWS = 64  # output-layer rows computed at once (64 x 51 864 floats: 13 MB)
GELU = 3  # CTranslate2's ActivationType for the exact (erf) GELU, Whisper's
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class UnreadableModel(ValueError):
    """The model file is not a CTranslate2 Whisper model this decoder can read (scores fall back to `align`)."""


def read_variables(path: Path) -> dict[str, npt.NDArray[Any]]:
    """The named arrays of a CTranslate2 `model.bin` (the layout its `ModelSpec._serialize` writes), aliases resolved."""
    data = path.read_bytes()
    offset = 0

    def number(fmt: str) -> int:
        nonlocal offset
        (value,) = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return int(value)

    def string() -> str:
        nonlocal offset
        size = number("H")
        text = data[offset:offset + size - 1].decode("utf-8")
        offset += size
        return text

    try:
        version = number("I")
        if version < 5:
            raise UnreadableModel(f"{path}: binary version {version} (5 or later is read)")
        spec = string()
        if spec != "WhisperSpec":
            raise UnreadableModel(f"{path}: a {spec}, not a WhisperSpec")
        number("I")  # revision
        variables: dict[str, npt.NDArray[Any]] = {}
        for _ in range(number("I")):
            name = string()
            shape = [number("I") for _ in range(number("B"))]
            dtype = _DTYPES.get(number("B"))
            size = number("I")
            if dtype is None:
                raise UnreadableModel(f"{path}: {name} has a type this decoder does not read")
            if name.startswith("decoder/"):  # the encoder stays CTranslate2's
                count = size // np.dtype(dtype).itemsize
                variables[name] = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape)
            offset += size
        for _ in range(number("I")):
            alias, target = string(), string()
            if target in variables:
                variables[alias] = variables[target]
    except (struct.error, UnicodeDecodeError) as exc:
        raise UnreadableModel(f"{path}: truncated or not a CTranslate2 model ({exc})") from exc
    return variables


def _weight(variables: dict[str, npt.NDArray[Any]], name: str) -> F32:
    """A float32 [in, out] matrix (transposed for `x @ w`), dequantised when stored as int8 with per-row scales."""
    if f"{name}/weight" not in variables:
        raise UnreadableModel(f"the model has no {name}/weight")
    weight = variables[f"{name}/weight"].astype(np.float32)
    scale = variables.get(f"{name}/weight_scale")
    if scale is not None:
        weight = weight / scale.astype(np.float32).reshape(-1, 1)
    return np.ascontiguousarray(weight.T)


def _vector(variables: dict[str, npt.NDArray[Any]], name: str) -> F32:
    if name not in variables:
        raise UnreadableModel(f"the model has no {name}")
    return np.ascontiguousarray(variables[name].astype(np.float32))


@dataclass(frozen=True)
class _Linear:
    weight: F32  # [in, out]
    bias: F32

    @classmethod
    def read(cls, variables: dict[str, npt.NDArray[Any]], name: str) -> _Linear:
        return cls(_weight(variables, name), _vector(variables, f"{name}/bias"))

    def __call__(self, x: F32) -> F32:
        out: F32 = x @ self.weight
        out += self.bias
        return out


@dataclass(frozen=True)
class _Norm:
    gamma: F32
    beta: F32

    @classmethod
    def read(cls, variables: dict[str, npt.NDArray[Any]], name: str) -> _Norm:
        return cls(_vector(variables, f"{name}/gamma"), _vector(variables, f"{name}/beta"))

    def __call__(self, x: F32) -> F32:
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        variance = (centred * centred).mean(axis=-1, keepdims=True)
        out: F32 = centred / np.sqrt(variance + LAYER_NORM_EPS) * self.gamma + self.beta
        return out


@dataclass(frozen=True)
class _Layer:
    self_norm: _Norm
    self_qkv: _Linear  # queries, keys and values of the sentence so far, fused
    self_out: _Linear
    cross_norm: _Norm
    cross_query: _Linear
    cross_kv: _Linear  # keys and values of the encoded audio, fused
    cross_out: _Linear
    ffn_norm: _Norm
    ffn_in: _Linear
    ffn_out: _Linear

    @classmethod
    def read(cls, variables: dict[str, npt.NDArray[Any]], prefix: str) -> _Layer:
        return cls(
            _Norm.read(variables, f"{prefix}/self_attention/layer_norm"),
            _Linear.read(variables, f"{prefix}/self_attention/linear_0"),
            _Linear.read(variables, f"{prefix}/self_attention/linear_1"),
            _Norm.read(variables, f"{prefix}/attention/layer_norm"),
            _Linear.read(variables, f"{prefix}/attention/linear_0"),
            _Linear.read(variables, f"{prefix}/attention/linear_1"),
            _Linear.read(variables, f"{prefix}/attention/linear_2"),
            _Norm.read(variables, f"{prefix}/ffn/layer_norm"),
            _Linear.read(variables, f"{prefix}/ffn/linear_0"),
            _Linear.read(variables, f"{prefix}/ffn/linear_1"),
        )


@dataclass(frozen=True)
class Tree:
    """The prefix tree of a start sequence and sentences: node i holds `tokens[i]` at depth `depths[i]`; `parents`
    (-1 for the root); `reads[s]`: for sentence s, the node whose next-token distribution gives each of its tokens."""

    tokens: npt.NDArray[np.int64]
    depths: npt.NDArray[np.int64]
    parents: tuple[int, ...]
    reads: tuple[tuple[int, ...], ...]

    @classmethod
    def of(cls, start: Sequence[int], sentences: Sequence[Sequence[int]]) -> Tree:
        if not start:
            raise ValueError("the decoder needs a start sequence")
        tokens, parents, depths = list(start), [i - 1 for i in range(len(start))], list(range(len(start)))
        node: dict[tuple[int, ...], int] = {(): len(start) - 1}
        reads: list[tuple[int, ...]] = []
        for sentence in sentences:
            for i in range(1, len(sentence)):
                prefix = tuple(sentence[:i])
                if prefix not in node:
                    parent = node[prefix[:-1]]
                    node[prefix] = len(tokens)
                    tokens.append(sentence[i - 1])
                    parents.append(parent)
                    depths.append(depths[parent] + 1)
            reads.append(tuple(node[tuple(sentence[:i])] for i in range(len(sentence))))
        return cls(np.asarray(tokens, dtype=np.int64), np.asarray(depths, dtype=np.int64), tuple(parents),
                   tuple(reads))

    def ancestry(self) -> npt.NDArray[np.bool_]:
        """[node, node]: True where the row's node may attend to the column's (itself and its ancestors)."""
        size = len(self.parents)
        mask = np.zeros((size, size), dtype=np.bool_)
        for i, parent in enumerate(self.parents):
            if parent >= 0:
                mask[i] = mask[parent]
            mask[i, i] = True
        return mask


class TreeDecoder:
    """Whisper's decoder (pre-norm Transformer: self-attention, attention to the audio, feed-forward) in float32
    numpy, for scoring sentences; loaded from the same `model.bin` CTranslate2 runs."""

    def __init__(self, variables: dict[str, npt.NDArray[Any]]) -> None:
        def scalar(name: str) -> int:
            if name not in variables:
                raise UnreadableModel(f"the model has no {name}")
            return int(variables[name])

        if scalar("decoder/activation") != GELU or scalar("decoder/pre_norm") != 1 or scalar(
                "decoder/scale_embeddings") != 0 or scalar("decoder/alibi") != 0:
            raise UnreadableModel("the decoder is not Whisper's (activation, normalisation or embeddings differ)")
        self.heads = scalar("decoder/num_heads")
        self.embeddings = _weight(variables, "decoder/embeddings")  # [d_model, vocabulary]: the output layer too
        self.positions = _vector(variables, "decoder/position_encodings/encodings")
        self.norm = _Norm.read(variables, "decoder/layer_norm")
        count = 0
        while f"decoder/layer_{count}/ffn/linear_0/weight" in variables:
            count += 1
        if count == 0:
            raise UnreadableModel("the decoder has no layers")
        self.layers = tuple(_Layer.read(variables, f"decoder/layer_{i}") for i in range(count))
        self.d_model = self.embeddings.shape[0]
        if self.d_model % self.heads or self.positions.shape[1] != self.d_model:
            raise UnreadableModel("the decoder's dimensions do not agree")

    @classmethod
    def load(cls, model_dir: str | Path) -> TreeDecoder:
        return cls(read_variables(Path(model_dir) / "model.bin"))

    def sentence_sums(self, encoded: F32, start: Sequence[int], sentences: Sequence[Sequence[int]]) -> list[float]:
        """Each sentence's summed log probability given `encoded` ([frames, d_model], CTranslate2's encoder output)
        after `start` (the start sequence with its no-timestamps token)."""
        tree = Tree.of(start, sentences)
        if int(tree.depths.max()) >= self.positions.shape[0]:
            raise ValueError(f"a sentence is longer than the decoder's {self.positions.shape[0]} positions")
        hidden = self._forward(tree, np.ascontiguousarray(encoded, dtype=np.float32))
        needed = sorted({n for read in tree.reads for n in read})
        wanted: dict[int, set[int]] = {n: set() for n in needed}
        for sentence, read in zip(sentences, tree.reads, strict=True):
            for token, n in zip(sentence, read, strict=True):
                wanted[n].add(token)
        found: dict[tuple[int, int], float] = {}
        for first in range(0, len(needed), LOGIT_ROWS):
            rows = needed[first:first + LOGIT_ROWS]
            logits = hidden[rows] @ self.embeddings
            said = [{token: float(logits[r, token]) for token in wanted[n]} for r, n in enumerate(rows)]
            top = logits.max(axis=1, keepdims=True)
            logits -= top  # the normaliser in place: the rows are 51 864 wide
            np.exp(logits, out=logits)
            normalisers = top[:, 0].astype(np.float64) + np.log(logits.sum(axis=1, dtype=np.float64))
            for r, n in enumerate(rows):
                for token, logit in said[r].items():
                    found[(n, token)] = max(logit - float(normalisers[r]), LEAST_LOG_PROB)
        return [sum(found[(n, token)] for token, n in zip(sentence, read, strict=True))
                for sentence, read in zip(sentences, tree.reads, strict=True)]

    def _forward(self, tree: Tree, encoded: F32) -> F32:
        from scipy.special import erf

        size, heads = len(tree.parents), self.heads
        head = self.d_model // heads
        scale = np.float32(head ** -0.5)
        blocked = ~tree.ancestry()
        x: F32 = np.ascontiguousarray(self.embeddings[:, tree.tokens].T) + self.positions[tree.depths]
        for layer in self.layers:
            q, k, v = np.split(layer.self_qkv(layer.self_norm(x)), 3, axis=1)
            x = x + layer.self_out(_attend(q * scale, k, v, heads, head, blocked))
            q = layer.cross_query(layer.cross_norm(x)) * scale
            k, v = np.split(layer.cross_kv(encoded), 2, axis=1)
            x = x + layer.cross_out(_attend(q, k, v, heads, head, None))
            inner = layer.ffn_in(layer.ffn_norm(x))
            inner = inner * np.float32(0.5) * (np.float32(1.0) + erf(inner * np.float32(0.5 ** 0.5)))
            x = x + layer.ffn_out(inner.astype(np.float32))
        out: F32 = self.norm(x)
        assert out.shape == (size, self.d_model)
        return out


def _attend(q: F32, k: F32, v: F32, heads: int, head: int, blocked: npt.NDArray[np.bool_] | None) -> F32:
    """Multi-head attention of the rows of q ([n, d]) over k, v ([m, d]); `blocked` [n, m]: pairs masked out."""
    n, m = q.shape[0], k.shape[0]
    qh = q.reshape(n, heads, head).transpose(1, 0, 2)
    kh = k.reshape(m, heads, head).transpose(1, 2, 0)
    vh = v.reshape(m, heads, head).transpose(1, 0, 2)
    weights = qh @ kh  # [heads, n, m]
    if blocked is not None:
        weights[:, blocked] = -np.inf
    weights -= weights.max(axis=2, keepdims=True)
    np.exp(weights, out=weights)
    weights /= weights.sum(axis=2, keepdims=True)
    out: F32 = (weights @ vh).transpose(1, 0, 2).reshape(n, heads * head).astype(np.float32, copy=False)
    return out


_decoders: weakref.WeakKeyDictionary[Any, TreeDecoder | None] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def attach(model: Any, model_dir: str | Path) -> TreeDecoder | None:
    """Reads the decoder of the model in `model_dir` for `model` (a faster_whisper.WhisperModel); None (and
    `align` scores it) when the file is not one this decoder reads."""
    try:
        decoder: TreeDecoder | None = TreeDecoder.load(model_dir)
    except (UnreadableModel, OSError) as exc:
        log.warning("answer sentences are aligned one by one: the decoder of %s cannot be read (%s)", model_dir, exc)
        decoder = None
    with _lock:
        _decoders[model] = decoder
    return decoder


def decoder_for(model: Any) -> TreeDecoder | None:
    """The tree decoder attached to `model` (None: none was, or its file was not readable)."""
    with _lock:
        return _decoders.get(model)
