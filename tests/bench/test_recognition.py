"""`bench recognition` on a slice of the corpus: real Whisper, real rules dialog, figures per voice and SNR."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from flowengine.bench.corpus import DIALOGUES, VOICES, Line
from flowengine.bench.read_back import MAX_REPEATS, Corrector, correction
from flowengine.bench.recognition import NAMES_ON_FILE, run_recognition_bench
from flowengine.providers.stt.base import STTContext, Transcript
from flowengine.providers.stt.whisper import WhisperSTT


async def test_a_dialogue_is_replayed_and_scored_per_voice_and_snr() -> None:
    booking = next(d for d in DIALOGUES if d.name == "booking-paused")
    voice = next(v for v in VOICES if v.name == "gb-female-fast")
    report = await run_recognition_bench(WhisperSTT(), voices=[voice], snrs=[None], dialogues=[booking],
                                         names=NAMES_ON_FILE)
    cell = report["by_voice"]["gb-female-fast/clean"]
    assert cell["utterances"] == len(booking.lines) and cell["bookings"] == 1
    assert cell["slots"] == 3 and cell["cpu_ms_per_utt"] > 0
    assert report["by_snr"]["clean"]["slots"] == 3 and report["names_on_file"] == len(NAMES_ON_FILE)
    # heard in the context of the questions, this voice books (tiny.en alone gets 1 slot of 3: "in the afternoon",
    # "Cam Taylor")
    assert (cell["slot_accuracy"], cell["booking_success"]) == (1.0, 1.0)


def test_a_correcting_caller_says_no_with_the_first_value_read_back_wrong() -> None:
    booking = next(d for d in DIALOGUES if d.name == "booking")
    right = dict(booking.booking)
    assert correction(booking, right) is None
    wrong_time = correction(booking, {**right, "time": "5 in the morning"})
    assert wrong_time is not None and wrong_time.said == "No, at ten in the morning." and wrong_time.slots == {
        "time": "10 in the morning"}
    wrong_both = correction(booking, {**right, "day": "today", "name": "Malik Morgan"})
    assert wrong_both is not None and wrong_both.said == "No, next Tuesday please."
    assert correction(booking, {})  # nothing booked yet: the day first
    # a dialogue that gives the day twice: the no carries the day booked, not the one said first
    changing = next(d for d in DIALOGUES if d.name == "booking-correction")
    wrong_day = correction(changing, {**changing.booking, "day": "Monday"})
    assert wrong_day is not None and wrong_day.said == "No, Wednesday."


def test_a_correcting_caller_leaves_a_no_its_script_says_next_to_the_script() -> None:
    changing = next(d for d in DIALOGUES if d.name == "booking-correction")
    caller = Corrector(changing, lambda line: line.said, lambda _: {"day": "Monday", "time": "11 am",
                                                                     "name": "Jordan Lee"})
    read_back = "So that is Monday at 11 am for Jordan Lee. Shall I book it?"
    scripted_no = changing.lines[4]
    assert scripted_no.said == "No, Wednesday."
    assert caller.next(read_back, scripted_no) is None and caller.corrections == 0
    # the same wrong read-back where the script would say yes: the caller says no itself
    assert caller.next(read_back, changing.lines[6]) == "No, Wednesday." and caller.corrections == 1


class FirstHourHeardAs(WhisperSTT):
    """Real Whisper, except that the first answer to "what time" comes back as `text`: a misheard hour made
    certain, so that a test does not hang on which voice the recogniser gets wrong this month."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.misheard = 0

    async def transcribe_in_context(self, pcm: np.ndarray, context: STTContext, *, language: str = "") -> Transcript:
        heard = await super().transcribe_in_context(pcm, context, language=language)
        if context.expect == "time" and not self.misheard:
            self.misheard += 1
            return replace(heard, text=self.text)
        return heard


async def test_the_correcting_caller_books_where_the_hour_was_misheard() -> None:
    booking = next(d for d in DIALOGUES if d.name == "booking")
    voice = next(v for v in VOICES if v.name == "us-female")  # books when nothing is misheard
    plain = await run_recognition_bench(FirstHourHeardAs("8 in the morning."), voices=[voice], snrs=[None], dialogues=[booking],
                                        names=NAMES_ON_FILE)
    correcting_stt = FirstHourHeardAs("8 in the morning.")
    correcting = await run_recognition_bench(correcting_stt, voices=[voice], snrs=[None], dialogues=[booking],
                                             names=NAMES_ON_FILE, correcting=True)
    assert plain["overall"]["booking_success"] == 0.0 and plain["overall"]["corrections"] == 0
    # "No, at ten in the morning." is heard by Whisper itself, in the context of the read-back
    assert correcting_stt.misheard == 1
    assert correcting["overall"]["booking_success"] == 1.0 and correcting["overall"]["corrections"] == 1


async def test_a_caller_asked_again_says_it_again_and_a_blind_one_does_not() -> None:
    booking = next(d for d in DIALOGUES if d.name == "booking")
    voice = next(v for v in VOICES if v.name == "us-female")  # books when nothing is misheard
    # the first time heard is one the practice does not book (8 am to 6 pm): the agent says so and asks again
    repeating = await run_recognition_bench(FirstHourHeardAs("At 7 in the evening."), voices=[voice], snrs=[None],
                                            dialogues=[booking], names=NAMES_ON_FILE)
    blind = await run_recognition_bench(FirstHourHeardAs("At 7 in the evening."), voices=[voice], snrs=[None],
                                        dialogues=[booking], names=NAMES_ON_FILE, blind=True)
    assert (repeating["caller"], blind["caller"]) == ("repeating", "blind")
    assert repeating["overall"]["repeats"] == 1 and repeating["overall"]["booking_success"] == 1.0
    # the blind caller answers "And what time on Tuesday suits you?" with its name
    assert blind["overall"]["repeats"] == 0 and blind["overall"]["booking_success"] == 0.0


def test_a_caller_says_again_only_what_it_gave_and_its_next_line_does_not() -> None:
    correcting = next(d for d in DIALOGUES if d.name == "booking-correction")
    caller = Corrector(correcting, lambda line: line.said, lambda _: {}, says_no=False)
    day, time, name = correcting.lines[1], correcting.lines[2], correcting.lines[3]
    assert caller.next("Sorry, I did not catch that. Which day would you like to come in?", time) == day.said
    assert caller.next("And what time on Monday suits you?", time) is None  # the next line gives it
    assert caller.next("Which day would you like to come in?", day) is None  # not given yet
    # asked for the time again after giving it: said again, the same words at most MAX_REPEATS times a call
    again = "We book appointments from 8 am to 6 pm, not at 7 pm. And what time on Monday suits you?"
    assert [caller.next(again, name) for _ in range(MAX_REPEATS + 1)] == [time.said] * MAX_REPEATS + [None]
    assert caller.repeats == MAX_REPEATS + 1  # and the day once


def test_a_caller_whose_words_were_not_caught_says_them_again_in_other_noise() -> None:
    booking = next(d for d in DIALOGUES if d.name == "booking")
    said: list[Line] = []
    caller = Corrector(booking, lambda line: said.append(line) or line.said, lambda _: {}, says_no=False)
    opening, day = booking.lines[0], booking.lines[1]
    assert caller.next("Hello, this is Bright Smile Dental. How can I help?", opening) is None  # says its opening
    fallback = "Sorry, I did not catch that. You can book an appointment or ask about our opening hours."
    assert caller.next(fallback, day) == opening.said  # as a person would: the request again, not the day
    assert said[-1].take == 1  # a new utterance of the same words (corpus.render: other noise)
    # not caught where the agent asks for a value it has not been given: the script answers it
    assert caller.next("Sorry, I did not catch that. Which day would you like to come in?", day) is None
    # the same words said again at most MAX_REPEATS times a call
    assert [caller.next(fallback, booking.lines[2]) for _ in range(MAX_REPEATS + 1)] == [day.said] * MAX_REPEATS + [
        None]
    assert caller.repeats == 1 + MAX_REPEATS and [line.take for line in said] == [1, *range(1, MAX_REPEATS + 1)]


def test_a_confirmation_not_caught_is_answered_again() -> None:
    booking = next(d for d in DIALOGUES if d.name == "booking")
    caller = Corrector(booking, lambda line: line.said, lambda _: dict(booking.booking))
    yes, goodbye = booking.lines[4], booking.lines[5]
    assert yes.said == "Yes please."
    read_back = "So that is Tuesday at 10 in the morning for Alex Morgan. Shall I book it?"
    assert caller.next(read_back, yes) is None  # right: the script's yes
    # "Yes please." heard as nothing the dialog understands: the caller says yes again, not its goodbye
    assert caller.next(f"Sorry, I did not catch that. {read_back}", goodbye) == yes.said
