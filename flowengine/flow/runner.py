"""The activeflow runner: moves the cursor, substitutes variables, runs executors, pauses, ends."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from flowengine.asterisk.app import CallEnded
from flowengine.asterisk.ari.events import ChannelDtmfReceived, ChannelStateChange, Event
from flowengine.asterisk.ari.rest import AriError, AriHTTPError
from flowengine.flow import stackmap
from flowengine.flow.activeflow import Activeflow, ActiveflowStatus, ReferenceType, now
from flowengine.flow.catalogue import ACTIONS
from flowengine.flow.context import ActionContext, Services
from flowengine.flow.dtmf import DigitBuffer
from flowengine.flow.errors import UnknownNameError, UnsupportedActionError
from flowengine.flow.handlers import EXECUTORS, ActionFailed, Executor
from flowengine.flow.ids import FINISH_ID, START_ID
from flowengine.flow.model import Action
from flowengine.flow.registry import Media
from flowengine.flow.variables import Variables
from flowengine.logs import log_context
from flowengine.tasks import TaskOwner

if TYPE_CHECKING:
    from flowengine.asterisk.app import Call
    from flowengine.asterisk.ari.subscriptions import Subscription

log = logging.getLogger(__name__)

MAX_EXECUTE_COUNT = 100
# ARI's answers for a channel that is gone (404: no such channel; 409: not in Stasis any more)
CHANNEL_GONE = (404, 409)
# how long a refused action waits for the channel's hangup event before it counts as a failure
HANGUP_GRACE_S = 2.0
MAX_ITERATIONS = 1000


class Runner:
    """Runs one activeflow to its end. One task owns it (`run()`); pause/resume/stop/continue
    may be called from anywhere on the same loop."""

    def __init__(
        self,
        activeflow: Activeflow,
        services: Services,
        *,
        call: Call | None = None,
        variables: Variables | None = None,
        max_execute_count: int = MAX_EXECUTE_COUNT,
    ) -> None:
        self.activeflow = activeflow
        self.services = services
        self.call = call
        self.variables = variables or Variables(activeflow.variables)
        self.max_execute_count = max_execute_count
        self.digits = DigitBuffer(self.variables, lambda: self.activeflow.current_action.type)
        self._stop_reason: str | None = None
        self._running = asyncio.Event()
        self._running.set()
        self._wake = asyncio.Event()
        self._continue_id: str | None = None
        self._action_task: asyncio.Task[None] | None = None
        self._executor: Executor | None = None
        self._interrupted_by_pause = False
        self._dtmf_sub: Subscription | None = None
        self.done = asyncio.Event()
        self._background = TaskOwner(f"activeflow {activeflow.id}")  # what actions run beside the flow
        self._on_end: list[Callable[[], Awaitable[None]]] = []
        # What actions started beside the call (recording, external media...), by kind.
        self.resources: dict[str, Any] = {}

    # -- control from outside -------------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason
        self._wake.set()
        self._running.set()

    async def pause(self) -> None:
        """Hold the cursor; the caller hears music on hold until `resume()`."""
        af = self.activeflow
        if af.status != ActiveflowStatus.RUNNING:
            raise ActionFailed(f"activeflow is {af.status}, not running")
        self._running.clear()
        af.status = ActiveflowStatus.PAUSED
        task, executor = self._action_task, self._executor
        if task is not None and not task.done() and executor is not None and executor.restartable:
            self._interrupted_by_pause = True
            task.cancel()
        await self._hold_music(True)
        await self._changed("activeflow_updated")

    async def resume(self) -> None:
        af = self.activeflow
        if af.status != ActiveflowStatus.PAUSED:
            raise ActionFailed(f"activeflow is {af.status}, not paused")
        af.status = ActiveflowStatus.RUNNING
        await self._hold_music(False)
        await self._changed("activeflow_updated")
        self._running.set()

    def continue_block(self, action_id: str) -> None:
        """Resume a `block` whose id is `action_id` (VoIPBIN's continue)."""
        if self.activeflow.current_action.id != action_id or self.activeflow.current_action.type != "block":
            raise ActionFailed(f"the current action is not the block {action_id!r}")
        self._continue_id = action_id
        self._wake.set()

    def _on_call_event(self, event: Event) -> None:
        if isinstance(event, ChannelDtmfReceived):
            self.digits.on_event(event)
        elif isinstance(event, ChannelStateChange) and self.call is not None:
            self.call.channel.snapshot = event.channel

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` alongside the flow (async webhook_send...); awaited (15 s at most) before the run ends."""
        self._background.start(coro, name=f"activeflow-{self.activeflow.id}-{self.activeflow.current_action.type}")

    def on_end(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` when the activeflow ends (release bridges, snoops, chained calls...)."""
        self._on_end.append(callback)

    def recording_file(self, recording_id: str) -> Path | None:
        """The file of a recording made by this engine, by its id (`voipbin.recording.id`)."""
        folder = self.services.recordings_dir
        if not folder:
            return None
        matches = sorted(Path(folder).glob(f"{recording_id}.*"))
        return matches[0] if matches else None

    def call_status(self) -> str:
        """VoIPBIN's call status of this activeflow's call, from the channel state."""
        if self.call is None:
            return ""
        if self.call.ended.is_set():
            return "hangup"
        state = self.call.channel.snapshot.state
        return {"Up": "progressing", "Ring": "ringing", "Ringing": "ringing"}.get(state, "dialing")

    # -- the loop -------------------------------------------------------------------------
    async def run(self) -> Activeflow:
        af = self.activeflow
        with log_context(activeflow_id=af.id):
            if self.call is not None and self.services.ari is not None:
                self._dtmf_sub = self.services.ari.subscribe(self._on_call_event, channel_id=self.call.channel.id)
            try:
                await self._loop()
            finally:
                if self._dtmf_sub is not None:
                    self._dtmf_sub.close()
                if af.status != ActiveflowStatus.ENDED:
                    await self._end(self._stop_reason or "engine stopped")
                await self._background.aclose(timeout=15)
                self.done.set()
        return af

    async def _loop(self) -> None:
        af = self.activeflow
        rerun: tuple[str, Action] | None = None
        for _ in range(MAX_ITERATIONS):
            await self._running.wait()
            if self._stop_reason is not None:
                return await self._end(self._stop_reason)
            if self.call is not None and self.call.ended.is_set():
                return await self._end("hangup")
            if rerun is None:
                stack_id, action = self._advance()
                if action.id == FINISH_ID:
                    return await self._end(self._stop_reason or "finished")
                if af.execute_count > self.max_execute_count:
                    return await self._end(
                        f"execute-limit: more than {self.max_execute_count} actions executed "
                        f"(a loop without end?); last action {action.id!r} ({action.type})")
                await self._changed("activeflow_updated")
            else:
                stack_id, action = rerun
            rerun = await self._execute(stack_id, action)
        await self._end(f"iteration-limit: more than {MAX_ITERATIONS} steps in one run")

    def _advance(self) -> tuple[str, Action]:
        af = self.activeflow
        if af.has_forward:
            if af.forward_action_id == FINISH_ID:
                af.clear_forward()
                return af.current_stack_id, stackmap.FINISH
            try:
                stack_id, action = stackmap.resolve_forward(af)
            except stackmap.CursorError as exc:
                self.request_stop(f"cursor: {exc}")
                af.clear_forward()
                return af.current_stack_id, stackmap.FINISH
            af.clear_forward()
        else:
            stack_id, action = stackmap.next_after_current(af)
        if action.id == FINISH_ID:
            return stack_id, action
        if af.current_action.id != START_ID:
            af.executed_actions.append(af.current_action)
        af.execute_count += 1
        spec = ACTIONS.get(action.type) if action.type in ACTIONS else None
        raw = spec.raw_options if spec else frozenset()
        option = {k: (v if k in raw else self.variables.substitute(v)) for k, v in action.option.items()}
        current = action.model_copy(update={"option": option})
        af.current_stack_id, af.current_action = stack_id, current
        return stack_id, current

    async def _execute(self, stack_id: str, action: Action) -> tuple[str, Action] | None:
        """Run one action; returns it again when a pause interrupted it (to re-run on resume)."""
        with log_context(action_id=action.id):
            try:
                spec = ACTIONS.get(action.type)
                spec.require_supported()
            except (UnknownNameError, UnsupportedActionError) as exc:
                self.request_stop(f"action {action.id!r}: {exc}")
                return None
            if action.type not in EXECUTORS:
                self.request_stop(f"action {action.id!r}: action type {action.type!r} cannot run yet: "
                                  "this engine has no executor for it")
                return None
            executor = EXECUTORS.get(action.type)
            if spec.media == Media.RTC and self.call is None:
                self.request_stop(f"action {action.id!r} ({action.type}) needs a call; "
                                  f"this activeflow's reference is {self.activeflow.reference_type or 'none'}")
                return None
            try:
                options = spec.parse_options(action.option)
            except ValidationError as exc:
                self._failed(action, executor, _describe(exc))
                return None
            ctx = ActionContext(self, action, stack_id)
            self._executor = executor
            self._action_task = asyncio.ensure_future(executor.run(ctx, options))
            try:
                outcome = await self._await_action(self._action_task, hangup_cancels=not executor.ends_call)
            except (ActionFailed, AriError, OSError, TimeoutError, ValueError) as exc:
                self._failed(action, executor, str(exc) or type(exc).__name__)
                return None
            finally:
                self._action_task, self._executor = None, None
            if outcome == "paused":
                log.info("action %s (%s) interrupted by pause; it runs again on resume", action.id, action.type)
                return stack_id, action
            if outcome == "done" and ctx.blocked:
                await self._wait_continue(action)
            return None

    async def _await_action(self, task: asyncio.Task[None], *, hangup_cancels: bool = True) -> str:
        """Await the action: "done", "hangup" (the caller left; the action was cancelled) or
        "paused" (a pause interrupted it). Its own exceptions propagate. `hangup_cancels`: the call's end
        cancels the action (not for one that hangs up itself: Executor.ends_call)."""
        ended = asyncio.ensure_future(self.call.ended.wait()) if self.call is not None and hangup_cancels else None
        try:
            await asyncio.wait({task, ended} if ended else {task}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise
        finally:
            if ended is not None:
                ended.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return "hangup"
        if task.cancelled():
            if self._interrupted_by_pause:
                self._interrupted_by_pause = False
                return "paused"
            raise ActionFailed("cancelled")
        exc = task.exception()
        if exc is None:
            return "done"
        if isinstance(exc, CallEnded) or (self.call is not None and self.call.ended.is_set()):
            return "hangup"
        if isinstance(exc, AriHTTPError) and exc.status in CHANNEL_GONE and await self._hangup_follows():
            return "hangup"
        raise exc

    async def _hangup_follows(self) -> bool:
        """Asterisk refused an action because the channel is gone: its hangup event may still be on the
        way (the refusal can overtake it). True when it arrives within HANGUP_GRACE_S."""
        if self.call is None:
            return False
        try:
            async with asyncio.timeout(HANGUP_GRACE_S):
                await self.call.ended.wait()
        except TimeoutError:
            return False
        return True

    def _failed(self, action: Action, executor: Executor, reason: str) -> None:
        message = f"action {action.id!r} ({action.type}) failed: {reason}"
        if executor.on_error == "stop":
            log.error("%s; ending the activeflow", message)
            self.request_stop(message)
        else:
            log.warning("%s; moving on", message)

    async def _wait_continue(self, action: Action) -> None:
        while self._continue_id != action.id and self._stop_reason is None:
            if self.call is not None and self.call.ended.is_set():
                return
            self._wake.clear()
            waiters = [asyncio.ensure_future(self._wake.wait())]
            if self.call is not None:
                waiters.append(asyncio.ensure_future(self.call.ended.wait()))
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
        self._continue_id = None

    # -- ending ---------------------------------------------------------------------------
    async def _end(self, reason: str) -> None:
        af = self.activeflow
        if af.status == ActiveflowStatus.ENDED:
            return
        if af.status == ActiveflowStatus.PAUSED:
            await self._hold_music(False)
        af.status = ActiveflowStatus.ENDED
        af.ended_reason = reason
        af.tm_end = now()
        af.variables = self.variables.snapshot()
        log.info("activeflow ended: %s", reason)
        for callback in reversed(self._on_end):
            try:
                await callback()
            except Exception:
                log.exception("cleanup at activeflow end failed")
        await self._changed("activeflow_updated")
        if self.call is not None and not self.call.ended.is_set() and af.reference_type == ReferenceType.CALL:
            try:
                await self.call.channel.hangup("normal")
            except AriError as exc:
                log.debug("hangup at activeflow end: %s", exc)
        if af.on_complete_flow_id and self.services.start_flow is not None:
            await self._start_on_complete()

    async def _start_on_complete(self) -> None:
        from flowengine.flow.varnames import ACTIVEFLOW_COMPLETE_COUNT

        af = self.activeflow
        count = int(self.variables.lookup(ACTIVEFLOW_COMPLETE_COUNT) or 0) + 1
        if count >= 5:
            log.warning("on_complete flow %s not started: chain of 5 completions reached", af.on_complete_flow_id)
            return
        assert self.services.start_flow is not None
        try:
            await self.services.start_flow(
                af.on_complete_flow_id, reference_type=af.reference_type, reference_id=af.reference_id,
                parent=af, complete_count=count, call=None)
        except LookupError as exc:
            log.error("on_complete flow %s could not start: %s", af.on_complete_flow_id, exc)
        except Exception:  # the parent has ended either way; the failure is the child's
            log.exception("on_complete flow %s could not start", af.on_complete_flow_id)

    async def _hold_music(self, on: bool) -> None:
        if self.call is None or self.call.ended.is_set():
            return
        try:
            if on:
                await self.call.channel.start_moh()
            else:
                await self.call.channel.stop_moh()
        except AriError as exc:
            log.warning("music on hold %s failed: %s", "start" if on else "stop", exc)

    async def _changed(self, event: str) -> None:
        af = self.activeflow
        af.tm_update = now()
        af.variables = self.variables.snapshot()
        for observer in self.services.observers:
            try:
                await observer(af, event)
            except Exception:
                log.exception("activeflow observer failed")


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "option"
        parts.append(f"option {where}: {err['msg']}")
    return "; ".join(parts)
