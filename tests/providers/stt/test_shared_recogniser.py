"""One recogniser instance serves every call of the process: more streams at once than aiohttp's default pool."""
from __future__ import annotations

import asyncio

from flowengine.bench.fakes.deepgram_stt import FakeDeepgramSTT
from flowengine.providers.cloud import CONNECT_TIMEOUT_S
from flowengine.providers.stt.deepgram import DeepgramSTT
from tests.providers.stt.conftest import MakeRecogniser
from tests.providers.stt.streams import say

CALLS = 130  # aiohttp's default connector holds 100 connections; each stream keeps one for its call


async def test_more_concurrent_streams_than_the_default_connection_pool(recogniser: MakeRecogniser) -> None:
    async with FakeDeepgramSTT(script=["the last caller"]) as fake:
        provider = recogniser(DeepgramSTT, fake)
        # within the connect timeout: a stream waiting for a pool slot would only fail after it (and a retry)
        streams = await asyncio.wait_for(asyncio.gather(*(provider.open_stream() for _ in range(CALLS))),
                                         CONNECT_TIMEOUT_S - 1)
        try:
            assert len(fake.requests) == CALLS
            await say(streams[-1])
            assert (await streams[-1].finalize()).text == "the last caller"
        finally:
            await asyncio.gather(*(s.aclose() for s in streams))
