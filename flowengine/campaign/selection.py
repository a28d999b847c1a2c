"""Which target to dial next and on which destination slot (retry counts, retry interval, call window)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flowengine.campaign.windows import CallWindow
from flowengine.store.outdials import OutdialTarget
from flowengine.store.outplans import DESTINATION_SLOTS, Outplan
from flowengine.store.timestamps import NOT_YET


def next_slot(target: OutdialTarget, plan: Outplan) -> int | None:
    """The first slot with a destination and tries left (VoIPBIN's order), or None when exhausted."""
    for index in range(DESTINATION_SLOTS):
        if target.destination(index) is not None and target.tries(index) < plan.max_tries(index):
            return index
    return None


def tried(target: OutdialTarget) -> bool:
    return any(target.tries(i) for i in range(DESTINATION_SLOTS))


def ready_at(target: OutdialTarget, plan: Outplan, window: CallWindow | None, now: datetime) -> datetime:
    """When this target may be dialed: after `try_interval` since its last try, inside its window."""
    when = now
    if tried(target) and target.tm_update != NOT_YET:
        when = max(when, target.tm_update + timedelta(milliseconds=plan.try_interval))
    if window is not None:
        when = window.next_open(when, target.timezone)
    return when


@dataclass(frozen=True)
class Choice:
    target: OutdialTarget
    index: int


@dataclass(frozen=True)
class Pick:
    """`choice` to dial now (`choices`: it and the next ready ones, in order), else `wait_until` the earliest
    time one becomes ready; `exhausted` when no idle target has any try left."""

    choice: Choice | None
    wait_until: datetime | None
    exhausted: bool
    choices: tuple[Choice, ...] = ()


def pick(targets: Sequence[OutdialTarget], plan: Outplan, window: CallWindow | None, now: datetime,
         limit: int = 1) -> Pick:
    """From idle targets (least recently touched first): the first `limit` that are ready now."""
    earliest: datetime | None = None
    pending = False
    ready: list[Choice] = []
    for target in targets:
        if target.status != "idle":
            continue
        index = next_slot(target, plan)
        if index is None:
            continue
        pending = True
        when = ready_at(target, plan, window, now)
        if when <= now:
            ready.append(Choice(target, index))
            if len(ready) >= limit:
                break
            continue
        earliest = when if earliest is None else min(earliest, when)
    if ready:
        return Pick(ready[0], None, False, tuple(ready))
    return Pick(None, earliest, not pending)
