"""What the streaming recogniser fakes share: one WebSocket per session fed to a Listener, interim guesses while
speech goes on, scripted finals, and the faults (latency, drops, garbage, an idle close) applied the same way."""
from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from flowengine.bench.fakes.listener import Listener
from flowengine.bench.fakes.server import FakeServer, Faults, Recorded

INTERIM_EVERY = 5  # frames of speech between two interim results
GARBAGE = "<html><body>502 Bad Gateway</body></html>"


class Dropped(Exception):
    """The fake broke the connection on purpose (Faults.drop_after)."""


@dataclass
class Session:
    """One client socket."""

    request: web.Request
    ws: web.WebSocketResponse
    entry: Recorded
    listener: Listener
    sent: int = 0  # messages sent to the client
    speech_frames: int = 0  # speech frames since the last final
    final_end_s: float = 0.0  # stream time the last final result ends at
    uncommitted: list[str] = field(default_factory=list)  # lines given as finals since the last flush answer
    committed_s: float = 0.0  # stream time of the last flush answer
    speaking: bool = False
    closing: bool = False  # the fake closes this socket itself

    @property
    def now_s(self) -> float:
        return self.listener.audio_ms / 1000


class FakeSTTSocket(FakeServer):
    """A recogniser socket at `path`. Subclasses check the vendor's key header, shape its messages and answer its
    commands; `script` holds the lines it 'recognises', one per caller turn."""

    path = ""

    def __init__(self, *, api_key: str = "test-key", faults: Faults | None = None, script: Iterable[str] = (),
                 idle_limit_s: float = 10.0, endpointing_ms: int = 300) -> None:
        super().__init__(api_key=api_key, faults=faults)
        self.script: deque[str] = deque(script)
        self.idle_limit_s = idle_limit_s  # close a socket nothing arrived on for this long
        self.endpointing_ms = endpointing_ms

    def routes(self, app: web.Application) -> None:
        app.router.add_get(self.path, self._socket)

    # -- vendor hooks
    async def opened(self, session: Session) -> None:
        """Right after the upgrade (ElevenLabs announces its session)."""

    def audio(self, session: Session, message: Any) -> bytes | None:
        """The PCM a client message carries (binary frames by default); None for a command."""
        return message if isinstance(message, bytes) else None

    async def command(self, session: Session, message: Any) -> None:
        """A client message that is not audio (parsed JSON, or text)."""

    async def interim(self, session: Session, text: str) -> None:
        """An interim result while the caller speaks (every INTERIM_EVERY frames of speech)."""

    async def speech_started(self, session: Session) -> None:
        """The Listener heard speech start."""

    async def speech_ended(self, session: Session) -> None:
        """The Listener's endpointing silence was reached after speech."""

    async def idle_close(self, session: Session) -> None:
        await self.close(session, 1011, "idle")

    # -- helpers for the hooks
    def peek(self, session: Session) -> str:
        """The interim guess: the first words of the line this turn will give, more as speech goes on."""
        line = self.script[0] if self.script else "hello"
        words = line.split()
        return " ".join(words[:1 + session.speech_frames // (INTERIM_EVERY * 3)])

    def take(self, session: Session) -> str:
        """The turn's line (when speech was heard since the last one), remembered until a flush answer commits it."""
        text = session.listener.take()
        session.speech_frames = 0
        if text:
            session.uncommitted.append(text)
        return text

    async def send(self, session: Session, message: dict[str, Any], *, answer: bool = False) -> None:
        """One message to the client (`answer`: to a flush, after the injected latency). Faults: pacing, garbage
        instead of the message, and an abrupt drop after Faults.drop_after messages."""
        if answer and self.faults.latency_s:
            await asyncio.sleep(self.faults.latency_s)
        await self.pace()
        await session.ws.send_str(GARBAGE if self.faults.garbage else json.dumps(message))
        session.sent += 1
        if self.drop_now(session.sent):
            # the turn was not committed for this client: a new socket replaying it is recognised the same
            self.script.extendleft(reversed(session.uncommitted))
            session.uncommitted.clear()
            transport = session.request.transport
            if transport is not None:
                transport.abort()
            raise Dropped

    def committed(self, session: Session) -> None:
        session.uncommitted.clear()
        session.committed_s = session.now_s

    async def close(self, session: Session, code: int, reason: str) -> None:
        session.closing = True
        await session.ws.close(code=code, message=reason.encode())
        session.entry.closed_at = asyncio.get_running_loop().time()

    # -- the socket
    async def _socket(self, request: web.Request) -> web.StreamResponse:
        answer = await self.refused(request)
        if answer is not None:
            self.record(request, {"refused": answer.status})
            return answer
        entry = self.record(request)
        ws = web.WebSocketResponse(autoping=True, max_msg_size=16 << 20)
        await ws.prepare(request)
        session = Session(request, ws, entry, Listener(script=self.script, endpointing_ms=self.endpointing_ms))
        try:
            await self.opened(session)
            await self._serve(session)
        except Dropped:
            entry.closed_at = asyncio.get_running_loop().time()
        except ConnectionError:  # the client went away while we were answering
            entry.closed_by_client = True
            entry.closed_at = asyncio.get_running_loop().time()
        except asyncio.CancelledError:  # ... and aiohttp cancelled the handler (or the fake is stopping)
            entry.closed_by_client = entry.closed_by_client or not session.closing
            entry.closed_at = asyncio.get_running_loop().time()
            raise
        return ws

    async def _serve(self, session: Session) -> None:
        ws, entry = session.ws, session.entry
        while not session.closing:
            try:
                msg = await ws.receive(timeout=self.idle_limit_s)
            except TimeoutError:
                await self.idle_close(session)
                return
            if msg.type is WSMsgType.BINARY:
                entry.messages.append(msg.data)
                await self._audio(session, msg.data)
            elif msg.type is WSMsgType.TEXT:
                try:
                    message: Any = json.loads(msg.data)
                except ValueError:
                    message = msg.data
                entry.messages.append(message)
                pcm = self.audio(session, message)
                if pcm is None:
                    await self.command(session, message)
                else:
                    await self._audio(session, pcm)
            else:  # the client closed (or lost) the socket
                entry.closed_by_client = not session.closing
                entry.closed_at = asyncio.get_running_loop().time()
                return

    async def _audio(self, session: Session, data: bytes) -> None:
        if len(data) % 2:
            await self.undecodable(session)
            return
        session.entry.audio_bytes += len(data)
        pcm = np.frombuffer(data, dtype="<i2")
        for event in session.listener.feed(pcm):
            if event == "speech_started":
                session.speaking = True
                await self.speech_started(session)
            else:
                session.speaking = False
                await self.speech_ended(session)
        if session.speaking:
            before = session.speech_frames
            session.speech_frames += max(1, pcm.size // 320)
            if session.speech_frames // INTERIM_EVERY > before // INTERIM_EVERY:
                await self.interim(session, self.peek(session))

    async def undecodable(self, session: Session) -> None:
        await self.close(session, 1003, "undecodable audio")
