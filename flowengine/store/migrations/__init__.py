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
    """Every migration module `vNNNN_*.py` of this folder, by version (strictly increasing, from 1)."""
    import importlib
    import pkgutil

    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("v") and info.name[1:5].isdigit():
            module = importlib.import_module(f"{__name__}.{info.name}")
            migration: Migration = module.MIGRATION
            if migration.version != int(info.name[1:5]):
                raise RuntimeError(f"{info.name} declares version {migration.version}")
            found.append(migration)
    versions = [m.version for m in found]
    if not versions or versions[0] != 1 or len(set(versions)) != len(versions):
        raise RuntimeError(f"migration versions must be unique and start at 1, got {versions}")
    return tuple(found)
