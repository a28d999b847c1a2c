"""The answers a closed question allows (a day, a time, yes/no, a name on file), written out as the sentences a
caller would say, so a recogniser can score each against the audio; and whether a transcript already holds one."""
from __future__ import annotations

import re
from dataclasses import dataclass

from flowengine.providers.clock import HOUR_WORDS, Window, minutes_of
from flowengine.providers.stt.base import STTContext

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HOURS = HOUR_WORDS
_DAY_VALUES = (*DAYS, "today", "tomorrow")
_DAY_TAILS = (" please", ", please", " thanks")
_TIME_TAILS = ("in the morning", "in the afternoon", "in the evening", "a.m.", "p.m.", "o'clock")
_YES = ("Yes.", "Yes please.", "Yes, that's right.", "Yeah.", "That's right.", "Correct.", "Sure.")
_NO = ("No.", "No thanks.", "No, that's wrong.")
_BARE_NO = ("No.", "No thanks.")  # a no that says nothing more
_READ_BACK_HOUR = re.compile(r"\bat (\d{1,2})\b")
# the parts of the day a caller corrects an hour with, whatever the read-back said ("So that is Tuesday at 11 am" ->
# "No, at ten in the morning."; "... at 3 in the afternoon" -> "No, at eleven a.m.")
_HALF_TAILS = ("a.m.", "in the morning", "p.m.", "in the afternoon", "in the evening")
_NAME_LEADS = ("My name is", "It's", "This is")
_YES_NO_WORDS = frozenset(("yes", "yeah", "yep", "no", "nope", "correct", "sure"))
_NOS = frozenset(("no", "nope"))
_PLAIN_ANSWER = _YES_NO_WORDS | {"please", "thanks", "thank", "you", "that's", "that", "is", "right", "wrong", "it",
                                 *(d.lower() for d in DAYS)}
INCOMPLETE_LEAD = 2.0  # measured (docs/decisions.md): "My name is" alone wins by 4.4-7.0, a whole name loses it by >= -0.3
MIN_NAMES_FOR_LEAD = 5  # with fewer names on file, being ahead of the others says little
# An open question's requests (STTContext.requests): a request replaces the free transcript only when it scores
# >= REQUEST_FLOOR (less PRIOR_WEIGHT of its text's prior, below) and leads every other request by REQUEST_LEAD
# (measured, docs/decisions.md, "The text's prior taken off": 26 corpus lines x 7 voices x clean / 20 / 10 dB at an
# open question: the five requests heard as their intent 61 -> 78 of 105, "Can I book a cleaning?" 7 -> 19 of 21;
# other lines forced into a request 0 -> 2 of 378, one of them a goodbye heard as the goodbye)
REQUEST_FLOOR = -3.0
REQUEST_LEAD = 2.5
REQUEST_LENGTH_FACTOR = 2  # a transcript over twice the longest request tells more than a request
# A transcript whose words overlap a request's this much (Dice) was heard as that request: scoring the requests would
# only confirm it, at ~11 ms CPU a sentence. Not lower: "I would like to do a kind appointment." (0.67) is scored
# and heard as the request it was
REQUEST_HEARD = 0.75
# A day's or a request's score is taken less 0.3 of its text's prior (whisper_prior), and its floor is on that scale.
# A day (measured, docs/decisions.md, "The text's prior taken off": 26 corpus lines x 7 voices x clean / 20 / 10 dB
# asked for a day): day lines right 69 -> 70 of 84, wrong 4 -> 1, other lines forced into a day 188 -> 69 of 462
PRIOR_WEIGHT = 0.3
DAY_FLOOR = -4.0
DAY_UNFINISHED_FLOOR = -2.0  # "Next" said alone: "Next Friday" -3.8..-4.2; "On Friday." heard "on": -0.6
# A time the dialog does not book (Answers.handicap), measured on "At ten in the morning.", "At three | in the
# afternoon.", "At eleven a.m." and three times outside 8 am - 6 pm ("At seven in the evening.", "At eleven p.m.", "At
# six in the morning.") x 7 voices x clean / 20 / 10 dB: handicap 0 / 0.25 / 0.5 / 1 / 2 / 3: inside right 38 / 47 /
# 47 / 47 / 47 / 47 of 63, outside right 40 / 33 / 31 / 20 / 10 / 1 of 63
OUTSIDE_HANDICAP = 0.5
REFUSED_HANDICAP = 100.0  # ... a time the question refused: not taken again (Answers.refused)
_WORD = re.compile(r"[a-z']+|\d+")
_VALUE_WORDS = frozenset((*(d.lower() for d in _DAY_VALUES), *HOURS, "noon", "midday"))
_DIGIT_HOURS = {str(i): word for i, word in enumerate(HOURS, 1)}


@dataclass(frozen=True)
class Answers:
    """`first`: the candidate sentences scored first; `then(best)`: refinements of the best one (a time's
    "in the morning"), scored next; `holds(text)`: the transcript already answers (no scoring needed)."""

    kind: str
    first: tuple[str, ...]
    values: tuple[str, ...]  # lower-case words of which an answer holds one
    length_power: float = 0.5  # score = summed log probability / tokens ** length_power (whisper_context)
    refine_power: float = 0.75  # the second round's: its sentences share their start and differ in the ending
    floor: float = -9.0  # the least score that replaces the free transcript (whisper_context)
    lead: float | None = None  # ... or, below the floor, the least lead of the best over any other value
    # The answer's opening said alone and ended ("My name is."): the caller has not said the value yet (a pause
    # mid-answer). Scored beside the answers; when one of these wins by INCOMPLETE_LEAD, no value is forced. Names
    # only: tiny.en's prior for a bare "Next." beats "Next Tuesday." even where Tuesday was said (measured).
    incomplete: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # per sentence of `first`, the value it stands for (a request's intent)
    open_tails: frozenset[str] = frozenset()  # a transcript ending on one of these ("next", "at") is unfinished
    corrections: tuple[str, ...] = ()  # yes/no: a no with what is right instead ("No, Wednesday.", "No, at ten.")
    needs_lead: bool = False  # the best must clear the floor *and* lead every other value by `lead`
    # the share of each sentence's sum over silence (its text's prior, whisper_prior) taken off its first-round
    # score: the floor is then on that scale
    prior_weight: float = 0.0
    unfinished_floor: float = -6.5  # the least score that gives a transcript stopping at an opening ("next") a value
    # the times of day the dialog books: a transcript naming one outside does not hold an answer (the answers are
    # scored), and a sentence naming one outside is scored OUTSIDE_HANDICAP lower (`handicap`)
    window: Window | None = None
    # time: the times outside the window the question itself refused ("... not at 1 am. And what time..."):
    # the caller who was told says another, and the reading refused is the likeliest to be misheard again
    refused: tuple[int, ...] = ()
    heard_tail: str = ""  # time: the part of the day the free transcript names ("I have saved the morning.")
    # yes/no: the free transcript went on after its no with words that are no plain answer ("No, when did you?"): the
    # caller said more than a bare no, so the bare no's are not among the corrections scored (`then`). Measured on
    # "No, Wednesday.", "No, Friday.", "No, at ten in the morning." x 7 voices x clean / 20 / 10 dB at a confirmation:
    # right 54 -> 58 of 63; six plain answers (yes's, no's) x the same: none changed meaning
    said_more: bool = False

    def value_of(self, text: str) -> str:
        """Which value a candidate sentence holds ("" when none of them)."""
        if self.labels:
            return self.labels[self.first.index(text)] if text in self.first else ""
        said = f" {' '.join(_DIGIT_HOURS.get(w, w) for w in _WORD.findall(text.lower()))} "
        return next((v for v in self.values if f" {v} " in said), "")

    def holds(self, text: str) -> bool:
        said = [_DIGIT_HOURS.get(w, w) for w in _WORD.findall(text.lower())]
        if self.kind == "yes_no":  # "No, when?" holds a no, but also a word that may be a misheard correction
            return bool(said) and said[0] in _YES_NO_WORDS and all(w in _PLAIN_ANSWER for w in said)
        if self.kind == "request":  # heard as a request, or it says more: a value the dialog can use, a longer story
            requests = [_WORD.findall(s.lower()) for s in self.first]
            longest = max(len(words) for words in requests)
            return len(said) > REQUEST_LENGTH_FACTOR * longest or any(
                w.isdigit() or w in _VALUE_WORDS for w in said) or any(
                _dice(set(said), set(words)) >= REQUEST_HEARD for words in requests)
        joined = f" {' '.join(said)} "
        return any(f" {v} " in joined for v in self.values) and (self.window is None or self.window.allows(text))

    def handicap(self, text: str) -> float:
        """What is taken off the score of `text`: OUTSIDE_HANDICAP when it names a time of day the dialog does not
        book. A reading the business books wins where the audio leaves the hour or its half of the day in doubt
        ("eleven a.m." heard "p.m."); a time outside it said clearly is still heard (and refused by the dialog)."""
        if self.window is None or self.window.allows(text):
            return 0.0
        meant = minutes_of(text)
        return REFUSED_HANDICAP if meant and set(meant) <= set(self.refused) else OUTSIDE_HANDICAP

    def unfinished(self, text: str) -> bool:
        """The transcript stops at an answer's opening ("Next", "my name is"): the value may follow after a pause,
        so none is forced onto it (the turn judge waits for the rest)."""
        said = _WORD.findall(text.lower())
        return bool(said) and said[-1] in self.open_tails

    def then(self, best: tuple[str, ...]) -> tuple[str, ...]:
        """The sentences scored next, given the first round's best few: a time's endings ("in the morning"); after
        a no, whether a new day came with it ("No, Wednesday.")."""
        if self.kind == "yes_no":
            nos = tuple(no for no in _NO if not (self.said_more and no in _BARE_NO))
            return (*nos, *self.corrections) if best and best[0].startswith("No") else ()
        if self.kind != "time":
            return ()
        endings = tuple(f"{stem}{tail}".rstrip(".") + "." for stem in best  # noon is said with no ending
                        for tail in ("", *(" " + t for t in _TIME_TAILS if not stem.endswith("noon"))))
        # the ending the free transcript heard ("I have saved the morning."), with every hour it allows: the hour
        # said may not be among the first round's best
        heard = tuple(f"At {hour} {self.heard_tail}".rstrip(".") + "." for hour in HOURS if self.heard_tail and (
            self.window is None or self.window.allows(f"{hour} {self.heard_tail}")))
        return endings + tuple(sentence for sentence in heard if sentence not in endings)


def corrections(question: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A no with what is right instead, for the confirmation `question` ("So that is Tuesday at 5 in the morning
    ... Shall I book it?"): the other days ("No, Wednesday."), and the other hours, bare and with a part of the day
    in the caller's words ("No, at ten.", "No, at ten in the morning.", "No, at eleven a.m."). What was read back is
    left out: nobody corrects a value to itself, and the hour misheard is the likeliest to be misheard again."""
    words = f" {question.lower()} "
    days = tuple(f"No, {day}." for day in DAYS if f" {day.lower()}" not in words)
    read = _READ_BACK_HOUR.search(question.lower())
    said_hour = HOURS[int(read.group(1)) - 1] if read and 1 <= int(read.group(1)) <= len(HOURS) else ""
    hours = [hour for hour in HOURS if hour != said_hour]
    times = tuple(f"No, at {hour}." for hour in hours) + tuple(
        f"No, at {hour} {tail}".rstrip(".") + "." for tail in _HALF_TAILS for hour in hours)
    return days, times


def _dice(a: set[str], b: set[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a or b else 0.0


def answers_for(context: STTContext, heard: str = "") -> Answers | None:
    """The closed set of answers for `context` (None: the question is open, or a name with no names on file).
    `heard`: the free transcript, whose opening words ("my name is") pick the sentences' form."""
    if context.expect == "day":
        # openings ("Next Tuesday") and, beside them, the openings with the words callers end them with ("Next
        # Tuesday, please"): where the audio holds a "please", a day followed by it explains the audio better than
        # "today" does (measured: day lines x 7 voices x clean / 20 / 10 dB right 66 -> 69 of 84, none lost)
        openings = tuple(f"{lead}{day}" for lead in ("", "On ", "Next ") for day in _DAY_VALUES)
        return Answers("day", (*openings, *(f"{opening}{tail}" for opening in openings for tail in _DAY_TAILS)),
                       tuple(d.lower() for d in _DAY_VALUES), open_tails=frozenset(("next", "on")),
                       floor=DAY_FLOOR, prior_weight=PRIOR_WEIGHT, unfinished_floor=DAY_UNFINISHED_FLOOR)
    if context.expect == "time":
        stems = tuple(f"{lead}{hour}" for lead in ("At ", "") for hour in (*HOURS, *_DIGIT_HOURS, "noon"))
        tail = next((f"in the {part}" for part in ("morning", "afternoon", "evening") if part in heard.lower()), "")
        return Answers("time", stems, (*HOURS, "noon", "midday"), open_tails=frozenset(("at",)), window=context.window,
                       heard_tail=tail, refused=context.window.refused_in(context.question) if context.window else ())
    if context.expect == "yes_no":
        # measured: at 0.5 a bare "No." outscores "No, Wednesday." too often; within the no's, a power of 1.25
        # finds 20 of 24 corrections (1.0: 14, 1.5: 17) and keeps 24 of 24 plain no's (docs/decisions.md)
        days, times = corrections(context.question)
        said = _WORD.findall(heard.lower())
        said_more = bool(said) and said[0] in _NOS and any(w not in _PLAIN_ANSWER for w in said[1:])
        return Answers("yes_no", (*_YES, *_NO, *days), (), length_power=0.75, refine_power=1.25,
                       corrections=(*days, *times), window=context.window, said_more=said_more)
    if context.expect == "open" and context.requests:
        return Answers("request", tuple(sentence for _, sentence in context.requests), (), floor=REQUEST_FLOOR,
                       lead=REQUEST_LEAD, labels=tuple(what for what, _ in context.requests), needs_lead=True,
                       prior_weight=PRIOR_WEIGHT)
    if context.expect == "name" and context.hints:
        opening = heard.lower().lstrip()
        leads = [lead for lead in _NAME_LEADS if opening.startswith(lead.lower())] or ["", "My name is "]
        names = tuple(context.hints)
        # a name on file is a closed answer with a long tail of tokens: its floor is lower, and a name far ahead
        # of every other name on file is taken even below it (measured: "Alex" heard as "Malik" scores -17
        # while no other name comes within 4)
        return Answers("name", tuple(f"{lead.strip()} {name}.".strip() for lead in leads for name in names),
                       tuple(n.lower() for n in names), floor=-12.0, lead=4.0 if len(names) >= MIN_NAMES_FOR_LEAD else None,
                       incomplete=tuple(f"{lead}." for lead in _NAME_LEADS), open_tails=frozenset(("is", "my")))
    return None
