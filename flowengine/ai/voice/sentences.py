"""Cuts a streamed reply into pieces for TTS: the first a short clause (it starts the agent's voice sooner),
the rest whole sentences, so synthesis starts while the model still writes."""
from __future__ import annotations

import re

# A sentence ends at . ! ? (optionally closed by quotes/brackets) followed by whitespace.
_END = re.compile(r"""[.!?…]+["')\]]*\s""")
# The first piece may end sooner, at a clause break: , ; : or a dash between words.
_CLAUSE = re.compile(r"""(?:[,;:]|\s[-\u2013\u2014])\s""")
ABBREVIATIONS = frozenset({"mr.", "mrs.", "ms.", "dr.", "st.", "vs.", "e.g.", "i.e.", "etc.", "no."})
FIRST_CLAUSE_WORDS = 4  # the first piece ends at the first clause break after at least this many words


class SentenceSplitter:
    """`push` streamed text, get back the pieces it completed; `flush` at the end of the stream.

    The first piece of a reply is cut at the first comma (or ; : dash) past `first_clause_words` words, so
    the first audio waits for a clause, not a whole long sentence: first-audio time stops growing with the
    sentence. Later pieces are whole sentences (synthesised while the first plays; whole sentences keep
    the voice's prosody)."""

    def __init__(self, first_clause_words: int = FIRST_CLAUSE_WORDS) -> None:
        self._buffer = ""
        self.first_clause_words = first_clause_words
        self._first = True

    def push(self, text: str) -> list[str]:
        """Add streamed text; return the pieces it completed."""
        self._buffer += text
        out: list[str] = []
        while True:
            cut = self._cut()
            if cut is None:
                return out
            piece, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
            if piece:
                out.append(piece)
                self._first = False

    def _cut(self) -> int | None:
        end = self._sentence_end()
        if not self._first:
            return end
        limit = end if end is not None else len(self._buffer)
        for clause in _CLAUSE.finditer(self._buffer, 0, limit):
            if len(self._buffer[:clause.start() + 1].split()) >= self.first_clause_words:
                return clause.end()
        return end  # no clause break: the whole sentence (cutting between words without one sounds broken)

    def _sentence_end(self) -> int | None:
        for match in _END.finditer(self._buffer):
            words = self._buffer[: match.start() + 1].split()
            if words and words[-1].lower() in ABBREVIATIONS:
                continue
            return match.end()
        return None

    def flush(self) -> list[str]:
        """The rest, at the end of the stream."""
        rest, self._buffer = self._buffer.strip(), ""
        self._first = True
        return [rest] if rest else []
