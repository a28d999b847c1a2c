"""The `ai_summary` action (reference 4.9): once the call ends, a summary of its AI call transcripts and the
flow's variables, written by the model of the call's AI; then the `on_end_flow_id` flow with the
`voipbin.ai_summary.*` variables.

flowengine has no transcribe, recording-transcript or conference resources, so only `reference_type`
`call` is served (an empty reference means the activeflow's own call: the sensible reading of VoIPBIN's
docs, which its code does not follow); the others are refused. Summaries live in memory, one per
(customer, reference_id, language), as VoIPBIN makes them idempotent; `summary_created` and
`summary_updated` go out on the event bus."""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from flowengine.ai.aicall import AICallService
from flowengine.ai.analysis import AnalysisUnavailable, summarise, transcript_of
from flowengine.ai.providers import ProviderUnavailable
from flowengine.flow import varnames as v
from flowengine.flow.activeflow import ReferenceType
from flowengine.flow.context import ActionContext
from flowengine.flow.handlers import ActionFailed, executor
from flowengine.flow.options.ai import AiSummaryOptions
from flowengine.providers.llm.base import LLMError

log = logging.getLogger(__name__)


@dataclass
class Summary:
    """VoIPBIN's Summary resource (and `error` when it could not be written)."""

    id: str
    customer_id: str
    activeflow_id: str
    on_end_flow_id: str
    reference_type: str
    reference_id: str
    language: str
    status: str = "progressing"
    content: str = ""
    error: str = ""


SUMMARIES: dict[tuple[str, str, str], Summary] = {}  # (customer, reference_id, language): idempotence


@executor("ai_summary", on_error="stop")
async def ai_summary(ctx: ActionContext, opts: AiSummaryOptions) -> None:
    service = ctx.services.ai
    if not isinstance(service, AICallService):
        raise ActionFailed("ai_summary needs AI calls configured in the engine")
    kind = opts.reference_type or "call"
    if kind != "call":
        raise ActionFailed(f"ai_summary of a {kind!r}: flowengine has no {kind} transcripts; only calls are summarised")
    call = ctx.call
    reference_id = opts.reference_id or call.id
    if reference_id != call.id:
        raise ActionFailed("ai_summary can summarise only this activeflow's own call")
    key = (ctx.activeflow.customer_id, reference_id, opts.language)
    if key in SUMMARIES:
        log.info("ai_summary of %s (%s) exists already", reference_id, opts.language or "any language")
        return
    summary = Summary(str(uuid.uuid4()), ctx.activeflow.customer_id, ctx.activeflow.id, opts.on_end_flow_id,
                      kind, reference_id, opts.language)
    SUMMARIES[key] = summary
    ctx.services.events.emit("summary_created", summary.customer_id, asdict(summary))

    async def write() -> None:
        await call.ended.wait()
        try:
            summary.content = await _write(service, reference_id, dict(ctx.variables), opts.language)
        except (AnalysisUnavailable, ProviderUnavailable, LLMError, TimeoutError, LookupError) as exc:
            summary.error = str(exc) or type(exc).__name__
            log.warning("ai_summary of call %s failed: %s", reference_id, summary.error)
        summary.status = "done"
        ctx.services.events.emit("summary_updated", summary.customer_id, asdict(summary))
        if summary.on_end_flow_id and ctx.services.start_flow is not None:
            ctx.activeflow.variables = {**ctx.variables.snapshot(), **{
                f"voipbin.ai_summary.{name}": getattr(summary, name) for name in
                ("id", "reference_type", "reference_id", "language", "content")}}
            await ctx.services.start_flow(summary.on_end_flow_id, reference_type=ReferenceType.AI,
                                          reference_id=summary.id, parent=ctx.activeflow)

    ctx.runner.spawn(write())


async def _write(service: AICallService, call_id: str, variables: dict[str, Any], language: str) -> str:
    calls = [live for live in service.recent if live.record.reference_id == call_id]
    if not calls:
        raise LookupError(f"call {call_id} had no AI call: there is no transcript to summarise")
    lines = [(m.role, m.content) for live in calls for m in service.messages.get(live.record.id, [])]
    last = calls[-1]
    config = last.toolbox.config if last.toolbox is not None else service.ais.get(last.record.assistance_id)
    if config is None:
        raise LookupError(f"the AI {last.record.assistance_id} of call {call_id} is gone")
    llm = service.pool.llm(config.ai.engine_model, config.engine_key.get_secret_value(), last.record.parameter)
    try:
        shown = {k: val for k, val in variables.items() if k not in v.AI_SUMMARY}
        return await summarise(llm, transcript_of(lines), json.dumps(shown, default=str, indent=1), language)
    finally:
        await llm.aclose()
