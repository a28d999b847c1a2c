"""Schema migrations, in order. Each is a frozen module `vNNNN_<name>.py`: never edit one that
was released; add the next version instead (and change the tables in the resource modules to match)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    upgrade: Callable[[Connection], None]
    """Runs inside the migration transaction, on a synchronous connection (`run_sync`)."""


def all_migrations() -> tuple[Migration, ...]:
    from flowengine.store.migrations import v0001_initial

    found = (v0001_initial.MIGRATION,)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration versions must be 1..N without gaps, got {versions}")
    return found
