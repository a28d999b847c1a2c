"""`bench speech-start`: how long a reply of 5..70 words waits for its first audio, before and after the first
piece became a clause (and piper yields each of its sentences as soon as it is synthesised)."""
from __future__ import annotations

import os
import re
import statistics
import time
from collections.abc import Iterator
from typing import Any

from flowengine.ai.voice.sentences import SentenceSplitter
from flowengine.bench.host import machine
from flowengine.providers.tts.base import TTSProvider

WORDS = (5, 10, 20, 40, 70)
CLAUSES = (
    "we are open on weekdays", "from nine in the morning to five", "and on Saturday from ten to two",
    "the doctor can see you on Tuesday", "or on Thursday afternoon if you prefer", "please bring your card with you",
    "and arrive ten minutes early", "so we can check your details", "the parking is behind the building",
    "and there is a lift to the second floor", "if you need to change the time", "just call us back on this number",
)
# The old rule: a sentence, or past 120 characters the first , ; : after the 60th.
_OLD_END = re.compile(r"""[.!?…]+["')\]]*\s""")
_OLD_SOFT = re.compile(r"""[,;:]\s""")


def reply_of(words: int) -> str:
    """One sentence of `words` words in comma-separated clauses (the shape that made first audio late)."""
    out: list[str] = []
    clauses = iter(CLAUSES * 10)
    while len(out) < words:
        clause = next(clauses).split()[: words - len(out)]
        out += clause
        if len(out) < words:
            out[-1] += ","
    text = " ".join(out)
    return text[0].upper() + text[1:] + "."


def tokens(text: str) -> Iterator[str]:
    """As a model streams: word by word, each with its leading space."""
    first, *rest = text.split(" ")
    yield first
    for word in rest:
        yield " " + word


def first_piece_before(text: str) -> str:
    """The first piece the splitter used to hand to TTS (whole first sentence, or the 120-character soft split)."""
    buffer = ""
    for token in tokens(text + " "):
        buffer += token
        end = _OLD_END.search(buffer)
        if end is not None:
            return buffer[: end.end()].strip()
        if len(buffer) >= 120:
            for soft in _OLD_SOFT.finditer(buffer):
                if soft.end() >= 60:
                    return buffer[: soft.end()].strip()
    return buffer.strip()


def first_piece_after(text: str) -> str:
    splitter = SentenceSplitter()
    for token in tokens(text + " "):
        pieces = splitter.push(token)
        if pieces:
            return pieces[0]
    return splitter.flush()[0]


async def first_audio_ms(tts: TTSProvider, piece: str, whole: bool) -> float:
    """ms to the first audio of `piece`: its first yielded chunk, or (`whole`, the old piper) all of it."""
    started = time.perf_counter()
    if whole:
        await tts.synthesize(piece)
    else:
        async for _ in tts.stream(piece):
            break
    return (time.perf_counter() - started) * 1000


async def run_speech_start_bench(tts: TTSProvider, repeats: int = 3) -> dict[str, Any]:
    await tts.warm_up()
    await tts.synthesize("Warming up the voice.")
    rows: list[dict[str, Any]] = []
    for words in WORDS:
        text = reply_of(words)
        before_piece, after_piece = first_piece_before(text), first_piece_after(text)
        before: list[float] = []
        after: list[float] = []
        for _ in range(repeats):  # interleaved, so a change of the machine's load hits both alike
            before.append(await first_audio_ms(tts, before_piece, whole=True))
            after.append(await first_audio_ms(tts, after_piece, whole=False))
        rows.append({
            "words": words,
            "before": {"first_piece_words": len(before_piece.split()),
                       "first_audio_ms_p50": round(statistics.median(before), 1)},
            "after": {"first_piece_words": len(after_piece.split()),
                      "first_audio_ms_p50": round(statistics.median(after), 1)},
        })
    return {"voice": tts.name, "repeats": repeats, "replies": rows,
            "load_average": [round(x, 2) for x in os.getloadavg()], "machine": machine()}
