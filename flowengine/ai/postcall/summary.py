"""AI summaries (reference 4.9): the `ai_summary` action and `Summaries`, which makes and writes them for
the action and for POST /aisummaries. Once the call ends, the transcripts of its AI calls and the flow's
variables are summarised by the model of the call's last AI; then the `on_end_flow_id` flow runs with the
`voipbin.ai_summary.*` variables.

flowengine has no transcribe, recording-transcript or conference resources, so only `reference_type`
`call` is served (an empty reference means the activeflow's own call: the sensible reading of VoIPBIN's
docs, which its code does not follow); the others are refused. Summaries live in the store, one live
summary per (customer, reference_id, language) as VoIPBIN makes them idempotent (the database keeps it
across restarts and engine nodes); `summary_created` and `summary_updated` go out on the event bus."""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from flowengine.ai.aicall import AICallService, AISource
from flowengine.ai.definitions import AIConfig
from flowengine.ai.postcall.analysis import AnalysisUnavailable, summarise, transcript_of
from flowengine.ai.providers import ProviderUnavailable
from flowengine.events import EventBus
from flowengine.flow import varnames as v
from flowengine.flow.activeflow import Activeflow, ReferenceType
from flowengine.flow.context import ActionContext, StartFlow
from flowengine.flow.handlers import ActionFailed, executor
from flowengine.flow.ids import is_unset
from flowengine.flow.options.ai import AiSummaryOptions
from flowengine.providers.llm.base import LLMError, LLMProvider
from flowengine.store import NIL_ID, AIcall, NotFoundError, SecretDecryptError, Store, StoreError, Summary
from flowengine.store.views import view
from flowengine.tenancy import ENGINE_CUSTOMER_ID, acting_for, current_customer

log = logging.getLogger(__name__)

ON_END_VARIABLES = ("id", "reference_type", "reference_id", "language", "content")
"""Fields of the summary set as `voipbin.ai_summary.<field>` on its on_end flow."""
WRITE_ERRORS = (AnalysisUnavailable, ProviderUnavailable, LLMError, TimeoutError, LookupError, SecretDecryptError)
"""What leaves a summary `done` with an `error` instead of content."""
SETTLE_S = 15.0
"""How long a summary waits, once its call ended, for the AI calls on it to finish their transcripts."""


class LLMSource(Protocol):
    """Makes the model of an AI (flowengine.ai.providers.ProviderPool)."""

    def llm(self, engine_model: str, api_key: str, parameter: dict[str, Any]) -> LLMProvider: ...


def summary_view(record: Summary) -> dict[str, Any]:
    """The summary as the API and the `summary_*` events show it."""
    return view(record)


def on_end_variables(record: Summary) -> dict[str, Any]:
    return {f"voipbin.ai_summary.{name}": getattr(record, name) for name in ON_END_VARIABLES}


@dataclass
class Summaries:
    """Makes summaries (idempotently) and writes them: the store keeps them, the bus announces them.
    `ais` finds AIs the store does not hold (files, transient assistants); the store is asked next.
    `service`, the engine's AI calls, lets a summary wait until the AI calls on its call have ended."""

    store: Store
    events: EventBus
    llms: LLMSource
    ais: AISource | None = None
    service: AICallService | None = None

    @classmethod
    def of(cls, service: AICallService, store: Store, events: EventBus) -> Summaries:
        return cls(store, events, service.pool, service.ais, service)

    async def open(self, *, customer_id: str, reference_id: str, language: str, activeflow_id: str = NIL_ID,
                   on_end_flow_id: str = NIL_ID) -> tuple[Summary, bool]:
        """The customer's summary of the call `reference_id` in `language`: a new `progressing` one
        (announced with `summary_created`), or the one that exists. Returns it and whether it is new."""
        record, created = await self.store.summaries.create_once(Summary(
            customer_id=customer_id, activeflow_id=activeflow_id if not is_unset(activeflow_id) else NIL_ID,
            on_end_flow_id=on_end_flow_id if not is_unset(on_end_flow_id) else NIL_ID, reference_type="call",
            reference_id=reference_id, language=language))
        if created:
            self.events.emit("summary_created", record.customer_id, summary_view(record))
        return record, created

    async def finish(self, summary: Summary, *, call_ids: Collection[str], variables: Mapping[str, Any],
                     start_flow: StartFlow | None, parent: Activeflow | None) -> Summary | None:
        """Writes the summary of the ended call (`call_ids`: the ids its AI calls may know it by), marks it
        `done` (`summary_updated`), then starts its on_end flow as a child of `parent` with the summary's
        variables. None when the summary was deleted meanwhile (nothing is written or started then)."""
        await self._settle(call_ids)
        try:
            content, error = await self._summarise(summary, call_ids, variables), ""
        except WRITE_ERRORS as exc:
            content, error = "", str(exc) or type(exc).__name__
            log.warning("ai_summary %s of call %s failed: %s", summary.id, summary.reference_id, error)
        try:
            done = await self.store.summaries.update(summary.customer_id, summary.id, status="done", content=content,
                                                     error=error)
        except NotFoundError:
            log.info("ai_summary %s was deleted before it was written", summary.id)
            return None
        self.events.emit("summary_updated", done.customer_id, summary_view(done))
        if is_unset(done.on_end_flow_id) or start_flow is None:
            return done
        if parent is None:
            parent = Activeflow(id=NIL_ID, customer_id=done.customer_id)
        parent.variables = {**variables, **on_end_variables(done)}
        try:
            with acting_for(done.customer_id):
                await start_flow(done.on_end_flow_id, reference_type=ReferenceType.AI, reference_id=done.id,
                                 parent=parent)
        except LookupError as exc:
            log.warning("on_end flow of ai_summary %s not started: %s", done.id, exc)
        return done

    async def _settle(self, call_ids: Collection[str]) -> None:
        """Waits (a while) for the AI calls still running on the call: their last words end the transcript."""
        running = [live.done.wait() for live in (self.service.live.values() if self.service is not None else ())
                   if live.record.reference_id in call_ids]
        if not running:
            return
        try:
            async with asyncio.timeout(SETTLE_S):
                await asyncio.gather(*running)
        except TimeoutError:
            log.warning("AI calls on call %s still running %.0f s after it ended: summarising what is stored",
                        ", ".join(call_ids), SETTLE_S)

    async def _summarise(self, summary: Summary, call_ids: Collection[str], variables: Mapping[str, Any]) -> str:
        aicalls = await self._aicalls(summary.customer_id, call_ids)
        if not aicalls:
            raise LookupError(f"call {summary.reference_id} had no AI call: there is no transcript to summarise")
        lines: list[tuple[str, str]] = []
        last_ai = ""
        for record in aicalls:
            messages = await self.store.aimessages.transcript(record.customer_id, record.id)
            lines += [(m.role, m.content) for m in messages]
            last_ai = next((m.active_ai_id for m in reversed(messages) if not is_unset(m.active_ai_id)), last_ai)
        last = aicalls[-1]
        config = await self._config(last, last_ai or last.assistance_id, summary.reference_id)
        llm = self.llms.llm(config.ai.engine_model, config.engine_key.get_secret_value(), last.parameter)
        try:
            shown = {k: val for k, val in variables.items() if k not in v.AI_SUMMARY}
            return await summarise(llm, transcript_of(lines), json.dumps(shown, default=str, indent=1),
                                   summary.language)
        finally:
            await llm.aclose()

    async def _aicalls(self, customer_id: str, call_ids: Collection[str]) -> list[AIcall]:
        """The AI calls on the call, oldest first: the customer's, and the engine's (its file AIs')."""
        found: list[AIcall] = []
        for owner in dict.fromkeys((customer_id, ENGINE_CUSTOMER_ID)):
            token: str | None = None
            while True:
                page = await self.store.aicalls.list_page(owner, page_size=100, page_token=token, filters={
                    "reference_type": "call", "reference_id": [c for c in call_ids if c]})
                found += page.items
                token = page.next_page_token
                if not token:
                    break
        return sorted(found, key=lambda record: (record.tm_create, record.id))

    async def _config(self, aicall: AIcall, ai_id: str, call_id: str) -> AIConfig:
        """The AI that spoke last on the call, with its key: as the engine knows it, else from the store."""
        if self.ais is not None:
            with acting_for(aicall.customer_id):
                config = self.ais.get(ai_id)
            if config is not None:
                return config
        try:
            record = await self.store.ais.get(aicall.customer_id, ai_id)
        except NotFoundError:
            raise LookupError(f"the AI {ai_id} of call {call_id} is gone") from None
        key = await self.store.ais.get_engine_key(aicall.customer_id, ai_id)
        return AIConfig(record, key) if key is not None else AIConfig(record)


def _customer(af: Activeflow) -> str:
    """The activeflow's customer, else the one the running task acts for (as ActiveflowRecorder.owner)."""
    return af.customer_id if not is_unset(af.customer_id) else current_customer()


@executor("ai_summary", on_error="stop")
async def ai_summary(ctx: ActionContext, opts: AiSummaryOptions) -> None:
    service = ctx.services.ai
    if not isinstance(service, AICallService):
        raise ActionFailed("ai_summary needs AI calls configured in the engine")
    if service.store is None:
        raise ActionFailed("ai_summary keeps its summaries in the store, and this engine has none")
    kind = opts.reference_type or "call"
    if kind != "call":
        raise ActionFailed(f"ai_summary of a {kind!r}: flowengine has no {kind} transcripts; only calls are summarised")
    call = ctx.call
    reference_id = opts.reference_id or call.id
    if reference_id != call.id:
        raise ActionFailed("ai_summary can summarise only this activeflow's own call")
    summaries = Summaries.of(service, service.store, ctx.services.events)
    try:
        summary, created = await summaries.open(
            customer_id=_customer(ctx.activeflow), reference_id=reference_id, language=opts.language,
            activeflow_id=ctx.activeflow.id, on_end_flow_id=opts.on_end_flow_id)
    except StoreError as exc:
        raise ActionFailed(f"ai_summary could not be stored: {exc}") from None
    if not created:
        log.info("ai_summary of %s (%s) exists already: %s", reference_id, opts.language or "any language", summary.id)
        return

    async def write() -> None:
        await call.ended.wait()
        await summaries.finish(summary, call_ids=(call.id,), variables=ctx.variables.snapshot(),
                               start_flow=ctx.services.start_flow, parent=ctx.activeflow)

    ctx.runner.spawn(write())
