"""Timestamps of the store: UTC everywhere, the `9999-01-01` "not yet" sentinel, the clock."""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NOT_YET = datetime(9999, 1, 1, tzinfo=UTC)
"""VoIPBIN's "has not happened" value (`9999-01-01 00:00:00.000000`): tm_delete of a live
resource, tm_end of a running one. Stored as a real timestamp, so "not deleted" is
`tm_delete = NOT_YET` on both databases and the column stays indexable and ordered."""

TEXT_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
"""VoIPBIN's wire format of a timestamp (`2024-02-09 07:01:35.666687`)."""

Clock = Callable[[], datetime]


def as_utc(value: datetime) -> datetime:
    """Aware UTC; a naive value is taken to be UTC already (that is what the databases hold)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """`2024-02-09 07:01:35.666687`, the form VoIPBIN's API and webhooks use."""
    return as_utc(value).strftime(TEXT_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """Read VoIPBIN's form or ISO 8601 (`...T...Z`); raises ValueError on anything else."""
    value = datetime.fromisoformat(text.strip())
    return as_utc(value)


class MonotonicClock:
    """UTC now with microseconds that never repeats or goes backwards within this process, so
    rows written by one node keep their order even when two land in the same microsecond."""

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            now = datetime.now(UTC)
            if now <= self._last:
                now = self._last + timedelta(microseconds=1)
            self._last = now
            return now


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored without zone (UTC by convention) and read back as aware UTC.

    SQLite keeps it as `YYYY-MM-DD HH:MM:SS.ffffff` text, which sorts like the timestamps it
    holds; PostgreSQL as `timestamp without time zone` (microseconds, years to 294276)."""

    impl = DateTime(timezone=False)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        return as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)
