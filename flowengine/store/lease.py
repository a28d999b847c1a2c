"""A running node's lease: claimed at start, renewed every lease/3 by a task it owns, released at stop; each
renewal also looks for lost nodes and has their records settled."""
from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from flowengine.store.errors import StoreError
from flowengine.store.nodes import Node, NodeConflictError, NodeRepository, Owners
from flowengine.tasks import TaskOwner

log = logging.getLogger(__name__)


class Settler(Protocol):
    """Ends the live records of `owners` (calls, activeflows, AI calls, campaign dials): the engine's port."""

    async def __call__(self, owners: Owners) -> None: ...


class NodeLease:
    """This node's row in `nodes`. `claim()` refuses (NodeConflictError) while a live node holds the ARI app
    or the id; `start()` begins renewing; `aclose()` stops renewing and marks the node `stopped`.

    `problem` says why the lease cannot be trusted (renewals failing past the lease, or another node found it
    lost and settled its records): /health reports it. `settler`, once set, ends lost nodes' records."""

    def __init__(self, nodes: NodeRepository, node_id: str, ari_app: str, host: str, lease_s: float) -> None:
        self.nodes = nodes
        self.node_id = node_id
        self.ari_app = ari_app
        self.host = host
        self.lease_s = lease_s
        self.settler: Settler | None = None
        self.problem = ""
        self.node: Node | None = None
        self.settled_nodes: list[str] = []  # lost nodes this one settled, oldest first
        self._tasks = TaskOwner(f"node {node_id}")
        self._sweep_lock = asyncio.Lock()
        self._unsettled = False  # a settling pass failed: the next renewal runs one again

    async def claim(self) -> Node:
        """Claims the ARI app. Held under this very id (this node killed and started again at once, by systemd
        say), it waits once for that lease to run out: a run that was killed renews nothing, a live one does,
        and is refused then."""
        try:
            self.node = await self.nodes.claim(self.node_id, self.ari_app, self.host, self.lease_s)
        except NodeConflictError as conflict:
            holder = conflict.holder
            if holder.id != self.node_id or holder.ari_app != self.ari_app:
                raise
            left = (holder.tm_lease - self.nodes.clock()).total_seconds()
            log.warning("node %s: a previous run still holds ARI app %r for %.1fs: waiting for its lease to run out",
                        self.node_id, self.ari_app, left)
            await asyncio.sleep(max(0.0, left) + 0.1)
            self.node = await self.nodes.claim(self.node_id, self.ari_app, self.host, self.lease_s)
        log.info("node %s holds ARI app %r (lease %.1fs)", self.node_id, self.ari_app, self.lease_s)
        return self.node

    def start(self) -> None:
        self._tasks.start(self._renew(), name=f"node-lease-{self.node_id}")

    async def _renew(self) -> None:
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                status = await self.nodes.renew(self.node_id, self.lease_s)
            except Exception as exc:  # noqa: BLE001 - the database away, whatever the driver raises: next time
                if loop.time() - renewed >= self.lease_s and not self.problem:
                    self._report(f"node lease not renewed for {loop.time() - renewed:.1f}s: {exc}")
                continue
            if status != "live":
                self._report(f"node {self.node_id} was found lost by another node ({status or 'row gone'}): "
                             "its records were settled; restart this node")
                return
            renewed = loop.time()
            if self.problem.startswith("node lease not renewed"):
                log.warning("node %s: lease renewed again", self.node_id)
                self.problem = ""
            try:
                await self.sweep()
            except Exception:  # the store, or a settling step: the next renewal tries again
                log.exception("settling lost nodes failed; the next renewal tries again")

    def _report(self, problem: str) -> None:
        self.problem = problem
        log.error("%s", problem)

    async def sweep(self, *, everything: bool = False) -> list[str]:
        """Marks lost the nodes whose lease ran out, then settles the records of every node that is not live
        (when some were marked, when `everything` is asked, as at start, or when the last pass failed).
        Marking first lets a node that was only cut off learn it was settled. Returns the ids marked now."""
        if self.settler is None:
            return []
        async with self._sweep_lock:
            expired = [n.id for n in await self.nodes.expired() if n.id != self.node_id]
            marked = await self.nodes.mark_lost(expired) if expired else []
            if not (marked or everything or self._unsettled):
                return []
            for node_id in marked:
                log.error("node %s lost (its lease ran out): settling its calls, activeflows, AI calls and dials",
                          node_id)
            self._unsettled = True
            await self.settler(Owners.lost(self.node_id, await self.nodes.live_ids()))
            self._unsettled = False
            self.settled_nodes += marked
            return marked

    async def stop_settling(self) -> None:
        """No more settling (the parts it uses are stopping); renewals go on until `aclose`."""
        async with self._sweep_lock:
            self.settler = None

    async def aclose(self) -> None:
        """Stops renewing and marks this node stopped (when it holds its row)."""
        await self._tasks.aclose()
        if self.node is not None and not self.problem.startswith(f"node {self.node_id} was found lost"):
            try:
                await self.nodes.release(self.node_id)
            except StoreError as exc:
                log.warning("node %s not marked stopped (its lease runs out instead): %s", self.node_id, exc)
