"""Call windows: on which days and between which hours a target may be called, in its own time zone."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; a clear ValueError for unknown names."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as 'Europe/Paris')") from None


class CallWindow(BaseModel):
    """`days` (mon..sun), `start` and `end` ("HH:MM", end exclusive; end before start spans midnight),
    `timezone`: the zone of targets that name none."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: list[str] = Field(default_factory=lambda: list(DAYS))
    start: time = time(0, 0)
    end: time = time(23, 59, 59, 999999)
    timezone: str = "UTC"

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        days = [d.strip().lower()[:3] for d in value]
        bad = [d for d, raw in zip(days, value, strict=True) if d not in DAYS or not raw.strip()]
        if bad or not days:
            raise ValueError(f"days must be names from {', '.join(DAYS)}; got {value!r}")
        return days

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value

    @model_validator(mode="after")
    def _span(self) -> CallWindow:
        if self.start == self.end:
            raise ValueError("start and end are equal: the window would never open")
        return self

    def _zone_of(self, target_timezone: str) -> ZoneInfo:
        return zone(target_timezone or self.timezone)

    def is_open(self, now: datetime, target_timezone: str = "") -> bool:
        local = now.astimezone(self._zone_of(target_timezone))
        t = local.time()
        if self.start < self.end:
            return DAYS[local.weekday()] in self.days and self.start <= t < self.end
        if t >= self.start:  # spans midnight: the evening part belongs to today
            return DAYS[local.weekday()] in self.days
        if t < self.end:  # the morning part belongs to yesterday's window
            return DAYS[(local.weekday() - 1) % 7] in self.days
        return False

    def next_open(self, now: datetime, target_timezone: str = "") -> datetime:
        """`now` when open, else the next moment the window opens (at most a week ahead)."""
        if self.is_open(now, target_timezone):
            return now
        tz = self._zone_of(target_timezone)
        local = now.astimezone(tz)
        for days_ahead in range(8):
            day = (local + timedelta(days=days_ahead)).date()
            opening = datetime.combine(day, self.start, tzinfo=tz)
            if opening > local and DAYS[opening.weekday()] in self.days:
                return opening
        raise ValueError("the call window never opens")  # unreachable: days is never empty


def window_of(data: dict[str, object] | None) -> CallWindow | None:
    """The outplan's stored `call_window` as a CallWindow (None: always open)."""
    return CallWindow.model_validate(data) if data else None
