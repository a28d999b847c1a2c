"""Pure campaign rules: call windows, target choice and retry gates, target list parsing."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from flowengine.campaign.results import unanswered_reason
from flowengine.campaign.selection import next_slot, pick
from flowengine.campaign.targets import TargetsError, parse_csv, parse_yaml
from flowengine.campaign.windows import CallWindow
from flowengine.store import Outplan
from flowengine.store.outdials import OutdialTarget
from flowengine.store.records import Address

CID = "5a1e5000-0000-4000-8000-00000000ca11"
MONDAY_NOON_UTC = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)


def target(name: str = "t", **fields: object) -> OutdialTarget:
    fields.setdefault("destination_0", Address(type="tel", target="5550001"))
    return OutdialTarget(customer_id=CID, outdial_id=CID, name=name, **fields)  # type: ignore[arg-type]


def test_window_is_read_in_the_targets_zone() -> None:
    window = CallWindow(days=["mon", "tue"], start="09:00", end="17:00", timezone="UTC")
    assert window.is_open(MONDAY_NOON_UTC)
    assert not window.is_open(MONDAY_NOON_UTC, "Asia/Tokyo")  # 21:00 there
    opens = window.next_open(MONDAY_NOON_UTC, "Asia/Tokyo")
    assert opens.astimezone(UTC) == datetime(2024, 3, 5, 0, 0, tzinfo=UTC)  # Tuesday 09:00 in Tokyo
    night = CallWindow(days=["mon"], start="22:00", end="02:00")
    assert night.is_open(datetime(2024, 3, 5, 1, 0, tzinfo=UTC))  # Monday's window, after midnight
    assert not night.is_open(datetime(2024, 3, 6, 1, 0, tzinfo=UTC))


def test_bad_windows_name_the_problem() -> None:
    with pytest.raises(ValidationError, match="days must be names"):
        CallWindow(days=["funday"])
    with pytest.raises(ValidationError, match="unknown time zone"):
        CallWindow(timezone="Mars/Olympus")


def test_slots_tries_and_retry_interval() -> None:
    plan = Outplan(customer_id=CID, max_try_count_0=2, max_try_count_1=1, try_interval=60000)
    fresh = target(destination_1=Address(type="tel", target="5550002"))
    assert next_slot(fresh, plan) == 0
    assert next_slot(fresh.model_copy(update={"try_count_0": 2}), plan) == 1
    assert next_slot(fresh.model_copy(update={"try_count_0": 2, "try_count_1": 1}), plan) is None
    now = MONDAY_NOON_UTC
    tried = fresh.model_copy(update={"try_count_0": 1, "tm_update": now - timedelta(seconds=10)})
    waiting = pick([tried], plan, None, now)
    assert waiting.choice is None and waiting.wait_until == now + timedelta(seconds=50) and not waiting.exhausted
    chosen = pick([tried, target("b")], plan, None, now)
    assert chosen.choice is not None and chosen.choice.target.name == "b"
    spent = fresh.model_copy(update={"try_count_0": 2, "try_count_1": 1})
    assert pick([spent, target("c", status="done")], plan, None, now).exhausted


def test_closed_window_defers_the_target() -> None:
    plan = Outplan(customer_id=CID)
    window = CallWindow(days=["tue"], start="09:00", end="10:00")
    chosen = pick([target()], plan, window, MONDAY_NOON_UTC)
    assert chosen.choice is None and chosen.wait_until == datetime(2024, 3, 5, 9, 0, tzinfo=UTC)


def test_unanswered_reasons() -> None:
    assert unanswered_reason(17, "BUSY", False) == "busy"
    assert unanswered_reason(0, "", True) == "noanswer"
    assert unanswered_reason(19, "NOANSWER", False) == "noanswer"
    assert unanswered_reason(16, "NOANSWER", False) == "failed"
    assert unanswered_reason(34, "CONGESTION", False) == "failed"


def test_csv_rows_are_checked_and_numbered() -> None:
    rows = parse_csv("name,destination_0,destination_1,timezone\na,+15550001,extension:desk,Europe/Paris\n"
                     "b,sip:bob@example.org,,\n")
    assert [(r.row, r.name, r.timezone) for r in rows] == [(2, "a", "Europe/Paris"), (3, "b", "")]
    assert rows[0].destinations[1] == Address(type="extension", target="desk")
    with pytest.raises(TargetsError) as error:
        parse_csv("name,destination,timezone\nok,5550001,\nbad,fax:1,\nzone,5550002,Nowhere/Land\n\nnone,,\n")
    assert error.value.problems == [
        "row 3: destination: tel target 'fax:1' is not valid",
        "row 4: timezone: unknown time zone 'Nowhere/Land' (use an IANA name such as 'Europe/Paris')",
        "row 6: no destination",
    ]
    with pytest.raises(TargetsError, match="row 1: header"):
        parse_csv("name,phone\na,1\n")


def test_yaml_rows() -> None:
    rows = parse_yaml([{"name": "a", "destination": {"type": "tel", "target": "5550001"}},
                       {"name": "b", "destination_0": 5550002}])
    assert [r.destinations[0] for r in rows] == [Address(type="tel", target="5550001"),
                                                 Address(type="tel", target="5550002")]
    with pytest.raises(TargetsError) as error:
        parse_yaml([{"name": "a"}, "nope", {"destination": "1", "colour": "red"}])
    assert error.value.problems == ["row 1: no destination", "row 2: not a mapping",
                                    "row 3: unknown column 'colour'", "row 3: destination: tel target '1' is not valid"]
