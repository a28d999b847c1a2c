"""Capacity benchmark peer: a separate process playing N callers' RTP (scripted turns) and timing the agents' replies."""
from __future__ import annotations

import random
import resource
import socket
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from flowengine.bench.media_peer import _HEADER, GROUPS, PERIOD, Arrivals, open_sockets, speech_like_frames
from flowengine.media.g711 import ulaw_decode

MAX_SECONDS = 600.0
# A frame carries the agent's voice when this many of its 160 samples are louder than LOUD_LEVEL (the agent
# sends u-law silence between replies: a phone's stream never stops)
LOUD_LEVEL = 1000
LOUD_SAMPLES = 8
_LOUD = bytes(1 if abs(int(v)) > LOUD_LEVEL else 0 for v in ulaw_decode(bytes(range(256))))


@dataclass(frozen=True)
class Script:
    """What every caller does: speak `burst_frames` x 20 ms, wait for the agent's answer (at most `answer_timeout_s`),
    listen until it has been quiet `quiet_s`, pause `gap_s` (a random value in the range), speak again. The first
    turn of each caller starts at a random time within `stagger_s` after `first_turn_s`, so calls do not speak in
    step."""

    burst_frames: int = 40
    answer_timeout_s: float = 5.0
    quiet_s: float = 0.4
    gap_s: tuple[float, float] = (0.3, 0.8)
    first_turn_s: float = 0.5
    stagger_s: float = 3.0
    seed: int = 11


GAP, SPEAKING, WAITING, LISTENING = range(4)


def loud(payload: bytes) -> bool:
    """The u-law payload carries speech energy (a table lookup per byte in C: cheap at 10 000 packets/s)."""
    return payload.translate(_LOUD).count(1) >= LOUD_SAMPLES


def run_callers(conn: Connection, streams: int, warmup: float, seconds: float, script: Script) -> None:
    """Process entry point. Protocol: send our ports, receive the engine's, run, send a report."""
    socks = open_sockets(streams)
    conn.send([s.getsockname()[1] for s in socks])
    engine_ports: list[int] = conn.recv()
    try:
        report = _run(socks, engine_ports, warmup, min(seconds, MAX_SECONDS), script)
    finally:
        for sock in socks:
            sock.close()
    conn.send(report)


def _run(socks: list[socket.socket], engine_ports: list[int], warmup: float, seconds: float,
         script: Script) -> dict[str, Any]:
    streams = len(socks)
    frames = speech_like_frames()
    burst = frames[: min(script.burst_frames, len(frames) // 2)]
    quiet = frames[len(frames) // 2:]
    rng = random.Random(script.seed)
    addrs = [("127.0.0.1", port) for port in engine_ports]
    seqs = [(i * 7919) & 0xFFFF for i in range(streams)]
    arrivals = Arrivals(socks)
    start = time.monotonic()
    real0 = time.time_ns()
    mono0 = time.monotonic_ns()
    window = (real0 + int(warmup * 1e9), real0 + int((warmup + seconds) * 1e9))
    phase = [GAP] * streams
    next_turn = [start + script.first_turn_s + rng.uniform(0, script.stagger_s) for _ in range(streams)]
    position = [0] * streams
    ended_ns = [0] * streams  # wall time the caller's last burst frame left (kernel stamps are wall time too)
    last_loud_ns = [0] * streams
    give_up = [0.0] * streams
    v2v: list[tuple[int, float]] = []  # (caller, ms) of the turns that ended inside the window
    unanswered = turns = 0
    sent = send_errors = 0
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    send_end = start + warmup + seconds
    hard_stop = send_end + script.answer_timeout_s + script.quiet_s + 1.0
    slot = PERIOD / GROUPS
    quiet_ns = int(script.quiet_s * 1e9)
    k = 0
    while True:
        now = time.monotonic()
        busy = any(p in (SPEAKING, WAITING) for p in phase) if now >= send_end else True
        if now >= hard_stop or not busy:
            break
        deadline = start + k * slot
        if now >= deadline:
            group, tick = k % GROUPS, k // GROUPS
            for i in range(group, streams, GROUPS):
                state = phase[i]
                if state == GAP and now >= next_turn[i] and now < send_end:
                    phase[i] = state = SPEAKING
                    position[i] = 0
                if state == SPEAKING:
                    payload = burst[position[i]]
                    position[i] += 1
                else:
                    payload = quiet[tick % len(quiet)]
                header = _HEADER.pack(0x80, 0, seqs[i], (tick * 160) & 0xFFFFFFFF, 0x20000 + i)
                seqs[i] = (seqs[i] + 1) & 0xFFFF
                try:
                    socks[i].sendto(header + payload, addrs[i])
                    sent += 1
                except OSError:
                    send_errors += 1
                if state == SPEAKING and position[i] == len(burst):
                    ended_ns[i] = time.time_ns()
                    phase[i] = WAITING
                    give_up[i] = now + script.answer_timeout_s
                    turns += 1
                elif state == WAITING and now > give_up[i]:
                    unanswered += window[0] <= ended_ns[i] < window[1]
                    phase[i] = GAP
                    next_turn[i] = now + rng.uniform(*script.gap_s)
                elif state == LISTENING and time.time_ns() - last_loud_ns[i] > quiet_ns:
                    phase[i] = GAP
                    next_turn[i] = now + rng.uniform(*script.gap_s)
            k += 1
            continue
        for i in arrivals.ready(max(0.0, deadline - now)):
            for stamp, data in arrivals.drain(i):
                if phase[i] in (WAITING, LISTENING) and loud(data[12:]):
                    if phase[i] == WAITING and stamp > ended_ns[i]:
                        if window[0] <= ended_ns[i] < window[1]:
                            v2v.append((i, (stamp - ended_ns[i]) / 1e6))
                        phase[i] = LISTENING
                    last_loud_ns[i] = stamp
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    mono1, real1 = time.monotonic_ns(), time.time_ns()
    arrivals.close()
    rate = (real1 - real0) / max(1, mono1 - mono0)
    stats = arrivals.stats(rate, window)
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    return {
        "v2v": v2v,
        "turns_started": turns,
        "unanswered": unanswered,
        "sent": sent,
        "send_errors": send_errors,
        "received": stats["received"],
        "lost": stats["lost"],
        "late": stats["late"],
        "send_jitter_ms": stats["jitter_ms"],
        "cpu_seconds": cpu,
        "wall_seconds": (mono1 - mono0) / 1e9,
    }
