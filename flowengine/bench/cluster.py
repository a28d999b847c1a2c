"""`bench cluster`: calls per second SIPp gets through Kamailio to one node, then to two (Asterisk alone, or with
its engine)."""
from __future__ import annotations

import contextlib
import csv
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowengine.asterisk.instance import InstanceInfo, PrivateAsterisk
from flowengine.asterisk.kamailio import Destination, PrivateKamailio, Probing
from flowengine.asterisk.sip_accounts import SipAccounts, TrustedPeer
from flowengine.asterisk.sipp import SippError, media_port, sipp_command
from flowengine.bench.engine_node import EngineNode
from flowengine.bench.host import machine

KAMAILIO_IP = "127.0.0.3"  # Kamailio's own loopback address, the one each Asterisk trusts
CALLER_IP = "127.0.0.1"
BENCH_CONTEXT = "flowengine-bench"
CALLS_PROCESSED = re.compile(r"(\d+) calls? processed")

# Each Asterisk answers and waits for the caller's BYE: a plain dialplan, no engine, so the figures are
# SIP and channel set-up through Kamailio, not an application's.
BENCH_DIALPLAN = f"""
[{BENCH_CONTEXT}]
exten => _X.,1,Answer()
 same => n,Wait(60)
 same => n,Hangup()
"""
BENCH_PJSIP = f"""
[bench-kamailio](flowengine-endpoint)
context = {BENCH_CONTEXT}
identify_by = ip

[bench-kamailio-identify]
type = identify
endpoint = bench-kamailio
match = {KAMAILIO_IP}
"""

# INVITE (SDP offered, no RTP sent), answered, held -d ms, BYE: SIPp's counters say how many succeeded.
SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="flowengine bench cluster call">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:bench@[local_ip]:[local_port]>;tag=[pid]call[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:bench@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- 1 1 IN IP[local_ip_type] [local_ip]
      s=bench
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true" rtd="true"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:bench@[local_ip]:[local_port]>;tag=[pid]call[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <pause/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:bench@[local_ip]:[local_port]>;tag=[pid]call[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""


class ClusterBenchError(Exception):
    """The cluster benchmark could not start its Asterisks, Kamailio or SIPp."""


@dataclass(frozen=True)
class Options:
    calls: int = 400  # per run
    concurrency: int = 20  # calls SIPp keeps up at once
    hold_ms: int = 0  # how long each call stays up after the ACK
    engines: bool = False  # each Asterisk sends its calls to an engine node (`flowengine serve`, a hold flow)


@dataclass
class BenchNode:
    instance: PrivateAsterisk
    info: InstanceInfo
    engine: EngineNode | None = None

    @property
    def pids(self) -> dict[str, int]:
        return {"asterisk": self.info.pid, **({"engine": self.engine.pid} if self.engine else {})}


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes (all their threads) so far."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _group(pgid: int) -> list[int]:
    """Pids of process group `pgid` (Kamailio's main process and the children it forked)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                    pids.append(int(entry))
    return pids


def _calls_processed(instance: PrivateAsterisk) -> int:
    found = CALLS_PROCESSED.search(instance.cli("core show calls"))
    return int(found.group(1)) if found else 0


def _sipp(workdir: Path, target: tuple[str, int], options: Options, tag: str) -> dict[str, Any]:
    """One SIPp run of `options.calls` calls; its own counters (successful, failed) and our wall time."""
    scenario = workdir / "bench-call.xml"
    scenario.write_text(SCENARIO)
    stat = workdir / f"sipp-{tag}.csv"
    try:
        media = media_port(CALLER_IP)
    except SippError as exc:
        raise ClusterBenchError(str(exc)) from None
    args = [*sipp_command(target, scenario, CALLER_IP, media, "1000"),
        "-m", str(options.calls), "-l", str(options.concurrency), "-r", "100000", "-rp", "1000",
        "-d", str(options.hold_ms), "-timeout", "300s", "-trace_stat", "-stf", str(stat), "-fd", "1"]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(args, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=330, check=False)
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    sipp_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    if not stat.exists():
        raise ClusterBenchError(f"sipp wrote no statistics (exit {result.returncode}): {result.stderr[-2000:]}")
    with open(stat, newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    last = rows[-1]
    ok, failed = int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])
    return {"calls_ok": ok, "calls_failed": failed, "seconds": round(seconds, 3),
            "calls_per_second": round(ok / seconds, 1) if seconds > 0 else 0.0, "sipp_cpu_seconds": sipp_cpu}


@contextlib.contextmanager
def _nodes(workdir: Path, count: int, engines: bool) -> Iterator[list[BenchNode]]:
    """`count` Asterisks started at once: answering with a plain dialplan, or (engines) trusting Kamailio into
    their Stasis app, each with its engine node."""
    if engines:
        trust = SipAccounts(trusted=(TrustedPeer("kamailio", KAMAILIO_IP),))
        instances = [PrivateAsterisk(workdir / f"asterisk-{i}", app=f"bench-{i}", sip_accounts=trust)
                     for i in range(count)]
    else:
        instances = [PrivateAsterisk(workdir / f"asterisk-{i}", app=f"bench-{i}", extra_dialplan=BENCH_DIALPLAN,
                                     extra_pjsip=BENCH_PJSIP) for i in range(count)]
    nodes: list[BenchNode] = []
    try:
        with ThreadPoolExecutor(count) as pool:
            infos = list(pool.map(lambda a: a.start(), instances))
        nodes = [BenchNode(instance, info) for instance, info in zip(instances, infos, strict=True)]
        if engines:
            span = 10000 // count
            for i, node in enumerate(nodes):
                node.engine = EngineNode(f"n{i}", node.info, workdir / f"engine-{i}",
                                         (40000 + i * span, 40000 + (i + 1) * span - 1))
            for node in nodes:
                assert node.engine is not None
                node.engine.wait_ready()
        yield nodes
    finally:
        for node in nodes:
            if node.engine is not None:
                node.engine.stop()
        for instance in instances:
            with contextlib.suppress(Exception):
                instance.stop()


def _cpu_by_kind(nodes: list[BenchNode], kamailio: list[int]) -> dict[str, list[float]]:
    kinds: dict[str, list[float]] = {"kamailio": [_cpu_seconds(kamailio)]}
    for node in nodes:
        for kind, pid in node.pids.items():
            kinds.setdefault(kind, []).append(_cpu_seconds([pid]))
    return kinds


def _run_one(workdir: Path, nodes: list[BenchNode], options: Options, tag: str) -> dict[str, Any]:
    """Kamailio in front of `nodes`, SIPp through it; figures plus the CPU each process spent per call."""
    destinations = [Destination(n.info.sip_bind_host, n.info.sip_port, f"n{i}") for i, n in enumerate(nodes)]
    kamailio = PrivateKamailio(workdir / f"kamailio-{tag}", destinations, host=KAMAILIO_IP,
                               probing=Probing(ping_interval=5), log_level=1, shm_mb=512)
    info = kamailio.start()
    try:
        before = [_calls_processed(n.instance) for n in nodes]
        kam_pids = _group(info.pid)
        cpu_before = _cpu_by_kind(nodes, kam_pids)
        figures = _sipp(workdir, (info.host, info.port), options, tag)
        cpu_after = _cpu_by_kind(nodes, kam_pids)
        spread = [_calls_processed(n.instance) - b for n, b in zip(nodes, before, strict=True)]
    finally:
        kamailio.stop()
    ok = max(figures["calls_ok"], 1)
    sipp_cpu = figures.pop("sipp_cpu_seconds")
    cpu: dict[str, Any] = {kind: [round(1000 * (a - b) / ok, 3) for a, b in zip(cpu_after[kind], cpu_before[kind],
                                                                              strict=True)]
                           for kind in cpu_after}
    cpu["kamailio"] = cpu["kamailio"][0]
    cpu["sipp"] = round(1000 * sipp_cpu / ok, 3)
    return {"nodes": len(nodes), **figures, "calls_per_asterisk": spread, "cpu_ms_per_call": cpu}


def run_cluster_bench(options: Options, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Two Asterisks started once; Kamailio to the first alone, then to both; same SIPp load each time."""
    if shutil.which("sipp") is None:
        raise ClusterBenchError("sipp not found: install Debian's sip-tester (`sudo docker/install-asterisk.sh`)")
    with tempfile.TemporaryDirectory(prefix="flowengine-bench-cluster-") as tmp, \
            _nodes(Path(tmp), 2, options.engines) as nodes:
        load_before = os.getloadavg()
        one = _run_one(Path(tmp), nodes[:1], options, "one")
        if log:
            log(f"one node: {one['calls_per_second']} calls/s ({one['calls_ok']} ok, {one['calls_failed']} failed)")
        two = _run_one(Path(tmp), nodes, options, "two")
        if log:
            log(f"two nodes: {two['calls_per_second']} calls/s ({two['calls_ok']} ok, {two['calls_failed']} "
                f"failed), spread {two['calls_per_asterisk']}")
        load_after = os.getloadavg()
    ratio = round(two["calls_per_second"] / one["calls_per_second"], 2) if one["calls_per_second"] else None
    return {"calls": options.calls, "concurrency": options.concurrency, "hold_ms": options.hold_ms,
            "engines": options.engines,
            "one": one, "two": two, "ratio": ratio,
            "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load_after]},
            "machine": machine()}
