"""What is left once an AI call ended: usage and costs stored on it, the post-call analysis run in the
background with the AI's model, and the end-of-call report published on the event bus."""
from __future__ import annotations

import logging
from typing import Any, Protocol

from flowengine.ai.definitions import AIConfig
from flowengine.ai.endreasons import hangup_reason, voiceos_reason
from flowengine.ai.events import AICallEvents
from flowengine.ai.postcall.analysis import AnalysisUnavailable, analyse, transcript_of
from flowengine.ai.providers import ProviderPool, ProviderUnavailable
from flowengine.providers.pricing import PriceTable, costs
from flowengine.providers.usage import UsageMeter
from flowengine.store import AIcall, AIMessage, Store
from flowengine.store.aifeatures import AnalysisPlan
from flowengine.store.views import view
from flowengine.tasks import TaskOwner

log = logging.getLogger(__name__)

END_OF_CALL_REPORT = "aicall_end_of_call_report"  # Vapi `end-of-call-report`, VoiceOS `conversation:ended`


class _Live(Protocol):
    record: AIcall
    meter: UsageMeter | None


class _Service(Protocol):
    store: Store | None
    pool: ProviderPool
    prices: PriceTable
    events: AICallEvents
    messages: dict[str, list[AIMessage]]


class CallOutcomes:
    """Owns the analysis tasks of ended AI calls (`aclose` waits for them)."""

    def __init__(self, service: _Service) -> None:
        self.service = service
        self.tasks = TaskOwner("post-call analyses")

    async def _save(self, live: _Live, **changes: Any) -> None:
        live.record = live.record.model_copy(update=changes)
        store = self.service.store
        if store is not None:
            live.record = await store.aicalls.update(live.record.customer_id, live.record.id, **changes)

    def _costed(self, live: _Live) -> dict[str, Any]:
        assert live.meter is not None
        report = live.meter.report
        return {"usage": report.as_dict(), "costs": costs(report, self.service.prices)}

    async def finish(self, live: _Live, config: AIConfig) -> None:
        """At the end of the call: usage and costs now; the analysis (if planned) after, in the background."""
        if live.meter is None:
            return
        live.meter.stop()
        await self._save(live, **self._costed(live))
        plan = config.ai.analysis_plan
        if plan is None:
            self._report(live)
            return
        self.tasks.start(self._analyse(live, config, AnalysisPlan.model_validate(plan)),
                         name=f"analysis-{live.record.id}")

    async def _analyse(self, live: _Live, config: AIConfig, plan: AnalysisPlan) -> None:
        assert live.meter is not None
        record = live.record
        messages = [(m.role, m.content) for m in self.service.messages.get(record.id, [])]
        snapshots = record.metadata.get("prompt_snapshots") or [{}]
        system_prompt = str(snapshots[0].get("prompt", ""))
        try:
            llm = self.service.pool.llm(config.ai.engine_model, config.engine_key.get_secret_value(),
                                        record.parameter)
            try:
                analysis = await analyse(llm, plan, transcript_of(messages), system_prompt,
                                         live.meter.report.analysis)
            finally:
                await llm.aclose()
        except (AnalysisUnavailable, ProviderUnavailable) as exc:
            analysis = {"errors": {"analysis": str(exc)}}
        except Exception as exc:
            log.exception("post-call analysis of aicall %s failed", record.id)
            analysis = {"errors": {"analysis": f"{type(exc).__name__}: {exc}"}}
        try:
            await self._save(live, analysis=analysis, **self._costed(live))
        finally:
            self._report(live)

    def _report(self, live: _Live) -> None:
        record = live.record
        bus = self.service.events.bus
        if bus is None:
            return
        data = view(record)  # VoIPBIN's webhook view: timestamps in its text form, as every other event
        data["transcript"] = transcript_of([(m.role, m.content) for m in self.service.messages.get(record.id, [])])
        bus.emit(END_OF_CALL_REPORT, record.customer_id, data, aicall_id=record.id,
                 ended_reason=record.ended_reason, hangup_reason=hangup_reason(record.ended_reason),
                 voiceos_ended_reason=voiceos_reason(record.ended_reason))

    async def aclose(self) -> None:
        """Waits for the analyses to end (each is one model call with its own timeout)."""
        await self.tasks.aclose(timeout=None)
