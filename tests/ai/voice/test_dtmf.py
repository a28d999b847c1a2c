"""DTMF in an AI call: one message per key, except after a question asking for digits, where the keys typed
(ended by '#' or a pause) are the caller's answer. Events are the recorded ARI fixture, dispatched by the hub."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

from flowengine.ai.voice.dtmf import DtmfFeed
from flowengine.ai.voice.expectation import expectation
from flowengine.asterisk.ari import events as ev
from flowengine.asterisk.ari.client import AriClient

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "ari" / "ChannelDtmfReceived.json"


def key(digit: str) -> tuple[ev.Event, str]:
    raw = json.loads(FIXTURE.read_text())
    raw["digit"] = digit
    event = ev.parse_event(raw)
    assert isinstance(event, ev.ChannelDtmfReceived)
    return event, event.channel.id


async def feed_keys(keys: str, question: str, *, pause_s: float = 0.2, gap_s: float = 0.0) -> list[str]:
    ari = AriClient("http://127.0.0.1:9", "user", "secret")
    got: list[str] = []

    async def deliver(text: str) -> None:
        got.append(text)

    channel = key("1")[1]
    feed = DtmfFeed(ari, channel, deliver, pause_s=pause_s,
                    wants_digits=lambda: expectation(question).expect == "digits")
    try:
        for digit in keys:
            ari.hub.dispatch(key(digit)[0])
            await asyncio.sleep(gap_s)
        await asyncio.sleep(pause_s * 2 + 0.1)
    finally:
        await feed.aclose()
        await ari.rest.aclose()
    return got


async def test_digits_asked_are_gathered_until_the_hash_key() -> None:
    got = await feed_keys("555123#", "Could you give me your phone number, please?")
    assert got == ["555123"]


async def test_digits_asked_end_with_a_pause() -> None:
    got = await feed_keys("5551234567", "What is your phone number?", pause_s=0.2)
    assert got == ["5551234567"]


async def test_a_pause_between_two_answers_splits_them() -> None:
    got = await feed_keys("12", "Please enter your account number.", pause_s=0.1, gap_s=0.3)
    assert got == ["1", "2"]


async def test_keys_without_a_digits_question_are_one_message_each() -> None:
    got = await feed_keys("1#", "Which day would you like to come in?")
    assert got == ["type: DTMF_EVENT\ndigit: 1\nduration: 100\n", "type: DTMF_EVENT\ndigit: #\nduration: 100\n"]
