"""The VoIPBIN tools that act on the engine: connect_call, create_call, send_email, stop_media, messages."""
from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from flowengine.ai.tools.outcome import ToolOutcome, failed, ok
from flowengine.asterisk.ari.rest import AriError
from flowengine.flow.actions.bridging import caller_id, endpoint_for
from flowengine.flow.handlers import ActionFailed
from flowengine.flow.model import Action, Flow
from flowengine.flow.options.bridge import CallOptions, ConnectOptions
from flowengine.flow.options.notify import EmailSendOptions

if TYPE_CHECKING:
    from flowengine.ai.tools.box import CallToolbox

MESSAGES_LIMIT = 1000


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


async def connect_call(box: CallToolbox, args: dict[str, Any]) -> ToolOutcome:
    """End the AI and bridge the caller to the destinations: a `connect` action runs right after ai_talk."""
    if box.live.call is None:
        return failed("connect_call works on calls only")
    try:
        opts = ConnectOptions.model_validate({k: v for k, v in args.items() if k in ("source", "destinations")})
        for d in opts.destinations:
            endpoint_for(box.flow_services(), d)
    except ValidationError as exc:
        return failed(f"bad arguments: {_problems(exc)}")
    except ActionFailed as exc:
        return failed(str(exc))
    box.after.append(Action(type="connect", option=opts.model_dump(mode="json", exclude_defaults=True)))
    return ok("the caller is being connected", end="assistant-forwarded-call")


async def create_call(box: CallToolbox, args: dict[str, Any]) -> ToolOutcome:
    services = box.flow_services()
    try:
        opts = CallOptions.model_validate({k: v for k, v in args.items() if k != "variables"})
    except ValidationError as exc:
        return failed(f"bad arguments: {_problems(exc)}")
    if bool(opts.flow_id) == bool(opts.actions):
        return failed("give flow_id or actions (one of them)")
    if opts.flow_id:
        flow = services.flows.get_flow(opts.flow_id) if services.flows is not None else None
        if flow is None:
            return failed("could not resolve flow")
    else:
        from flowengine.flow.errors import FlowError
        from flowengine.flow.loader import load_actions

        try:
            flow = Flow(id="", name=f"aicall-{box.live.record.id}", actions=load_actions(opts.actions, name="actions"))
        except FlowError as exc:
            return failed(f"bad actions: {exc}")
    variables = args.get("variables") or {}
    if not isinstance(variables, dict):
        return failed("variables must be an object")
    if variables:
        flow = flow.model_copy(update={"variables": {**flow.variables, **{str(k): str(v) for k, v in variables.items()}}})
    if services.dial_flow is None:
        return failed("creating calls needs the engine's flow service")
    cid = caller_id(opts.source, opts.anonymous)
    created, problems = 0, []
    for destination in opts.destinations:
        try:
            await services.dial_flow(endpoint_for(services, destination), flow, caller=cid, target=destination,
                                     source=opts.source)
            created += 1
        except (ActionFailed, AriError, OSError) as exc:  # told to the model, never raised into the conversation
            problems.append(f"{destination.target}: {exc}")
    requested = len(opts.destinations)
    summary = {"requested": requested, "created": created, "partial": 0 < created < requested, "errors": problems}
    return ToolOutcome(created > 0, json.dumps(summary), resource_type="call")


async def send_email(box: CallToolbox, args: dict[str, Any]) -> ToolOutcome:
    from flowengine.flow.actions.notify import _message, _send_smtp

    settings = box.flow_services().smtp
    if not settings.host:
        return failed("email is not configured in this engine (smtp.host)")
    try:
        opts = EmailSendOptions.model_validate({k: v for k, v in args.items() if k != "attachments"})
    except ValidationError as exc:
        return failed(f"bad arguments: {_problems(exc)}")
    if args.get("attachments"):
        return failed("attachments are not supported by the send_email tool")
    bad = [d.target for d in opts.destinations if d.type not in ("email", "") or "@" not in d.target]
    if bad:
        return failed(f"not email addresses: {', '.join(bad)}")
    msg = _message(settings, opts, [])
    try:
        await asyncio.to_thread(_send_smtp, settings, msg)
    except OSError as exc:
        return failed(f"the email could not be sent: {type(exc).__name__}")
    return ok(f"email sent to {msg['To']}")


async def stop_media(box: CallToolbox, args: dict[str, Any]) -> ToolOutcome:
    """Stop what the caller hears now: the agent's queued speech and any hold music."""
    live = box.live
    if live.call is None or live.media is None:
        return failed("stop_media works on calls only")
    dropped = 0
    if live.conversation is not None:
        dropped = live.conversation.output.clear().ms
    await live.media.hold_music(False)
    return ok(f"media stopped ({dropped} ms of queued speech dropped)")


async def get_aicall_messages(box: CallToolbox, args: dict[str, Any]) -> ToolOutcome:
    aicall_id = str(args.get("aicall_id") or box.live.record.id)
    service, customer = box.service, box.live.record.customer_id
    if service.store is not None:
        found = await service.store.aimessages.transcript(customer, aicall_id)
    else:
        found = [m for m in service.messages.get(aicall_id, []) if m.customer_id == customer]
    if not found and aicall_id != box.live.record.id:
        return failed(f"AI call {aicall_id!r} not found")
    items = [{"role": m.role, "content": m.content, "direction": m.direction,
              **({"tool_calls": [c.model_dump() for c in m.tool_calls]} if m.tool_calls else {}),
              **({"tool_call_id": m.tool_call_id} if m.tool_call_id else {}),
              "tm_create": m.tm_create.isoformat() if m.tm_create else ""}
             for m in found[-MESSAGES_LIMIT:]]
    return ok(json.dumps(items), resource_type="aicall", resource_id=aicall_id)
