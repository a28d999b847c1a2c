"""Streaming recognition over a vendor's WebSocket: one session per call that sends the caller's frames as they
come, keeps a turn's audio until the vendor answers its finalize (replayed once over a new socket if one drops),
and joins the vendor's final segments into the turn's transcript. Vendors say only their frames and messages."""
from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np

from flowengine.providers.cloud import TRANSIENT, CloudClient, describe
from flowengine.providers.stt.base import (
    SAMPLE_RATE,
    STTError,
    STTProvider,
    STTStream,
    Transcript,
    transcribe_by_stream,
)

log = logging.getLogger(__name__)

FINALIZE_TIMEOUT_S = 5.0  # from finalize to the vendor's final result, per socket
CLOSE_TIMEOUT_S = 0.5  # for the vendor's close frame once we sent ours
RETRIES = 1  # reconnects per turn (reset when a turn's final result arrives)
LATE_S = 0.05  # a timed segment ending this close to a finished turn's end belongs to that turn
MAX_MESSAGE = 4 << 20
# Close codes that say "this request is wrong" (protocol, bad data, policy, too big): a replay cannot help
FATAL_CLOSE = frozenset({1002, 1003, 1007, 1008, 1009})
_WRITE_FAILED: tuple[type[BaseException], ...] = (*TRANSIENT, RuntimeError)  # RuntimeError: a closing socket


# What a vendor's message means to the session (`WSStream.parse` returns these)
@dataclass(frozen=True)
class Interim:
    """The vendor's current guess at the words after the last final segment."""

    text: str


@dataclass(frozen=True)
class Final:
    """A segment that will not change. `end_s`: where it ends in the socket's audio (vendors that say so)."""

    text: str
    confidence: float = 0.0
    end_s: float | None = None


@dataclass(frozen=True)
class Flushed:
    """The vendor's answer to the finalize command, with the turn's last segment when the answer carries one."""

    text: str = ""
    confidence: float = 0.0
    end_s: float | None = None


@dataclass(frozen=True)
class SpeechEnded:
    """The vendor's own end-of-speech signal."""


@dataclass(frozen=True)
class Fault:
    """An error the vendor reported: `retry` when a new socket may do better (a server fault, a session limit)."""

    message: str
    retry: bool = False


Event = Interim | Final | Flushed | SpeechEnded | Fault


@dataclass(frozen=True)
class _Out:
    seq: int
    payload: str | bytes
    audio_s: float = 0.0
    flush: bool = False


@dataclass
class _Flush:
    seq: int  # the finalize command's place in the outgoing sequence
    future: asyncio.Future[tuple[str, float]]
    boundary_s: float | None = None  # audio written on the current socket before the command


@dataclass
class _Turn:
    finals: list[str] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    partial: str = ""


class WSStream(STTStream):
    """A vendor's recognition socket. Subclasses set `vendor` and implement `encode`, `finalize_message` and
    `parse` (plus `close_message`/`keepalive_message` where the vendor has them)."""

    vendor = ""
    keepalive_s = 0.0  # send `keepalive_message()` after this long without writing (0: the vendor needs none)
    joiner = " "  # between final segments ("" for vendors whose segments are deltas with their own spaces)
    min_flush_audio_s = 0.0  # pad a turn shorter than this with silence before the finalize command
    unanswered_flush_grace_s: float | None = None  # the vendor may not answer a finalize with nothing to flush:
    # after this long, a turn whose timed finals cover its audio but this much is final without the answer
    unanswered_slack_s = 0.5

    def __init__(self, session: aiohttp.ClientSession, url: str, headers: dict[str, str], *, language: str = "",
                 finalize_timeout_s: float = FINALIZE_TIMEOUT_S, close_timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        super().__init__()
        self.language = language
        self.finalize_timeout_s = finalize_timeout_s
        self._session = session
        self._url = url
        self._headers = headers
        self._ws_timeout = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=close_timeout_s)
        self._out: list[_Out] = []  # since the oldest unanswered finalize: what a new socket replays
        self._seq = 0
        self._written = -1  # seq of the last item written on the current socket
        self._flushes: deque[_Flush] = deque()
        self._turn = _Turn()
        self._turn_s = 0.0  # audio sent since the last finalize
        self._eos_armed = False
        self._signalled_s = -1.0  # how far into the turn's audio its end of speech was last signalled
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._wake = asyncio.Event()
        self._news = asyncio.Event()  # a flush written or a vendor message handled: a finalize may be settled
        self._up = asyncio.Event()  # a socket is open
        self._task: asyncio.Task[None] | None = None
        self._error: STTError | None = None
        self._closed = False
        self._abandon = ""  # why finalize gave up on the current socket
        self._retries = RETRIES
        self._stream_s = 0.0  # audio written on the current socket
        self._covered_s = 0.0  # end of its last timed final segment
        self._finished_s = -1.0  # end of its last finished turn
        self._last_write = 0.0

    # -- what a vendor says
    @abc.abstractmethod
    def encode(self, pcm: np.ndarray) -> str | bytes:
        """One frame of int16 mono 16 kHz as the vendor wants it."""

    @abc.abstractmethod
    def finalize_message(self) -> str | bytes:
        """The command that makes the vendor finish the audio sent so far."""

    @abc.abstractmethod
    def parse(self, text: str) -> list[Event]:
        """A text message -> events ([] for the ones that change nothing). Raise ValueError (or let a KeyError,
        TypeError... escape) for a message that is not the vendor's protocol."""

    def close_message(self) -> str | bytes | None:
        return None

    def keepalive_message(self) -> str | bytes | None:
        return None

    # -- the session
    async def start(self) -> None:
        """Open the first socket: STTError when the vendor refuses the key or cannot be reached after a retry."""
        first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(first), name=f"{self.vendor}-stt")
        try:
            await first
        except BaseException:
            await self.aclose()
            raise

    async def send(self, pcm: np.ndarray) -> None:
        self._check()
        samples = np.asarray(pcm)
        if samples.ndim != 1 or samples.dtype != np.int16:
            raise STTError(f"STT frames must be int16 mono, got {samples.dtype} of shape {samples.shape}")
        if samples.size == 0:  # an empty frame closes some vendors' streams (Deepgram)
            return
        seconds = samples.size / SAMPLE_RATE
        self._turn_s += seconds
        self._append(self.encode(samples), seconds)

    async def finalize(self) -> Transcript:
        self._check()
        loop = asyncio.get_running_loop()
        started = loop.time()
        turn_s, self._turn_s = self._turn_s, 0.0
        if turn_s == 0.0:
            return Transcript("", self.language)
        if turn_s < self.min_flush_audio_s:
            pad = np.zeros(round((self.min_flush_audio_s - turn_s) * SAMPLE_RATE), dtype=np.int16)
            self._append(self.encode(pad), pad.size / SAMPLE_RATE)
        flush = _Flush(self._seq, loop.create_future())
        self._flushes.append(flush)
        self._append(self.finalize_message(), flush=True)
        text, confidence = await self._answer(flush)
        return Transcript(text, self.language, confidence, round(turn_s * 1000), round((loop.time() - started) * 1000))

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        ws = self._ws
        if ws is not None and not ws.closed:
            message = self.close_message()
            if message is not None:
                with contextlib.suppress(*_WRITE_FAILED):
                    await _write(ws, message)
            await ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._fail(STTError(f"the {self.vendor} stream is closed"))

    # -- finalize
    async def _answer(self, flush: _Flush) -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        grace = self.unanswered_flush_grace_s
        if grace is not None:
            await self._await_or_settle(flush, min(grace, self.finalize_timeout_s))
            if not flush.future.done() and self._settled(flush):
                self._finish_turn()
        deadline = loop.time() + self.finalize_timeout_s
        for attempt in range(2):  # this socket, then one new socket replaying the turn
            try:
                return await asyncio.wait_for(asyncio.shield(flush.future), max(0.0, deadline - loop.time()))
            except TimeoutError:
                if attempt == 0 and self._ws is not None and self._retries > 0:
                    await self._give_up_socket(f"gave no final result within {self.finalize_timeout_s:g} s")
                    # the new socket's time starts when it is up (connecting ends in a socket or an error)
                    up = asyncio.ensure_future(self._up.wait())
                    either: list[asyncio.Future[Any]] = [flush.future, up]
                    try:
                        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        up.cancel()
                    deadline = loop.time() + self.finalize_timeout_s
        error = STTError(f"{self.vendor} gave no final result within {self.finalize_timeout_s:g} s")
        self._fail(error)
        await self.aclose()
        raise error

    async def _await_or_settle(self, flush: _Flush, grace: float) -> None:
        """Wait up to `grace` for the vendor's answer to `flush`; a turn whose end of speech the vendor already
        signalled, and whose final segments reach the end of its audio, is finished as soon as that is known
        (measured: waiting out the grace cost every recogniser-ended turn 300 ms)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while not flush.future.done():
            if self._signalled_s >= 0 and self._settled(flush):
                self._finish_turn()
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._news.clear()
            news = asyncio.ensure_future(self._news.wait())
            either: list[asyncio.Future[Any]] = [flush.future, news]
            try:
                await asyncio.wait(either, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                news.cancel()

    def _settled(self, flush: _Flush) -> bool:
        """`flush` is the oldest finalize and the vendor's final segments already cover its audio."""
        return bool(self._flushes) and self._flushes[0] is flush and self._covers(flush)

    def _covers(self, flush: _Flush) -> bool:
        """The turn's timed final segments reach the end of its audio (nothing left for the vendor to flush)."""
        return flush.boundary_s is not None and self._covered_s >= flush.boundary_s - self.unanswered_slack_s

    def _finish_turn(self, text: str = "", confidence: float = 0.0, end_s: float | None = None) -> None:
        """The oldest finalize is answered: its turn's text goes to its caller, its audio is no longer kept."""
        turn = self._turn
        if text:
            turn.finals.append(text)
            turn.confidences.append(confidence)
        flush = self._flushes.popleft()
        joined = self.joiner.join(turn.finals).strip()
        mean = sum(turn.confidences) / len(turn.confidences) if turn.confidences else 0.0
        self._turn = _Turn()
        self.interim = ""
        self._eos_armed = False
        self._signalled_s = -1.0
        if self._out:
            del self._out[:flush.seq - self._out[0].seq + 1]
        if flush.boundary_s is not None:
            self._finished_s = max(flush.boundary_s, end_s or 0.0)
        self._retries = RETRIES
        if not flush.future.done():
            flush.future.set_result((joined, mean))

    # -- the socket
    def _append(self, payload: str | bytes, audio_s: float = 0.0, *, flush: bool = False) -> None:
        self._out.append(_Out(self._seq, payload, audio_s, flush))
        self._seq += 1
        self._wake.set()

    def _check(self) -> None:
        if self._error is not None:
            raise STTError(str(self._error)) from self._error
        if self._closed:
            raise STTError(f"the {self.vendor} stream is closed")

    def _fail(self, error: STTError) -> None:
        if self._error is None:
            self._error = error
        while self._flushes:
            future = self._flushes.popleft().future
            if not future.done():
                future.set_exception(self._error)
                future.exception()  # retrieved here: a finalize awaiting it still raises

    async def _run(self, first: asyncio.Future[None]) -> None:
        try:
            while not self._closed:
                ws = await self._connect()
                if not first.done():
                    first.set_result(None)
                dropped = await self._serve(ws)
                if dropped is None or self._closed:
                    return
                if self._out or self._flushes:
                    self._spend_retry(dropped)
                    log.warning("%s stt: %s; reconnecting to replay %d queued messages", self.vendor, dropped,
                                len(self._out))
                else:  # between turns: a new socket when there is audio again, no retry spent
                    log.info("%s stt: %s between turns", self.vendor, dropped)
                    self._wake.clear()
                    await self._wake.wait()
        except STTError as exc:
            self._fail(exc)
            if not first.done():
                first.set_exception(exc)
        except Exception as exc:  # a bug here must still end the stream with an error the call can report
            log.exception("%s stt session failed", self.vendor)
            error = STTError(f"the {self.vendor} stream failed: {describe(exc)}")
            self._fail(error)
            if not first.done():
                first.set_exception(error)

    def _spend_retry(self, reason: str) -> None:
        if self._retries <= 0:
            raise STTError(f"{self.vendor} {reason}, again after a reconnect")
        self._retries -= 1

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        while True:
            if self._session.closed:
                raise STTError(f"the {self.vendor} provider was closed")
            try:
                return await self._session.ws_connect(self._url, headers=self._headers, timeout=self._ws_timeout,
                                                      max_msg_size=MAX_MESSAGE)
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in (401, 403):
                    raise STTError(f"{self.vendor} refused the API key (HTTP {exc.status})") from None
                if 400 <= exc.status < 500 and exc.status not in (408, 429):
                    raise STTError(f"{self.vendor} refused the stream: HTTP {exc.status}") from None
                reason = f"answered HTTP {exc.status}"
            except TRANSIENT as exc:
                reason = f"could not be reached ({describe(exc)})"
            self._spend_retry(reason)

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> str | None:
        """Read the socket until it ends: None when we closed it, else why it went away. A new socket starts its
        own audio clock and replays everything not yet answered, so what the old one said is forgotten."""
        self._ws, self._abandon = ws, ""
        self._written = self._out[0].seq - 1 if self._out else self._seq - 1
        self._stream_s = self._covered_s = 0.0
        self._finished_s = -1.0
        self._turn = _Turn()
        self.interim = ""
        for flush in self._flushes:
            flush.boundary_s = None
        self._last_write = asyncio.get_running_loop().time()
        writer = asyncio.create_task(self._writer(ws), name=f"{self.vendor}-stt-writer")
        self._up.set()
        reason: str | None = None
        try:
            while reason is None:
                msg = await ws.receive()
                if msg.type is aiohttp.WSMsgType.TEXT:
                    reason = self._handle(msg.data)
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    raise STTError(f"{self.vendor} sent {len(msg.data)} bytes of binary where its protocol has text")
                elif msg.type is aiohttp.WSMsgType.CLOSE:
                    words = " ".join(str(part) for part in (msg.data, msg.extra) if part)
                    if msg.data in FATAL_CLOSE:
                        raise STTError(f"{self.vendor} closed the stream ({words})")
                    reason = f"closed the socket ({words})"
                else:  # CLOSING (our own close), CLOSED, ERROR: the connection is gone
                    lost = ws.exception()
                    reason = f"dropped the socket ({describe(lost) if lost else 'connection lost'})"
        finally:
            self._up.clear()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._ws = None
            if not ws.closed:
                await ws.close()
        return None if self._closed else (self._abandon or reason)

    async def _give_up_socket(self, reason: str) -> None:
        """Close the current socket as a dropped one (the session reconnects and replays the turn)."""
        ws = self._ws
        if ws is not None:
            self._abandon = reason
            self._up.clear()
            await ws.close()

    def _handle(self, text: str) -> str | None:
        """Apply one message: a reason to leave the socket (a vendor fault worth a new one), else None."""
        try:
            events = self.parse(text)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise STTError(f"{self.vendor} sent a message outside its protocol ({describe(exc)}): "
                           f"{text[:120]!r}") from exc
        for event in events:
            if isinstance(event, Interim):
                self._turn.partial = event.text
                self._eos_armed = self._eos_armed or bool(event.text)
            elif isinstance(event, Final):
                if event.end_s is not None:
                    if event.end_s <= self._finished_s + LATE_S:
                        continue  # the late end of a turn already returned
                    self._covered_s = max(self._covered_s, event.end_s)
                if event.text:
                    self._turn.finals.append(event.text)
                    self._turn.confidences.append(event.confidence)
                    self._eos_armed = True
                self._turn.partial = ""
            elif isinstance(event, Flushed):
                if (event.end_s is not None and event.end_s <= self._finished_s + LATE_S) or not self._flushes:
                    continue  # the answer to a finalize already settled by its segments
                self._finish_turn(event.text, event.confidence, event.end_s)
            elif isinstance(event, SpeechEnded):
                # once per stretch of speech, even when a new socket replays audio whose end was signalled
                reached = self._covered_s - max(0.0, self._finished_s)  # the turn's audio the vendor finalized
                if self._eos_armed and self.interim and reached > self._signalled_s + LATE_S:
                    self._eos_armed = False
                    self._signalled_s = reached
                    self._end_of_speech(self.interim)
            elif isinstance(event, Fault):
                if not event.retry:
                    raise STTError(f"{self.vendor}: {event.message}")
                return event.message
            self._refresh_interim()
        self._news.set()
        return None

    def _refresh_interim(self) -> None:
        turn = self._turn
        self.interim = self.joiner.join([*turn.finals, turn.partial]).strip()

    async def _writer(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                item = self._next_out()
                if item is None:
                    self._wake.clear()
                    wait = max(0.01, self._last_write + self.keepalive_s - loop.time()) if self.keepalive_s else None
                    try:
                        await asyncio.wait_for(self._wake.wait(), wait)
                    except TimeoutError:
                        message = self.keepalive_message()
                        if message is not None:
                            await _write(ws, message)
                        self._last_write = loop.time()
                    continue
                await _write(ws, item.payload)
                self._written = item.seq
                self._last_write = loop.time()
                self._stream_s += item.audio_s
                self.sent_ms += round(item.audio_s * 1000)
                if item.flush:
                    for flush in self._flushes:
                        if flush.seq == item.seq:
                            flush.boundary_s = self._stream_s
                    self._news.set()
        except _WRITE_FAILED as exc:  # the reader sees the socket end and decides
            log.debug("%s stt: write failed: %s", self.vendor, describe(exc))
            await ws.close()

    def _next_out(self) -> _Out | None:
        if not self._out:
            return None
        index = max(0, self._written + 1 - self._out[0].seq)
        return self._out[index] if index < len(self._out) else None


async def _write(ws: aiohttp.ClientWebSocketResponse, payload: str | bytes) -> None:
    if isinstance(payload, bytes):
        await ws.send_bytes(payload)
    else:
        await ws.send_str(payload)


class WSRecogniser(CloudClient, STTProvider):
    """A streaming provider: `open_stream` makes its `stream_class` on the vendor's socket URL; `transcribe`
    runs one stream over a finished utterance."""

    streaming = True
    default_base = ""  # the vendor's https:// base (the configured base_url replaces it)

    def __init__(self, *, finalize_timeout_s: float = FINALIZE_TIMEOUT_S) -> None:
        CloudClient.__init__(self)
        self.finalize_timeout_s = finalize_timeout_s

    @abc.abstractmethod
    def make_stream(self, language: str, keywords: tuple[str, ...]) -> WSStream:
        """The vendor's stream, not yet connected."""

    async def open_stream(self, *, language: str = "", keywords: tuple[str, ...] = ()) -> WSStream:
        stream = self.make_stream(language, keywords)
        await stream.start()
        return stream

    async def transcribe(self, pcm: np.ndarray, *, language: str = "") -> Transcript:
        return await transcribe_by_stream(self, pcm, language=language)
