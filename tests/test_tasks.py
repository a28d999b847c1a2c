"""TaskOwner: failures logged and kept from siblings, close waits then cancels, closed owners start nothing."""
from __future__ import annotations

import asyncio
import contextvars
import logging

import pytest

from flowengine.tasks import TaskOwner

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


async def test_a_failed_task_is_logged_and_its_siblings_go_on(caplog: pytest.LogCaptureFixture) -> None:
    owner = TaskOwner("calls")
    go_on = asyncio.Event()

    async def fails() -> None:
        raise ValueError("broken webhook")

    async def sibling() -> str:
        await go_on.wait()
        return "finished"

    with caplog.at_level(logging.ERROR, logger="flowengine.tasks"):
        failed = owner.start(fails(), name="webhook")
        other = owner.start(sibling())
        await asyncio.wait([failed])
        go_on.set()
        assert await other == "finished"
    assert [r.getMessage() for r in caplog.records] == ["calls: background task webhook failed"]
    assert isinstance(caplog.records[0].exc_info and caplog.records[0].exc_info[1], ValueError)
    assert len(owner) == 0  # ended tasks are dropped
    await owner.aclose()


async def test_aclose_waits_for_the_timeout_then_cancels_and_awaits() -> None:
    owner = TaskOwner("service")
    cleaned: list[str] = []

    async def quick() -> str:
        await asyncio.sleep(0.05)
        return "done"

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0)  # its cleanup awaits too, and runs to its end
            cleaned.append("forever")

    finishing, stuck = owner.start(quick()), owner.start(forever())
    loop = asyncio.get_running_loop()
    began = loop.time()
    await owner.aclose(timeout=0.3)
    assert 0.25 <= loop.time() - began < 2
    assert finishing.result() == "done"
    assert stuck.cancelled() and cleaned == ["forever"]
    assert len(owner) == 0


async def test_aclose_without_timeout_cancels_at_once() -> None:
    owner = TaskOwner("engine")
    task = owner.start(asyncio.sleep(3600))
    await asyncio.wait_for(owner.aclose(), 1)
    assert task.cancelled()


async def test_aclose_of_none_waits_as_long_as_they_run() -> None:
    owner = TaskOwner("analyses")
    task = owner.start(asyncio.sleep(0.2, result="analysed"))
    await owner.aclose(timeout=None)
    assert task.result() == "analysed"


async def test_tasks_started_while_closing_are_waited_for_within_the_same_grace() -> None:
    owner = TaskOwner("registry")
    follow_ups: list[asyncio.Task[str]] = []

    async def hangup() -> None:
        await asyncio.sleep(0.05)
        follow_ups.append(owner.start(asyncio.sleep(0.05, result="recorded")))  # the hangup's bookkeeping

    owner.start(hangup())
    await owner.aclose(timeout=5)
    assert [t.result() for t in follow_ups] == ["recorded"]


async def test_a_closed_owner_refuses_new_tasks() -> None:
    owner = TaskOwner("flow service")
    await owner.aclose()
    assert owner.closed
    coro = asyncio.sleep(1)
    with pytest.raises(RuntimeError, match="flow service is closed"):
        owner.start(coro)
    assert coro.cr_frame is None  # closed, so never reported as "never awaited"


async def test_cancelling_the_close_cancels_the_tasks() -> None:
    owner = TaskOwner("campaign")
    task = owner.start(asyncio.sleep(3600))
    closing = asyncio.ensure_future(owner.aclose(timeout=None))
    await asyncio.sleep(0.05)
    closing.cancel()
    await asyncio.gather(closing, return_exceptions=True)
    assert task.cancelled() and owner.closed


async def test_context_is_inherited_unless_a_fresh_one_is_given() -> None:
    owner = TaskOwner("media")

    async def who() -> str:
        return WHO.get()

    token = WHO.set("call A")
    try:
        inherited = owner.start(who())
        fresh = owner.start(who(), context=contextvars.Context())
    finally:
        WHO.reset(token)
    assert (await inherited, await fresh) == ("call A", "nobody")
    await owner.aclose()


async def test_as_a_context_manager_it_closes_on_exit() -> None:
    async with TaskOwner("screen") as owner:
        task = owner.start(asyncio.sleep(3600))
    assert task.cancelled() and owner.closed
