"""Cutting streamed replies: the first piece a short clause, later pieces whole sentences."""
from __future__ import annotations

from flowengine.ai.voice.sentences import SentenceSplitter


def feed(chunks: list[str]) -> list[str]:
    splitter = SentenceSplitter()
    out: list[str] = []
    for chunk in chunks:
        out += splitter.push(chunk)
    return out + splitter.flush()


def word_by_word(text: str) -> list[str]:
    """How a model streams: a token per word, each with its leading space."""
    words = text.split(" ")
    return [words[0]] + [" " + w for w in words[1:]]


def test_sentences_come_out_as_soon_as_complete() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("Hello there") == []
    assert splitter.push("! How can") == ["Hello there!"]
    assert splitter.push(" I help? ") == ["How can I help?"]
    assert splitter.flush() == []


def test_abbreviations_decimals_and_the_tail() -> None:
    assert feed(["Dr. Smith is in at 9.30 today. ", "Bring your card"]) == [
        "Dr. Smith is in at 9.30 today.", "Bring your card"]


def test_the_first_piece_ends_at_the_first_comma_past_four_words() -> None:
    text = ("Yes, we are open on Monday, Tuesday and Wednesday from nine to five, and on Saturday "
            "from ten to two, so any of those days works. Shall I book you in, or would you rather call back?")
    assert feed(word_by_word(text)) == [
        "Yes, we are open on Monday,",  # "Yes," is too short a clause to start with
        "Tuesday and Wednesday from nine to five, and on Saturday from ten to two, so any of those days works.",
        "Shall I book you in, or would you rather call back?",  # later pieces: whole sentences, commas and all
    ]


def test_the_first_clause_comes_out_while_the_sentence_is_still_being_written() -> None:
    splitter = SentenceSplitter()
    out: list[str] = []
    for token in word_by_word("We are open on weekdays, from nine in the morning to five"):
        out += splitter.push(token)
    assert out == ["We are open on weekdays,"]


def test_a_short_first_sentence_is_whole_and_each_reply_starts_afresh() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("Sure, no problem. Which day, and at what time would suit you? ") == [
        "Sure, no problem.", "Which day, and at what time would suit you?"]
    assert splitter.flush() == []
    assert splitter.push("Okay then, we will see you on Tuesday, goodbye. ") == [
        "Okay then, we will see you on Tuesday,", "goodbye."]


def test_a_first_sentence_without_a_clause_break_stays_whole() -> None:
    text = ("I have booked you in for a cleaning with doctor Morgan on Tuesday morning at ten "
            "and you will get a text message to confirm it shortly. Goodbye.")
    assert feed(word_by_word(text)) == [text[: text.index(" Goodbye")], "Goodbye."]
