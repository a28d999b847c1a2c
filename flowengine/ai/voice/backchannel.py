"""Backchannels: what a listener says to show they follow ("mm-hm", "yeah", "uh huh", "okay", "right"). Said while
the agent speaks, they never cancel its reply, however long; any other words are a real barge-in."""
from __future__ import annotations

import re

# Single words, as a recogniser writes them (hyphens and repeated letters folded: "Mm-hmm" -> "mmhm").
WORDS = frozenset({
    "mm", "mhm", "mmhm", "hm", "hmm", "uhhuh", "uhuh", "ah", "aha", "oh", "uh", "um", "er",
    "yeah", "yea", "yep", "yup", "yes", "ok", "okay", "k", "right", "alright", "sure", "cool", "great",
    "good", "fine", "nice", "wow", "gotcha", "indeed", "exactly", "true", "totally", "perfect", "thanks",
})
# Phrases of several words that are one backchannel ("uh huh" as two words, "I see").
PHRASES = ("uh huh", "mm hm", "mm hmm", "all right", "i see", "got it", "of course", "that's right",
           "that is right", "sounds good", "makes sense", "oh okay", "oh right", "oh yeah", "thank you")


def _fold(word: str) -> str:
    """"Mm-hmm" -> "mmhm", "Okayyy" -> "okay", "Yeah." -> "yeah": the spellings a recogniser varies."""
    word = re.sub(r"[^a-z']", "", word.lower())
    return re.sub(r"(.)\1+", r"\1", word).replace("'", "") if word not in {"all", "good", "cool", "see"} else word


def words_of(text: str) -> list[str]:
    """The words of `text` left once every backchannel phrase and word is taken out."""
    said = " " + re.sub(r"[^a-z' ]", " ", text.lower().replace("-", " ")) + " "
    for phrase in PHRASES:
        said = re.sub(rf"(?<!\S){phrase}(?!\S)", " ", said)
    return [w for w in (_fold(w) for w in said.split()) if w and w not in WORDS]


def is_backchannel(text: str) -> bool:
    """True when `text` (what the caller said over the agent) is only backchannel words, whatever its length."""
    if not re.search(r"[a-z]", text.lower()):
        return False
    return not words_of(text)
