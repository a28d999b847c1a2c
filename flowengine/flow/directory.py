"""The flow directory: `flows/*.yaml|*.json` loaded at start and on change; bad files keep the old version."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from flowengine.flow.loader import check_file, load_file
from flowengine.flow.model import Flow
from flowengine.tasks import TaskOwner

log = logging.getLogger(__name__)

PATTERNS = ("*.yaml", "*.yml", "*.json")


@dataclass
class _Entry:
    mtime_ns: int
    flow_id: str | None  # None: the file never loaded


class WatchedFolder:
    """A folder of files rescanned (`scan()`, in a thread) every `poll_interval` seconds by a task it owns,
    from `start_watching()` until `aclose()`. Subclasses load the files."""

    def __init__(self, path: str | Path, poll_interval: float, what: str) -> None:
        self.path = Path(path)
        self.poll_interval = poll_interval
        self._tasks = TaskOwner(f"{what} {self.path}")  # the watcher
        self._what = what

    def scan(self) -> bool:
        raise NotImplementedError

    async def watch(self) -> None:
        """Rescan every `poll_interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.poll_interval)
            await asyncio.to_thread(self.scan)

    def start_watching(self) -> None:
        if not self._tasks:
            self._tasks.start(self.watch(), name=self._what.replace(" ", "-"))

    async def aclose(self) -> None:
        await self._tasks.aclose()


class FlowDirectory(WatchedFolder):
    """Flows by id. A flow's id is its document's `id`, else the file name without extension."""

    def __init__(self, path: str | Path, poll_interval: float = 1.0) -> None:
        super().__init__(path, poll_interval, "flow directory")
        self.flows: dict[str, Flow] = {}
        self.errors: dict[str, list[str]] = {}
        self._files: dict[Path, _Entry] = {}
        self.reloads = 0

    def get_flow(self, flow_id: str) -> Flow | None:
        return self.flows.get(flow_id)

    def scan(self) -> bool:
        """Load new and changed files, forget removed ones; True when anything changed."""
        changed = False
        seen: set[Path] = set()
        files = sorted(p for pattern in PATTERNS for p in self.path.glob(pattern)) if self.path.is_dir() else []
        for path in files:
            seen.add(path)
            try:
                mtime = path.stat().st_mtime_ns
            except OSError:
                continue
            entry = self._files.get(path)
            if entry is not None and entry.mtime_ns == mtime:
                continue
            self._files[path] = _Entry(mtime, entry.flow_id if entry else None)
            changed |= self._load(path)
        for path in set(self._files) - seen:
            gone = self._files.pop(path)
            if gone.flow_id and gone.flow_id in self.flows:
                del self.flows[gone.flow_id]
                log.info("flow %s removed (%s deleted)", gone.flow_id, path.name)
                changed = True
        return changed

    def _load(self, path: Path) -> bool:
        report = check_file(path)
        if report.errors:
            problems = [p.format() for p in report.errors]
            self.errors[str(path)] = problems
            kept = self._files[path].flow_id
            log.error("flow file %s refused (%d problem(s)); %s:\n  %s", path, len(problems),
                      f"flow {kept!r} keeps its previous version" if kept else "nothing loaded",
                      "\n  ".join(problems))
            return False
        self.errors.pop(str(path), None)
        flow = load_file(path).flow
        flow_id = flow.id or path.stem
        flow = flow.model_copy(update={"id": flow_id})
        previous = self._files[path].flow_id
        if previous and previous != flow_id:
            self.flows.pop(previous, None)
        self.flows[flow_id] = flow
        self._files[path].flow_id = flow_id
        self.reloads += 1
        log.info("flow %s loaded from %s (%d actions)", flow_id, path.name, len(flow.actions))
        return True
