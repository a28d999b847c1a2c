"""What answer the agent's last question expects (a day, a time, a name, digits, yes/no, or anything), read from
the question's words so it works for any model: the recogniser's context for the caller's next turn, and what the
turn judge (questions.py, endpointing.py) counts as a complete answer. The one reading of a question."""
from __future__ import annotations

import re
from collections.abc import Sequence

from flowengine.providers.clock import Window
from flowengine.providers.llm.base import ChatMessage
from flowengine.providers.llm.textnorm import sentences
from flowengine.providers.stt.base import OPEN, Expect, STTContext

# Checked in order on the agent's last question (its last sentence that asks, else its last sentence).
# A confirmation ("So that is Monday at 10 for Sam. Shall I book it?") is a yes/no question even though it
# names a day and a time: the order puts yes/no before the slots it repeats.
_KINDS: tuple[tuple[Expect, re.Pattern[str]], ...] = (
    ("open", re.compile(r"\banything else\b|\bhow can i help\b")),  # a yes/no in form, any request in fact
    ("digits", re.compile(r"\b(?:phone|telephone|mobile|cell|account|card|reference|booking|member|policy|zip|post)"
                          r"\s*(?:number|code|no)\b|\b(?:digits|pin|passcode)\b|\bnumber\b.*\b(?:reach|call)\b")),
    ("yes_no", re.compile(r"^(?:shall|should|can|could|may|do|does|did|is|are|was|were|will|would|have|has|am)\b"
                          r"(?! i (?:have|take|get) your)|\b(?:is that (?:right|correct|ok|okay)|"
                          r"(?:right|correct|ok|okay)\s*\?$)")),
    ("day", re.compile(r"\b(?:which|what) (?:day|date)\b|\bday would\b|\bwhen would you\b|\bwhich date\b")),
    ("time", re.compile(r"\bwhat time\b|\b(?:which|what) (?:hour|slot)\b|\btime (?:would|suits|works|is best)\b|"
                        r"\bmorning or (?:the )?afternoon\b")),
    ("name", re.compile(r"\byour (?:full |first |last )?name\b|\bwho (?:am i|is) speaking\b|\bname,? please\b")),
)


def expectation(question: str, *, hints: tuple[str, ...] = (), requests: tuple[tuple[str, str], ...] = (),
                window: Window | None = None) -> STTContext:
    """The context for the answer to `question` (the agent's last message); open when it asks nothing in
    particular. `hints`: words the answer may hold (names on file), passed on for name questions; `requests`: what
    the dialog understands when the question is open (LLMProvider.request_phrases); `window`: the times of day the
    dialog books (LLMProvider.time_window), passed on for time questions and confirmations."""
    asked = asking(question)
    if not asked:
        return STTContext(requests=requests) if requests else OPEN
    for kind, pattern in _KINDS:
        if kind == "yes_no" and " or " in asked:
            continue  # "Would you prefer the morning or the afternoon?" asks for one of them
        if pattern.search(asked):
            return STTContext(kind, hints if kind == "name" else (), question.strip(),
                              requests if kind == "open" else (), window if kind in ("time", "yes_no") else None)
    return STTContext("open", (), question.strip(), requests)


def last_question(messages: Sequence[ChatMessage]) -> str:
    """The agent's last words, if it spoke after the caller's last turn ("" otherwise: nothing is pending)."""
    for message in reversed(messages):
        if message.role == "assistant" and message.content:
            return message.content
        if message.role == "user":
            return ""
    return ""


def asking(question: str) -> str:
    """The sentence of `question` that asks (its last one ending in "?"), else its last sentence; lower case."""
    said = [s.lower() for s in sentences(question)]
    asks = [s for s in said if s.endswith("?")]
    return (asks or said or [""])[-1]
