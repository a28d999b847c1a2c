"""Executors that bring actions in from elsewhere: fetch (HTTP) and fetch_flow (another flow)."""
from __future__ import annotations

import json
import logging

import aiohttp

from flowengine.flow.context import ActionContext
from flowengine.flow.errors import FlowValidationError
from flowengine.flow.handlers import ActionFailed, executor
from flowengine.flow.loader import load_actions
from flowengine.flow.options import control

log = logging.getLogger(__name__)

FETCH_TIMEOUT_S = 10.0
MAX_FETCH_BYTES = 1024 * 1024


def known_ids(ctx: ActionContext) -> frozenset[str]:
    return frozenset(a.id for stack in ctx.activeflow.stack_map.values() for a in stack.actions)


@executor("fetch", on_error="stop")
async def fetch(ctx: ActionContext, opts: control.FetchOptions) -> None:
    http = ctx.services.http
    if http is None:
        raise ActionFailed("fetch needs an HTTP client and the engine has none")
    af = ctx.activeflow
    body = {"activeflow_id": af.id, "reference_id": af.reference_id}
    method = opts.event_method or "POST"
    kwargs: dict[str, object] = {"params": body} if method == "GET" else {"json": body}
    try:
        async with http.request(method, opts.event_url, timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S),
                                **kwargs) as resp:  # type: ignore[arg-type]
            raw = await resp.content.read(MAX_FETCH_BYTES + 1)
            status = resp.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ActionFailed(f"fetch {opts.event_url}: {exc or type(exc).__name__}") from None
    if status != 200:
        raise ActionFailed(f"fetch {opts.event_url} answered HTTP {status}, expected 200 with a list of actions")
    if len(raw) > MAX_FETCH_BYTES:
        raise ActionFailed(f"fetch {opts.event_url}: response larger than {MAX_FETCH_BYTES} bytes")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ActionFailed(f"fetch {opts.event_url}: response is not JSON ({exc})") from None
    if not isinstance(data, list):
        raise ActionFailed(f"fetch {opts.event_url}: expected a JSON list of actions, got {type(data).__name__}")
    try:
        actions = load_actions(data, name=opts.event_url, known_ids=known_ids(ctx))
    except FlowValidationError as exc:
        problems = "; ".join(p.message for p in exc.problems[:5])
        raise ActionFailed(f"fetch {opts.event_url}: invalid actions: {problems}") from None
    log.info("fetched %d actions from %s", len(actions), opts.event_url)
    ctx.push(actions)


@executor("fetch_flow", on_error="stop")
async def fetch_flow(ctx: ActionContext, opts: control.FetchFlowOptions) -> None:
    flows = ctx.services.flows
    flow = flows.get_flow(opts.flow_id) if flows is not None else None
    if flow is None:
        raise ActionFailed(f"flow {opts.flow_id!r} not found")
    ctx.push(flow.actions)
