"""Sentence cutting of streamed replies."""
from __future__ import annotations

from flowengine.ai.voice.sentences import SentenceSplitter


def feed(chunks: list[str], soft: int = 120) -> list[str]:
    splitter = SentenceSplitter(soft)
    out: list[str] = []
    for chunk in chunks:
        out += splitter.push(chunk)
    return out + splitter.flush()


def test_sentences_come_out_as_soon_as_complete() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("Hello there") == []
    assert splitter.push("! How can") == ["Hello there!"]
    assert splitter.push(" I help? ") == ["How can I help?"]
    assert splitter.flush() == []


def test_abbreviations_decimals_and_the_tail() -> None:
    assert feed(["Dr. Smith is in at 9.30 today. ", "Bring your card"]) == [
        "Dr. Smith is in at 9.30 today.", "Bring your card"]


def test_long_clauses_split_at_commas() -> None:
    text = "We are open on Monday, Tuesday and Wednesday from nine to five, " * 2
    parts = feed([text], soft=60)
    assert len(parts) >= 2 and "".join(p + " " for p in parts).split() == text.split()
