"""Capacity benchmark providers: the Deepgram, ElevenLabs and Anthropic fakes in a process of their own, each answer
after a network delay, so their CPU is not the engine's (as a real cloud provider's is not)."""
from __future__ import annotations

import asyncio
import contextlib
import resource
from dataclasses import dataclass
from multiprocessing.connection import Connection

from flowengine.bench.fakes.anthropic_llm import FakeAnthropicLLM
from flowengine.bench.fakes.chat import Reply
from flowengine.bench.fakes.deepgram_stt import FakeDeepgramSTT
from flowengine.bench.fakes.elevenlabs_tts import FakeElevenLabsTTS
from flowengine.bench.fakes.server import Faults

API_KEY = "capacity-bench-key"
# The agent's answer to every turn: two sentences, so each reply is two voice requests (as most replies are)
ANSWER = "Sure. Which day suits you?"
TRIM_EVERY_S = 2.0  # the fakes record every request and frame: forget them, or a long run grows by ~1 MB/s a call
MAX_LIFETIME_S = 3600.0  # the process ends by itself if its parent never says stop


@dataclass(frozen=True)
class Endpoints:
    deepgram: str
    elevenlabs: str
    anthropic: str


class _Answering(FakeAnthropicLLM):
    def next_reply(self) -> Reply:
        return Reply(text=ANSWER, chunk_chars=8)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _serve(conn: Connection, delay_s: float) -> None:
    loop = asyncio.get_running_loop()
    stt = FakeDeepgramSTT(api_key=API_KEY, faults=Faults(latency_s=delay_s), idle_limit_s=30.0)
    tts = FakeElevenLabsTTS(api_key=API_KEY, faults=Faults(latency_s=delay_s))
    llm = _Answering(api_key=API_KEY, faults=Faults(latency_s=delay_s))
    async with stt, tts, llm:
        conn.send(Endpoints(stt.base_url, tts.base_url, llm.base_url))
        trimming = asyncio.create_task(_trim(stt, tts, llm))
        try:
            async with asyncio.timeout(MAX_LIFETIME_S):
                while True:
                    request = await loop.run_in_executor(None, conn.recv)
                    if request == "cpu":
                        conn.send(_cpu_seconds())
                    else:
                        break
        finally:
            trimming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await trimming


async def _trim(stt: FakeDeepgramSTT, tts: FakeElevenLabsTTS, llm: FakeAnthropicLLM) -> None:
    while True:
        await asyncio.sleep(TRIM_EVERY_S)
        for entry in stt.requests:  # one per socket; its frames are what grows
            entry.messages.clear()
        del stt.requests[:-1000]
        # a voice's handler keeps its own record (it counts the messages of its socket); the list is the fake's
        tts.requests.clear()
        llm.requests.clear()


def run_providers(conn: Connection, delay_s: float) -> None:
    """Process entry point: sends the fakes' Endpoints, answers "cpu" with its CPU seconds, ends at "stop"."""
    with contextlib.suppress(EOFError, KeyboardInterrupt):
        asyncio.run(_serve(conn, delay_s))
