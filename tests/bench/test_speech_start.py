"""`bench speech-start`: the replies it measures and the first pieces it compares."""
from __future__ import annotations

from flowengine.bench.speech_start import WORDS, first_audio_ms, first_piece_after, first_piece_before, reply_of
from flowengine.providers.tts.piper import PiperTTS


def test_replies_have_the_words_asked_in_one_sentence() -> None:
    for words in WORDS:
        text = reply_of(words)
        assert len(text.split()) == words and text.endswith(".") and text.count(".") == 1


def test_the_first_piece_stops_growing_with_the_reply() -> None:
    before = [len(first_piece_before(reply_of(n)).split()) for n in WORDS]
    after = [len(first_piece_after(reply_of(n)).split()) for n in WORDS]
    assert before[:3] == [5, 10, 20]  # the whole sentence, until the old 120-character soft split
    assert max(after) <= 7 and after[0] == 5
    assert all(a <= b for a, b in zip(after, before, strict=True))


async def test_first_audio_of_a_clause_is_measured_on_the_real_voice() -> None:
    tts = PiperTTS()
    await tts.warm_up()
    assert await first_audio_ms(tts, first_piece_after(reply_of(40)), whole=False) > 0
