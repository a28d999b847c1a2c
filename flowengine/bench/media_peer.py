"""Benchmark peer: a separate process playing Asterisk's side of N externalMedia RTP streams."""
from __future__ import annotations

import contextlib
import math
import resource
import select
import socket
import struct
import time
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
from scipy.signal import lfilter

from flowengine.media.g711 import ulaw_encode

# Linux SO_TIMESTAMPNS: the kernel stamps each datagram when it enters the socket, so arrival
# times do not include this process's own scheduling delays (socket module lacks the name).
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("@qq")
_HEADER = struct.Struct("!BBHII")
PERIOD = 0.020
# Streams send in this many groups spread over the 20 ms period, as independent Asterisk
# bridges would, instead of one burst of N packets.
GROUPS = 4
# How the peer reads: `wake` sleeps on its sockets (epoll), so on loopback each of the engine's
# sendto calls also wakes this process, as Asterisk's channel threads would be woken; `tick`
# sleeps until its next send slot and then drains what arrived, so the engine's sends wake
# nobody. Arrival times come from kernel stamps either way.
DRAIN_MODES = ("wake", "tick")
RUN_TAIL = 0.3  # seconds of receiving after sending stops
MAX_SECONDS = 600.0


def speech_like_frames() -> list[bytes]:
    """2 s of u-law frames: 1 s of a voiced, vowel-like signal, then 1 s of near silence."""
    rate = 8000
    t = np.arange(rate) / rate
    voiced = sum((0.5**k) * np.sin(2 * np.pi * 140 * k * t) for k in range(1, 12))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)  # syllable-rate modulation
    voice = (voiced * envelope * 6000).astype(np.int16)
    quiet = (np.random.default_rng(7).standard_normal(rate) * 20).astype(np.int16)
    pcm = np.concatenate((voice, quiet))
    data = ulaw_encode(pcm)
    return [data[i : i + 160] for i in range(0, len(data), 160)]


def percentile(values: np.ndarray[Any, np.dtype[np.float64]], q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else math.nan


def open_sockets(streams: int) -> list[socket.socket]:
    """`streams` non-blocking UDP sockets on loopback, each asking the kernel to stamp what arrives."""
    socks = []
    for _ in range(streams):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        socks.append(sock)
    return socks


class Arrivals:
    """The receiving side of the streams' sockets: every RTP packet's arrival time (kernel stamp, ns), RTP
    timestamp and sequence number, per stream; the engine's send jitter and losses come from them."""

    def __init__(self, socks: list[socket.socket]) -> None:
        self.socks = socks
        self.stamps: list[list[int]] = [[] for _ in socks]
        self.rtp_ts: list[list[int]] = [[] for _ in socks]
        self.rtp_seq: list[list[int]] = [[] for _ in socks]
        self._cmsg_size = socket.CMSG_SPACE(_TIMESPEC.size)
        self._poller = select.epoll()
        self._index_of: dict[int, int] = {}
        for i, sock in enumerate(socks):
            self._poller.register(sock.fileno(), select.EPOLLIN)
            self._index_of[sock.fileno()] = i

    def ready(self, timeout: float) -> list[int]:
        """The streams with something to read, waiting up to `timeout` s for one."""
        return [self._index_of[fd] for fd, _ in self._poller.poll(timeout)]

    def close(self) -> None:
        self._poller.close()

    def drain(self, i: int) -> list[tuple[int, bytes]]:
        """Read all that waits on stream `i`'s socket; record each RTP packet, return them as (arrival, packet)."""
        got: list[tuple[int, bytes]] = []
        sock = self.socks[i]
        while True:
            try:
                data, ancdata, _, _ = sock.recvmsg(2048, self._cmsg_size)
            except BlockingIOError:
                return got
            if len(data) < 12:
                continue
            stamp = time.time_ns()
            for level, kind, value in ancdata:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = _TIMESPEC.unpack_from(value)
                    stamp = sec * 1_000_000_000 + nsec
            _, _, seq, ts, _ = _HEADER.unpack_from(data)
            self.stamps[i].append(stamp)
            self.rtp_ts[i].append(ts)
            self.rtp_seq[i].append(seq)
            got.append((stamp, data))

    def stats(self, rate: float, window: tuple[int, int]) -> dict[str, Any]:
        """Received, lost, late and send jitter of the packets whose arrival (wall ns) falls in `window`;
        `rate`: wall ns per monotonic ns over the run."""
        return _arrival_stats(self.stamps, self.rtp_ts, self.rtp_seq, rate, window)


def run_peer(conn: Connection, streams: int, warmup: float, seconds: float, drain: str = "wake") -> None:
    """Process entry point. Protocol: send our ports, receive the engine's, run, send a report."""
    socks = open_sockets(streams)
    conn.send([s.getsockname()[1] for s in socks])
    engine_ports: list[int] = conn.recv()
    report = _run(socks, engine_ports, warmup, min(seconds, MAX_SECONDS), sleep_on_sockets=drain == "wake")
    for sock in socks:
        sock.close()
    conn.send(report)


def _run(
    socks: list[socket.socket], engine_ports: list[int], warmup: float, seconds: float, *, sleep_on_sockets: bool
) -> dict[str, Any]:
    streams = len(socks)
    frames = speech_like_frames()
    addrs = [("127.0.0.1", port) for port in engine_ports]
    seqs = [(i * 7919) & 0xFFFF for i in range(streams)]
    arrivals = Arrivals(socks)
    sent = 0
    send_errors = 0
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    mono0, real0 = time.monotonic_ns(), time.time_ns()
    start = time.monotonic()
    send_end = start + warmup + seconds + 0.1
    stop = send_end + RUN_TAIL
    slot = PERIOD / GROUPS
    k = 0
    while True:
        now = time.monotonic()
        if now >= stop:
            break
        deadline = start + k * slot
        if now >= deadline and now < send_end:
            group, tick = k % GROUPS, k // GROUPS
            payload = frames[tick % len(frames)]
            for i in range(group, streams, GROUPS):
                header = _HEADER.pack(0x80, 0, seqs[i], (tick * 160) & 0xFFFFFFFF, 0x10000 + i)
                seqs[i] = (seqs[i] + 1) & 0xFFFF
                try:
                    socks[i].sendto(header + payload, addrs[i])
                    sent += 1
                except OSError:
                    send_errors += 1
            k += 1
            continue
        timeout = max(0.0, (deadline if now < send_end else stop) - now)
        if not sleep_on_sockets:
            time.sleep(timeout)
            timeout = 0.0
        for i in arrivals.ready(timeout):
            arrivals.drain(i)
    mono1, real1 = time.monotonic_ns(), time.time_ns()
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    arrivals.close()
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    # Kernel stamps use the wall clock; correct a possible NTP slew over the run.
    rate = (real1 - real0) / max(1, mono1 - mono0)
    window = (real0 + int(warmup * 1e9), real0 + int((warmup + seconds) * 1e9))
    stats = arrivals.stats(rate, window)
    stats.update(sent=sent, send_errors=send_errors, cpu_seconds=cpu, wall_seconds=(mono1 - mono0) / 1e9)
    return stats


def _arrival_stats(
    stamps: list[list[int]],
    rtp_ts: list[list[int]],
    rtp_seq: list[list[int]],
    rate: float,
    window: tuple[int, int],
) -> dict[str, Any]:
    """Send jitter of the engine, from arrival times against the ideal 20 ms schedule.

    Per stream, packet k's slot comes from its RTP timestamp (which advances 160 per tick even
    when a tick sends nothing); its lateness is arrival - slot * 20 ms, relative to the
    stream's earliest packet (the engine never sends early, so the minimum is its schedule).
    A stream's fixed place in the tick's send order therefore cancels out; what remains is
    the variation the caller would hear.
    """
    jitter: list[np.ndarray[Any, np.dtype[np.float64]]] = []
    interarrival: list[np.ndarray[Any, np.dtype[np.float64]]] = []
    received = lost = late = 0
    for t_list, ts_list, seq_list in zip(stamps, rtp_ts, rtp_seq, strict=True):
        if not t_list:
            continue
        t = np.array(t_list, dtype=np.int64)
        ts = np.array(ts_list, dtype=np.int64)
        seq = np.array(seq_list, dtype=np.int64)
        received += len(t)
        slots = ((ts - ts[0] + 2**31) % 2**32 - 2**31) / 160.0
        unwrapped = np.cumsum(np.concatenate(([0], (np.diff(seq) + 2**15) % 2**16 - 2**15)))
        lost += int(unwrapped.max() - unwrapped.min() + 1 - len(np.unique(unwrapped)))
        late += int(np.sum(unwrapped < np.maximum.accumulate(unwrapped)))
        inside = (t >= window[0]) & (t < window[1])
        if inside.sum() < 2:
            continue
        arrival = (t - t[0]) / rate / 1e6  # ms since the first packet
        lateness = arrival - slots * PERIOD * 1000
        lateness = lateness[inside]
        jitter.append(lateness - lateness.min())
        interarrival.append(rfc3550_jitter(lateness))
    values = np.concatenate(jitter) if jitter else np.zeros(0)
    smoothed = np.concatenate(interarrival) if interarrival else np.zeros(0)
    return {
        "received": received,
        "lost": lost,
        "late": late,
        "jitter_ms": {
            "p50": percentile(values, 50),
            "p99": percentile(values, 99),
            "p999": percentile(values, 99.9),
            "max": float(values.max()) if len(values) else math.nan,
        },
        "rfc3550_jitter_ms": {
            "p50": percentile(smoothed, 50),
            "p99": percentile(smoothed, 99),
            "max": float(smoothed.max()) if len(smoothed) else math.nan,
        },
    }


def rfc3550_jitter(lateness: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """RFC 3550 section 6.4.1 interarrival jitter after each packet (what Asterisk's RTCP reports).

    `lateness` is arrival minus RTP-timestamp time per packet in arrival order, so the
    transit difference D(i-1, i) is its first difference; J += (|D| - J) / 16.
    """
    d = np.abs(np.diff(lateness))
    # J[i] = 15/16 J[i-1] + |D[i]| / 16, from J = 0: a one-pole filter.
    out: np.ndarray[Any, np.dtype[np.float64]] = lfilter([1 / 16], [1.0, -15 / 16], d)
    return out
