"""What the fake voices share: the audio a text 'says' in the format asked for, cut into chunks, a record that
counts what was sent (and anything sent after the client went away), and a paced chunked HTTP answer."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from flowengine.bench.fakes.server import FakeServer, Recorded, speech_seconds, tone
from flowengine.media.g711 import ulaw_encode

CHUNK_SECONDS = 0.25  # of audio per streamed chunk: a 1 s sentence arrives in 4


@dataclass
class VoiceRecord(Recorded):
    """A Recorded request/socket of a voice, with what the fake sent of the sentence."""

    chunks_total: int = 0  # the chunks the sentence is cut into
    chunks_sent: int = 0
    finished: bool = False  # every chunk and the end marker were sent
    sent_after_close: int = 0  # chunks written after the client had gone away (must stay 0)
    cancelled: bool = False  # the client cancelled the generation with the protocol's cancel message


def record(fake: FakeServer, request: web.Request, body: Any = None) -> VoiceRecord:
    entry = VoiceRecord(request.path, dict(request.query), dict(request.headers), body)
    fake.requests.append(entry)
    return entry


def spoken(text: str, encoding: str, rate: int) -> bytes:
    """A tone as long as `text` takes to say, as `encoding` ("mulaw" or "s16le") at `rate`."""
    pcm = tone(speech_seconds(text), rate)
    return ulaw_encode(pcm) if encoding == "mulaw" else pcm.astype("<i2").tobytes()


def cut(audio: bytes, encoding: str, rate: int) -> list[bytes]:
    size = int(CHUNK_SECONDS * rate) * (1 if encoding == "mulaw" else 2)
    return [audio[i:i + size] for i in range(0, len(audio), size)]


def closed_by_client(entry: VoiceRecord) -> None:
    entry.closed_by_client = True
    entry.closed_at = asyncio.get_running_loop().time()


async def stream_http(fake: FakeServer, request: web.Request, entry: VoiceRecord, pieces: list[bytes],
                      content_type: str, frame: Callable[[bytes], bytes] = bytes) -> web.StreamResponse:
    """A 200 with a chunked body: each piece framed by `frame`, paced by the faults' chunk delay; the faults'
    drop cuts the connection after N pieces; a client going away (barge-in) ends the handler at once (aiohttp
    cancels it) and is recorded."""
    entry.chunks_total = len(pieces)
    response = web.StreamResponse(headers={"Content-Type": content_type})
    await response.prepare(request)
    try:
        for piece in pieces:
            if fake.drop_now(entry.chunks_sent):
                assert request.transport is not None
                request.transport.abort()
                entry.closed_at = asyncio.get_running_loop().time()
                return response
            if _gone(request):
                closed_by_client(entry)
                return response
            await response.write(frame(piece))
            entry.chunks_sent += 1
            entry.audio_bytes += len(piece)
            entry.sent_after_close += _gone(request)  # the client left during the write
            await fake.pace()
        await response.write_eof()
        entry.finished = True
        entry.closed_at = asyncio.get_running_loop().time()
    except (asyncio.CancelledError, ConnectionResetError):
        closed_by_client(entry)
        raise
    return response


def _gone(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


def garbage_page() -> web.Response:
    """A 200 that is not the protocol: a proxy's HTML page where audio should be."""
    return web.Response(status=200, text="<html><body>502 Bad Gateway</body></html>", content_type="text/html")


async def send_ws(fake: FakeServer, request: web.Request, ws: web.WebSocketResponse, entry: VoiceRecord,
                  pieces: list[bytes], frame: Callable[[bytes], str]) -> bool:
    """Each piece as the text message `frame` makes of it, paced by the faults' chunk delay; the faults' drop
    cuts the connection after N pieces, garbage replaces each message. False when cut short (a drop, or the
    client went away: nothing more is sent then)."""
    entry.chunks_total += len(pieces)
    for piece in pieces:
        if fake.drop_now(entry.chunks_sent):
            assert request.transport is not None
            request.transport.abort()
            entry.closed_at = asyncio.get_running_loop().time()
            return False
        if ws.closed or entry.closed_by_client:
            return False
        try:
            await ws.send_str("\x00 this is not the protocol {" if fake.faults.garbage else frame(piece))
        except ConnectionError:
            return False
        entry.chunks_sent += 1
        entry.audio_bytes += len(piece)
        entry.sent_after_close += ws.closed or entry.closed_by_client  # the client left during the send
        await fake.pace()
    return True
