"""Structured logs: ids from the call's context on every record, text or JSON."""
from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from flowengine.logs import bind_log_context, log_context, setup_logging


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def capture(fmt: str) -> io.StringIO:
    stream = io.StringIO()
    setup_logging("INFO", fmt, stream)
    return stream


def test_json_records_carry_call_ids() -> None:
    stream = capture("json")
    log = logging.getLogger("flowengine.test")
    with log_context(call_id="c-1", activeflow_id="af-9"):
        log.info("answered %s", "now")
    log.info("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["msg"] == "answered now" and first["call_id"] == "c-1" and first["activeflow_id"] == "af-9"
    assert first["logger"] == "flowengine.test" and first["level"] == "info"
    assert "call_id" not in second


def test_text_records_and_task_isolation() -> None:
    stream = capture("text")
    log = logging.getLogger("flowengine.test")

    async def call(call_id: str) -> None:
        bind_log_context(call_id=call_id)
        await asyncio.sleep(0)
        log.info("hello")

    async def main() -> None:
        await asyncio.gather(call("a"), call("b"))

    asyncio.run(main())
    lines = stream.getvalue().splitlines()
    assert sorted(line.split("call_id=")[1].split(":")[0] for line in lines) == ["a", "b"]
