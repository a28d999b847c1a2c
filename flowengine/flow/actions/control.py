"""Flow-control executors: goto, branch, condition_*, stop, block, empty, variable_set."""
from __future__ import annotations

import logging
import operator
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flowengine.flow.context import ActionContext
from flowengine.flow.handlers import ActionFailed, executor
from flowengine.flow.options import control
from flowengine.flow.options.common import NoOptions
from flowengine.flow.templates import Reference, scan
from flowengine.flow.varnames import read_only_write

log = logging.getLogger(__name__)

COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}


def _jump_if_false(ctx: ActionContext, ok: bool, false_target_id: str) -> None:
    if ok:
        return
    if not false_target_id:
        raise ActionFailed("condition is false and no false_target_id is set")
    ctx.forward(false_target_id)


def _variable_name(written: str) -> str:
    """`${name}` or a bare `name` -> `name`."""
    segments, _ = scan(written)
    if len(segments) == 1 and isinstance(segments[0], Reference):
        return segments[0].name
    return written.strip()


@executor("goto")
async def goto(ctx: ActionContext, opts: control.GotoOptions) -> None:
    stored = ctx.stored_action()
    remaining = int(stored.option.get("loop_count", 0) or 0)
    if remaining <= 0:
        log.debug("goto %s: loop_count exhausted, falling through", ctx.action.id)
        return  # exhausted: fall through to the next action (counts persist, as in VoIPBIN)
    stored.option["loop_count"] = remaining - 1
    ctx.forward(opts.target_id)


@executor("branch", on_error="stop")
async def branch(ctx: ActionContext, opts: control.BranchOptions) -> None:
    name = _variable_name(opts.variable)
    value = ctx.variables.lookup(name)
    ctx.variables[name] = ""
    key = "" if value is None else str(value)
    target = opts.target_ids.get(key) or opts.default_target_id
    if not target:
        raise ActionFailed(f"no target for {name}={key!r} and no default_target_id")
    ctx.forward(target)


@executor("condition_variable", on_error="stop")
async def condition_variable(ctx: ActionContext, opts: control.ConditionVariableOptions) -> None:
    written = str(ctx.stored_action().option.get("variable", ""))
    value: Any = opts.variable if "${" in written else ctx.variables.lookup(written.strip())
    compare = COMPARE[opts.condition]
    if opts.value_type == "number":
        try:
            ok = compare(float(value), opts.value_number)
        except (TypeError, ValueError):
            ok = False
    elif opts.value_type == "length":
        ok = compare(len(str(value)), opts.value_length)
    else:
        ok = compare(str(value), opts.value_string)
    _jump_if_false(ctx, ok, opts.false_target_id)


@executor("condition_datetime", on_error="stop")
async def condition_datetime(ctx: ActionContext, opts: control.ConditionDatetimeOptions) -> None:
    now = datetime.now(ZoneInfo(opts.timezone or "UTC"))
    compare = COMPARE[opts.condition]
    weekday = (now.weekday() + 1) % 7  # Python: Monday=0; VoIPBIN: Sunday=0
    ok = not opts.weekdays or weekday in opts.weekdays
    for wanted, actual, unset in ((opts.month, now.month, 0), (opts.day, now.day, 0),
                                  (opts.hour, now.hour, -1), (opts.minute, now.minute, -1)):
        if ok and wanted is not None and wanted != unset:
            ok = compare(wanted, actual)
    _jump_if_false(ctx, ok, opts.false_target_id)


@executor("condition_call_digits", on_error="stop")
async def condition_call_digits(ctx: ActionContext, opts: control.ConditionCallDigitsOptions) -> None:
    digits = ctx.digits.value
    ok = (opts.length != 0 and len(digits) >= opts.length) or (opts.key != "" and opts.key in digits)
    _jump_if_false(ctx, ok, opts.false_target_id)


@executor("condition_call_status", on_error="stop")
async def condition_call_status(ctx: ActionContext, opts: control.ConditionCallStatusOptions) -> None:
    _jump_if_false(ctx, ctx.runner.call_status() == opts.status, opts.false_target_id)


@executor("stop")
async def stop(ctx: ActionContext, opts: NoOptions) -> None:
    ctx.stop("stop action")


@executor("block")
async def block(ctx: ActionContext, opts: NoOptions) -> None:
    ctx.block()


@executor("empty")
async def empty(ctx: ActionContext, opts: NoOptions) -> None:
    return None


@executor("variable_set")
async def variable_set(ctx: ActionContext, opts: control.VariableSetOptions) -> None:
    refused = read_only_write("variable_set", opts.key)
    if refused:  # the engine's names stay the engine's, as external variables named voipbin.* are dropped
        log.warning("action %s: %s", ctx.action.id, refused)
        return
    # The runner substituted the option already; set() expands nothing further for plain values.
    ctx.variables[opts.key] = opts.value
