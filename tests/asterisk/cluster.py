"""Several nodes on loopback for tests: private Asterisks (own ARI apps) started at once behind one Kamailio.

`running_cluster(folder_for, ("a", "b"))` starts Asterisk `a` and `b` (ARI apps `node-a`, `node-b`, each
trusting Kamailio's address only) and Kamailio on 127.0.0.3 dispatching over them; engines attach to
`node.info` (ARI URL, credentials, app). `Node.answer()` is a minimal engine: answer, play, wait.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from flowengine.asterisk.app import AriApp, Call
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.instance import InstanceInfo, PrivateAsterisk
from flowengine.asterisk.kamailio import Destination, DestinationState, PrivateKamailio, Probing
from flowengine.asterisk.routing import RouteTable
from flowengine.asterisk.sip_accounts import SipAccounts
from tests.asterisk.sipp import Softphone

KAMAILIO_IP = "127.0.0.3"  # Kamailio's own loopback address: the one address the Asterisks trust
CALLER_IP = "127.0.0.1"
FAST = Probing(ping_interval=1, fr_timer_ms=1000)  # a dead Asterisk is out within ~2 s


@dataclass
class Node:
    """One Asterisk with its own ARI app that answers every call, plays a known file and waits."""

    name: str
    instance: PrivateAsterisk
    info: InstanceInfo
    calls: list[Call] = field(default_factory=list)
    hang_up_after: float | None = None  # seconds after answering; None: the caller hangs up
    ring_only: bool = False  # ring until the caller gives up, never answer
    _client: AriClient | None = None
    _app: AriApp | None = None

    @property
    def destination(self) -> Destination:
        return Destination(self.info.sip_bind_host, self.info.sip_port, self.name)

    async def answer(self) -> None:
        i = self.info
        self._client = AriClient(i.ari_url, i.ari_username, i.ari_password, i.app)
        await self._client.start()
        self._app = AriApp(self._client, RouteTable(default_flow="main"), self._handle)

    async def _handle(self, call: Call) -> None:
        self.calls.append(call)
        if self.ring_only:
            await call.channel.ring()
            await call.ended.wait()
            return
        await call.channel.answer()
        if self.hang_up_after is not None:
            await asyncio.sleep(self.hang_up_after)
            await call.channel.hangup()
            return
        await call.channel.play("sound:tt-monkeys")
        await call.ended.wait()

    async def close(self) -> None:
        if self._app is not None:
            await self._app.aclose()
        if self._client is not None:
            await self._client.aclose()
        self._app = self._client = None


@dataclass
class Cluster:
    kamailio: PrivateKamailio
    nodes: dict[str, Node]

    def phone(self, tmp_path: Path, user: str = "caller") -> Softphone:
        info = self.kamailio.load_info()
        assert info is not None
        return Softphone((info.host, info.port), user, "", CALLER_IP, tmp_path)


@contextlib.contextmanager
def running_cluster(folder_for: Callable[[str], Path], names: tuple[str, ...] = ("a", "b"), *,
                    probing: Probing = FAST, extra_dialplan: str = "") -> Iterator[Cluster]:
    """Asterisks `names` (started at once) and Kamailio in front of them; everything stopped on exit.
    `folder_for(name)` gives each instance its folder (e.g. `tmp_path_factory.mktemp`)."""
    trust = SipAccounts(trusted=(PrivateKamailio(".", host=KAMAILIO_IP).trusted_peer(),))
    instances = {name: PrivateAsterisk(folder_for(f"asterisk-{name}"), app=f"node-{name}", sip_accounts=trust,
                                       extra_dialplan=extra_dialplan) for name in names}
    try:
        with ThreadPoolExecutor(len(instances)) as pool:
            infos = dict(zip(instances, pool.map(lambda i: i.start(), instances.values()), strict=True))
        nodes = {name: Node(name, instances[name], infos[name]) for name in instances}
        kamailio = PrivateKamailio(folder_for("kamailio"), [n.destination for n in nodes.values()],
                                   host=KAMAILIO_IP, probing=probing)
        kamailio.start()
        try:
            yield Cluster(kamailio, nodes)
        finally:
            kamailio.stop()
    finally:
        for instance in instances.values():
            instance.stop()


async def states(kamailio: PrivateKamailio) -> dict[str, DestinationState]:
    """Kamailio's view of every Asterisk, by URI (the RPC runs in a thread)."""
    return {s.uri: s for s in await asyncio.to_thread(kamailio.states)}
