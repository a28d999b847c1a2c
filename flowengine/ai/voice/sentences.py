"""Cuts a streamed reply into sentences, so TTS starts on the first one while the model still writes."""
from __future__ import annotations

import re

# A sentence ends at . ! ? (optionally closed by quotes/brackets) followed by whitespace; a
# long clause may also end at , ; : so the first audio never waits for a very long sentence.
_END = re.compile(r"""[.!?…]+["')\]]*\s""")
_SOFT = re.compile(r"""[,;:]\s""")
ABBREVIATIONS = frozenset({"mr.", "mrs.", "ms.", "dr.", "st.", "vs.", "e.g.", "i.e.", "etc.", "no."})
SOFT_SPLIT_CHARS = 120


class SentenceSplitter:
    def __init__(self, soft_split_chars: int = SOFT_SPLIT_CHARS) -> None:
        self._buffer = ""
        self.soft_split_chars = soft_split_chars

    def push(self, text: str) -> list[str]:
        """Add streamed text; return the sentences it completed."""
        self._buffer += text
        out: list[str] = []
        while True:
            cut = self._cut()
            if cut is None:
                return out
            sentence, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
            if sentence:
                out.append(sentence)

    def _cut(self) -> int | None:
        for match in _END.finditer(self._buffer):
            words = self._buffer[: match.start() + 1].split()
            if words and words[-1].lower() in ABBREVIATIONS:
                continue
            return match.end()
        if len(self._buffer) >= self.soft_split_chars:
            for soft in _SOFT.finditer(self._buffer):
                if soft.end() >= self.soft_split_chars // 2:
                    return soft.end()
        return None

    def flush(self) -> list[str]:
        """The rest, at the end of the stream."""
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []
