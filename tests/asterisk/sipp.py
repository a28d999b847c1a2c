"""SIPp as the tests' outside softphone: runs a scenario of tests/fixtures/sipp, hears the far end's RTP."""
from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flowengine.asterisk.sipp import media_port, sipp_command
from flowengine.media.g711 import alaw_decode, ulaw_decode
from flowengine.media.rtp import RtpPacket

SCENARIOS = Path(__file__).parents[1] / "fixtures" / "sipp"
AUDIBLE_RMS = 300.0  # int16 RMS of a 20 ms frame (8 kHz): speech, not comfort noise or silence
RESPONSE = re.compile(r"^SIP/2\.0 (\d{3}) ", re.MULTILINE)
CALL_ID = re.compile(r"^Call-ID: (.+)$", re.MULTILINE)


@dataclass
class SippResult:
    returncode: int
    responses: list[int]  # status codes of the responses SIPp received, in order
    messages: str  # the SIP messages it sent and received (-trace_msg), for failure reports

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def call_id(self) -> str:
        found = CALL_ID.search(self.messages)
        return found.group(1).strip() if found else ""


class RtpEar(asyncio.DatagramProtocol):
    """The softphone's RTP socket: decodes what the far end sends (G.711 at 8 kHz)."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.garbage = 0

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            packet = RtpPacket.parse(data)
        except ValueError:
            self.garbage += 1
            return
        if packet.payload_type in (0, 8):
            decode = ulaw_decode if packet.payload_type == 0 else alaw_decode
            self.frames.append(np.asarray(decode(packet.payload), dtype=np.int16))

    def audible_seconds(self) -> float:
        """How long the far end spoke: 20 ms frames loud enough to be speech."""
        loud = [f for f in self.frames if f.size and np.sqrt(np.mean(f.astype(np.float64) ** 2)) > AUDIBLE_RMS]
        return 0.02 * len(loud)

    def pcm(self) -> np.ndarray:
        return np.concatenate(self.frames) if self.frames else np.zeros(0, np.int16)


@dataclass
class Softphone:
    """One SIP identity run by SIPp from `local_ip` (any 127.x address on loopback) against `server`."""

    server: tuple[str, int]
    user: str
    password: str = ""
    local_ip: str = "127.0.0.1"
    workdir: Path = field(default_factory=lambda: Path("."))

    async def run(self, scenario: str, *, extension: str = "1000", call_ms: int = 3000,
                  rtp_port: int = 0, timeout: float = 60.0, recv_timeout_ms: int = 10000) -> SippResult:
        """Run `scenario` (a file name in tests/fixtures/sipp) for one call; `rtp_port` is where the SDP
        says this phone listens; `recv_timeout_ms` is how long it waits for each message it expects."""
        media = media_port(self.local_ip)
        log = self.workdir / f"sipp-{scenario}-{self.user}-{media}.log"
        args = [*sipp_command(self.server, SCENARIOS / scenario, self.local_ip, media, extension, recv_timeout_ms),
                "-bind_local", "-m", "1", "-key", "user", self.user, "-key", "rtp_port", str(rtp_port or media),
                "-d", str(call_ms), "-trace_msg", "-message_file", str(log)]
        if self.password:
            args += ["-au", self.user, "-ap", self.password]
        proc = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.PIPE, cwd=self.workdir)
        try:
            _, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        messages = log.read_text(errors="replace") if log.exists() else err.decode(errors="replace")
        received = "\n".join(part for part in messages.split("----") if "message received" in part)
        return SippResult(proc.returncode or 0, [int(code) for code in RESPONSE.findall(received)],
                          messages + err.decode(errors="replace"))

    @contextlib.asynccontextmanager
    async def ear(self) -> AsyncIterator[tuple[RtpEar, int]]:
        """An RTP socket on this phone's address; yields it and its port."""
        loop = asyncio.get_running_loop()
        transport, ear = await loop.create_datagram_endpoint(RtpEar, local_addr=(self.local_ip, 0))
        try:
            yield ear, transport.get_extra_info("sockname")[1]
        finally:
            transport.close()

