"""What every cloud chat model must do against its local fake, request shape aside: text streamed before the
answer ends then the vendor's token counts, tool calls assembled and a tool round trip, a bad key refused without a
retry, a 5xx or 429 retried and a persistent one an error, the vendor's mid-stream error, garbage, a dropped
stream, a timeout, stopping early closes the request, and the catalogue's answer. A test module subclasses
LLMContract for its vendor (as `Test<Vendor>LLM`) and adds the vendor's own request-shape checks."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest

from flowengine.bench.fakes.chat import ChatFake, Reply
from flowengine.bench.fakes.server import Faults
from flowengine.providers.catalogue import LLM, Status
from flowengine.providers.llm.base import (
    ChatMessage,
    LLMError,
    LLMEvent,
    LLMProvider,
    TextDelta,
    ToolCall,
    ToolCallRequest,
    ToolSpec,
    Usage,
)
from tests.support import eventually

MESSAGES = [ChatMessage("system", "You book dental appointments."), ChatMessage("user", "Hi, I need a cleaning.")]
TOOLS = [ToolSpec("set_variables", "Store variables", {"type": "object", "properties": {"variables": {"type": "object"}}}),
         ToolSpec("stop_service")]
WRONG_KEY = "wrong-key-9876543210"


async def collect(llm: LLMProvider, messages: list[ChatMessage] = MESSAGES, **kwargs: Any) -> list[LLMEvent]:
    try:
        return [e async for e in llm.stream(messages, **kwargs)]
    finally:
        await llm.aclose()


def text_of(events: list[LLMEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


class LLMContract:
    model: ClassVar[str]  # as the engine names it: "<vendor>.<model>"
    key_environment: ClassVar[str]  # the variable the catalogue names when no key is set
    complete_setup: ClassVar[dict[str, Any]] = {}  # what LLM.check needs besides the key (Azure's endpoint)
    tool_ids: ClassVar[tuple[str, str]]  # the fake's ids of two tool calls that follow text
    # the vendor's words for each failure
    refused_key_error: ClassVar[str]
    persistent_status: ClassVar[int] = 503  # the vendor's "try again later"
    persistent_error: ClassVar[str]
    mid_stream_reply: ClassVar[Reply]  # text, then the vendor's mid-stream error
    mid_stream_error: ClassVar[str]
    garbage_error: ClassVar[str]
    dropped_error: ClassVar[str]
    timeout_error: ClassVar[str]

    def new_fake(self) -> ChatFake:
        raise NotImplementedError

    def make(self, fake: Any, key: str = "", **parameter: Any) -> LLMProvider:
        """The provider pointed at `fake`, with the test key unless `key` is given."""
        raise NotImplementedError

    def assert_tool_exchange_sent(self, body: Any, call: ToolCall) -> None:
        """The second request of a tool round trip carries the call and its result in the vendor's shape."""
        raise NotImplementedError

    @pytest.fixture
    async def fake(self) -> AsyncIterator[Any]:
        async with self.new_fake() as server:
            yield server

    async def test_streams_text_before_the_end_then_usage(self, fake: Any) -> None:
        fake.script(Reply(text="Sure, which day suits you?", usage=(25, 9)))
        fake.faults = Faults(chunk_delay_s=0.05)
        llm = self.make(fake)
        try:
            stream = llm.stream(MESSAGES)
            first = await anext(stream)
            # the first delta is ours while the server is still writing the rest
            assert first == TextDelta("Sure") and not fake.requests[0].closed_at
            rest = [e async for e in stream]
        finally:
            await llm.aclose()
        assert text_of([first, *rest]) == "Sure, which day suits you?"
        assert rest[-1] == Usage(25, 9)  # the vendor's own counts, last

    async def test_tool_calls_are_assembled_from_their_pieces(self, fake: Any) -> None:
        args = json.dumps({"variables": {"appointment_day": "tuesday", "appointment_time": "10 am"}})
        fake.script(Reply(text="Booked.", tool_calls=(("set_variables", args), ("stop_service", "")), chunk_chars=5))
        events = await collect(self.make(fake), tools=TOOLS)
        calls = [e.call for e in events if isinstance(e, ToolCallRequest)]
        assert calls == [ToolCall(self.tool_ids[0], "set_variables", args), ToolCall(self.tool_ids[1], "stop_service", "{}")]
        assert text_of(events) == "Booked."
        assert [type(e).__name__ for e in events][-3:] == ["ToolCallRequest", "ToolCallRequest", "Usage"]

    async def test_a_tool_round_trip_is_accepted(self, fake: Any) -> None:
        fake.script(Reply(tool_calls=(("stop_service", "{}"),)), Reply(text="Goodbye."))
        first = await collect(self.make(fake), tools=TOOLS)
        call = next(e.call for e in first if isinstance(e, ToolCallRequest))
        history = [*MESSAGES, ChatMessage("assistant", "", tool_calls=(call,)),
                   ChatMessage("tool", "stopped", tool_call_id=call.id)]
        second = await collect(self.make(fake), history, tools=TOOLS)
        assert second[0] == TextDelta("Good") and len(fake.requests) == 2
        self.assert_tool_exchange_sent(fake.requests[1].body, call)

    async def test_a_bad_key_is_refused_at_once_without_the_key(self, fake: Any) -> None:
        with pytest.raises(LLMError, match=self.refused_key_error) as info:
            await collect(self.make(fake, key=WRONG_KEY))
        assert WRONG_KEY not in str(info.value) and info.value.__cause__ is None
        assert len(fake.requests) == 1  # never retried

    @pytest.mark.parametrize("status", [500, 503, 429])
    async def test_a_5xx_or_throttling_once_is_retried(self, fake: Any, status: int) -> None:
        fake.faults = Faults(status=status, status_times=1)
        fake.script(Reply(text="Hello again."))
        assert text_of(await collect(self.make(fake))) == "Hello again."
        assert len(fake.requests) == 2

    async def test_a_persistent_failure_is_an_error_after_the_bounded_retries(self, fake: Any) -> None:
        fake.faults = Faults(status=self.persistent_status)
        with pytest.raises(LLMError, match=self.persistent_error):
            await collect(self.make(fake, max_retries=1))
        assert len(fake.requests) == 2

    async def test_the_vendors_error_mid_stream_is_an_error(self, fake: Any) -> None:
        fake.script(self.mid_stream_reply)
        llm = self.make(fake)
        try:
            stream = llm.stream(MESSAGES)
            assert await anext(stream) == TextDelta(self.mid_stream_reply.text[:4])  # the text before the error
            with pytest.raises(LLMError, match=self.mid_stream_error):
                _ = [e async for e in stream]
        finally:
            await llm.aclose()

    async def test_garbage_is_an_error(self, fake: Any) -> None:
        fake.faults = Faults(garbage=True)
        with pytest.raises(LLMError, match=self.garbage_error):
            await collect(self.make(fake))

    async def test_a_dropped_stream_is_an_error(self, fake: Any) -> None:
        fake.faults = Faults(drop_after=3)
        fake.script(Reply(text="A long answer cut short"))
        with pytest.raises(LLMError, match=self.dropped_error):
            await collect(self.make(fake, max_retries=0))

    async def test_a_timeout_is_retried_then_an_error(self, fake: Any) -> None:
        fake.faults = Faults(latency_s=2.0)
        with pytest.raises(LLMError, match=self.timeout_error):
            await collect(self.make(fake, timeout_s=0.3, max_retries=1))
        assert len(fake.requests) == 2

    async def test_stopping_early_closes_the_request(self, fake: Any) -> None:
        fake.faults = Faults(chunk_delay_s=0.05)
        fake.script(Reply(text="A long answer that the caller interrupts half way through, at length."))
        llm = self.make(fake)
        try:
            stream = llm.stream(MESSAGES)
            assert isinstance(await anext(stream), TextDelta)
            await stream.aclose()  # type: ignore[attr-defined]
            await eventually(lambda: fake.requests[0].closed_by_client, timeout=3, what="the fake sees the client go")
        finally:
            await llm.aclose()

    def test_the_catalogue_needs_a_key(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(self.key_environment, raising=False)
        answer = LLM.check(self.model, **self.complete_setup)
        assert answer.status is Status.NEEDS_SETUP and self.key_environment in answer.reason
        assert LLM.check(self.model, api_key="k", **self.complete_setup).available
