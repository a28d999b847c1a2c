"""How an HTTP fake sends a long answer: in chunks paced by the faults, broken off by an injected drop, and
noting when the client hung up first (barge-in, cancellation)."""
from __future__ import annotations

import asyncio

from aiohttp import web

from flowengine.bench.fakes.server import FakeServer, Recorded
from flowengine.bench.fakes.voice import VoiceRecord


async def stream_answer(fake: FakeServer, request: web.Request, entry: Recorded, payload: bytes, *,
                        content_type: str, chunk_bytes: int) -> web.StreamResponse:
    """`payload` as a chunked answer: the first chunk at once, then one per `Faults.chunk_delay_s`. Each chunk
    sent is recorded (`entry.messages`: its size, `entry.audio_bytes`; a VoiceRecord also counts chunks sent,
    finished, and any sent after the client left); `entry.closed_by_client` when the client left before the end."""
    loop = asyncio.get_running_loop()
    response = web.StreamResponse(headers={"Content-Type": content_type})
    response.enable_chunked_encoding()
    finished = False
    voice = entry if isinstance(entry, VoiceRecord) else None
    if voice is not None:
        voice.chunks_total = -(-len(payload) // chunk_bytes)
    try:
        await response.prepare(request)
        for sent, start in enumerate(range(0, len(payload), chunk_bytes)):
            if fake.drop_now(sent):
                finished = True  # the server broke it, not the client
                if request.transport is not None:
                    request.transport.abort()  # no last chunk: the client sees a truncated answer
                return response
            if sent:
                await fake.pace()
            chunk = payload[start:start + chunk_bytes]
            await response.write(chunk)
            entry.messages.append(len(chunk))
            entry.audio_bytes += len(chunk)
            if voice is not None:
                voice.chunks_sent += 1
                voice.sent_after_close += request.transport is None or request.transport.is_closing()
        await response.write_eof()
        finished = True
        if voice is not None:
            voice.finished = True
    except ConnectionError:
        pass  # the client went away mid-write (marked below)
    finally:
        entry.closed_by_client = not finished
        entry.closed_at = loop.time()
    return response
