"""Timestamps: the `9999-01-01` sentinel is stored the same on both databases and plain SQL
finds live rows with it; the clock never repeats."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from flowengine.store import NOT_YET, Flow, Store, format_timestamp, parse_timestamp
from flowengine.store.timestamps import MonotonicClock
from tests.store.conftest import new_customer


def test_formats() -> None:
    assert format_timestamp(NOT_YET) == "9999-01-01 00:00:00.000000"
    when = datetime(2024, 2, 9, 7, 1, 35, 666687, tzinfo=UTC)
    assert parse_timestamp("2024-02-09 07:01:35.666687") == when
    assert parse_timestamp("2024-02-09T07:01:35.666687Z") == when
    assert parse_timestamp("2024-02-09T09:01:35.666687+02:00") == when
    with pytest.raises(ValueError):
        parse_timestamp("last tuesday")


def test_clock_never_repeats() -> None:
    clock = MonotonicClock()
    stamps = [clock() for _ in range(10_000)]
    assert all(a < b for a, b in itertools.pairwise(stamps))
    assert all(s.tzinfo is UTC for s in stamps[:3])


async def test_sentinel_is_plain_sql_on_both_databases(store: Store) -> None:
    customer_id = await new_customer(store)
    live = await store.flows.create(Flow(customer_id=customer_id))
    gone = await store.flows.create(Flow(customer_id=customer_id))
    await store.flows.delete(customer_id, gone.id)
    async with store.db.read() as conn:
        found = (
            await conn.execute(
                text("SELECT id FROM flows WHERE customer_id = :c AND tm_delete = '9999-01-01 00:00:00.000000'"),
                {"c": customer_id},
            )
        ).scalars().all()
        stored = (
            await conn.execute(text("SELECT tm_delete FROM flows WHERE id = :id"), {"id": live.id})
        ).scalar_one()
    assert found == [live.id]
    assert str(stored).startswith("9999-01-01 00:00:00")  # text on SQLite, a timestamp on PostgreSQL
