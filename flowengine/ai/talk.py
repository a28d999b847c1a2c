"""The AI actions: `ai_talk` (the caller talks with an AI or team; soft ends continue the flow) and `ai_task`."""
from __future__ import annotations

from flowengine.ai.aicall import AICallError
from flowengine.ai.endreasons import hangup_reason
from flowengine.ai.postcall import summary  # noqa: F401  (registers ai_summary)
from flowengine.ai.providers import ProviderUnavailable
from flowengine.ai.teams import TeamError
from flowengine.ai.tools.variables import ToolConfigError
from flowengine.flow.actions.calls import answer_if_needed
from flowengine.flow.context import ActionContext
from flowengine.flow.handlers import ActionFailed, executor
from flowengine.flow.options.ai import AiTalkOptions, AiTaskOptions
from flowengine.media.vad import VadConfigError


@executor("ai_talk", on_error="stop")
async def ai_talk(ctx: ActionContext, opts: AiTalkOptions) -> None:
    service = ctx.services.ai
    if service is None:
        raise ActionFailed("ai_talk needs AI calls configured in the engine")
    call = ctx.call
    try:
        agent = await service.agent(opts.resolved_type, opts.resolved_id, ctx.activeflow.customer_id)
        await answer_if_needed(ctx)  # once the AI is known: a wrong id leaves the call unanswered
        live = await agent.talk(call=call, variables=ctx.variables, activeflow_id=ctx.activeflow.id,
                                max_duration_s=opts.duration, variable_values=opts.variable_values)
    except (AICallError, ProviderUnavailable, ToolConfigError, VadConfigError, TeamError) as exc:
        raise ActionFailed(str(exc)) from None
    if live.end_kind == "hard":
        ctx.services.hangup_reasons[call.id] = hangup_reason(live.ended_reason)
        ctx.stop(f"ai_talk ended the flow: {live.ended_reason}")
    elif live.after:
        ctx.push(live.after)  # connect_call / transferCall: the caller is bridged right after the AI


@executor("ai_task", on_error="stop")
async def ai_task(ctx: ActionContext, opts: AiTaskOptions) -> None:
    """A headless AI task: the model acts through its tools (e.g. set_variables) until stop_service."""
    service = ctx.services.ai
    if service is None:
        raise ActionFailed("ai_task needs AI calls configured in the engine")
    try:
        agent = await service.agent(opts.resolved_type, opts.resolved_id, ctx.activeflow.customer_id)
        live = await agent.task(variables=ctx.variables, activeflow_id=ctx.activeflow.id)
    except (AICallError, ProviderUnavailable, ToolConfigError, TeamError) as exc:
        raise ActionFailed(str(exc)) from None
    if live.end_kind == "hard":
        ctx.stop(f"ai_task ended the flow: {live.ended_reason}")
