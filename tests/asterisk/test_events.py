"""Typed ARI events parsed from events recorded on Asterisk 16.28."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowengine.asterisk.ari import events as ev

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ari"


def load(name: str) -> ev.Event:
    return ev.parse_event(json.loads((FIXTURES / f"{name}.json").read_text()))


def test_every_recorded_event_parses_to_its_own_type() -> None:
    names = sorted(p.stem for p in FIXTURES.glob("*.json"))
    assert len(names) >= 12
    for name in names:
        event = load(name)
        assert type(event).__name__ == name
        assert event.application == "flowengine"


def test_stasis_start_carries_channel_and_dialplan() -> None:
    event = load("StasisStart")
    assert isinstance(event, ev.StasisStart)
    assert event.channel.id and event.channel.name.startswith("Local/")
    assert event.channel_ids == (event.channel.id,)


def test_dtmf_event_has_digit_and_duration() -> None:
    event = load("ChannelDtmfReceived")
    assert isinstance(event, ev.ChannelDtmfReceived)
    assert event.digit == "1"
    assert event.duration_ms > 0


def test_playback_events_route_to_their_channel() -> None:
    event = load("PlaybackFinished")
    assert isinstance(event, ev.PlaybackFinished)
    assert event.playback.state == "done"
    assert event.channel_ids == (event.playback.target_uri.removeprefix("channel:"),)


def test_bridge_membership_events_name_both() -> None:
    event = load("ChannelEnteredBridge")
    assert isinstance(event, ev.ChannelEnteredBridge)
    assert event.bridge.id and event.channel.id
    assert event.channel_ids == (event.channel.id,)


def test_unknown_types_are_kept_raw() -> None:
    event = ev.parse_event({"type": "PeerStatusChange", "application": "flowengine", "peer": {}})
    assert isinstance(event, ev.UnknownEvent)
    assert event.raw["peer"] == {}


def test_malformed_event_names_the_missing_field() -> None:
    with pytest.raises(ev.EventParseError, match=r"'StasisStart' is malformed: missing 'channel'"):
        ev.parse_event({"type": "StasisStart"})


def test_abstract_groups_are_not_event_types() -> None:
    assert "ChannelEvent" not in ev.Event.registry
    assert "UnknownEvent" not in ev.Event.registry
    assert "StasisStart" in ev.Event.registry
