"""/v1.0/aisummaries: AI summaries of a customer's calls (VoIPBIN's AIManagerSummary); make one of a call."""
from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import Field

from flowengine.ai.postcall.summary import Summaries, summary_view
from flowengine.ai.providers import ProviderPool
from flowengine.api.auth import CustomerId, Deps
from flowengine.api.bodies import Body
from flowengine.api.deps import ApiDeps
from flowengine.api.errors import bad_request, conflict, not_found
from flowengine.api.pagination import PageOut, Paging, page_out
from flowengine.flow.activeflow import Activeflow
from flowengine.flow.ids import is_unset
from flowengine.flow.service import FlowNotFound
from flowengine.store import NIL_ID, Call, NotFoundError, Summary
from flowengine.store.summaries import SummaryReferenceType
from flowengine.store.views import view_model
from flowengine.tenancy import acting_for

log = logging.getLogger(__name__)

router = APIRouter(prefix="/aisummaries", tags=["AI"])
SummaryView = view_model(Summary, "AIManagerSummary")
LANGUAGE = r"^([A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*)?$"


class SummaryBody(Body):
    """VoIPBIN's body: every field required; "" (or the nil UUID) for no on_end flow, "" for no language."""

    on_end_flow_id: str = Field(max_length=64)
    reference_type: SummaryReferenceType
    reference_id: str = Field(max_length=64)
    language: str = Field(max_length=35, pattern=LANGUAGE, description="BCP47, e.g. en-US; empty: any")


def _summaries(deps: ApiDeps) -> Summaries:
    service = deps.engine.aicalls if deps.engine is not None else None
    if service is not None:
        return Summaries.of(service, deps.store, deps.events)
    return Summaries(deps.store, deps.events, ProviderPool(), deps.resources)  # no engine: stored calls only


def _uuid(resource: str, id: str) -> str:
    """A UUID in canonical form; anything else names no resource (404, as flowengine.api.ids)."""
    try:
        return str(uuid.UUID(id))
    except ValueError:
        raise not_found(resource, id) from None


async def _call(deps: ApiDeps, customer: str, reference_id: str) -> Call:
    call_id = _uuid("call", reference_id)
    return await deps.store.calls.get(customer, call_id)  # another customer's call: 404 like a missing one


def _check_on_end_flow(deps: ApiDeps, customer: str, flow_id: str) -> None:
    if is_unset(flow_id):
        return
    service = deps.flow_service()  # 503 when this engine runs no flows
    with acting_for(customer):
        try:
            service.get_flow(flow_id)
        except FlowNotFound:
            raise bad_request(f"flow {flow_id} not found", "on_end_flow_id") from None


@router.get("", response_model=PageOut[SummaryView])  # type: ignore[valid-type]
async def list_aisummaries(customer: CustomerId, deps: Deps, paging: Paging) -> dict[str, Any]:
    page = await deps.store.summaries.list_page(customer, page_size=paging.page_size, page_token=paging.page_token)
    return page_out(page, summary_view)


@router.post("", response_model=SummaryView)
async def create_aisummary(customer: CustomerId, deps: Deps, body: SummaryBody) -> dict[str, Any]:
    """Summarises a call's AI call transcripts (with its flow's variables) once the call has ended, as the
    `ai_summary` action does; returns the summary, `progressing` until it is written. One summary per call
    and language: asking again returns the existing one."""
    if body.reference_type != "call":
        raise bad_request(f"reference_type {body.reference_type!r} cannot be summarised: flowengine has no "
                          f"{body.reference_type} transcripts; only calls ('call') are summarised", "reference_type")
    call = await _call(deps, customer, body.reference_id)
    _check_on_end_flow(deps, customer, body.on_end_flow_id)
    registry = deps.engine.calls if deps.engine is not None else None
    live = registry.live.get(call.id) if registry is not None else None
    if live is not None and (live.gone.is_set() or live.customer_id != customer):
        live = None
    if live is None and call.status != "hangup":
        raise conflict(f"call {call.id} is {call.status} but not live on this engine: ask for its summary once it "
                       "has hung up")
    summaries = _summaries(deps)
    summary, created = await summaries.open(customer_id=customer, reference_id=call.id, language=body.language,
                                            activeflow_id=call.activeflow_id, on_end_flow_id=body.on_end_flow_id)
    if not created:
        return summary_view(summary)
    call_ids = tuple(dict.fromkeys(i for i in (call.id, call.channel_id) if i))
    start_flow = deps.engine.services.start_flow if deps.engine is not None else None
    runner = live.runner if live is not None else None

    async def write() -> None:
        try:
            if live is not None:
                await live.recorded.wait()  # hung up, and the hangup stored
            if runner is not None:
                parent, variables = runner.activeflow, runner.variables.snapshot()
            else:
                parent, variables = await _stored_activeflow(deps, customer, call.activeflow_id)
            with acting_for(customer):
                await summaries.finish(summary, call_ids=call_ids, variables=variables, start_flow=start_flow,
                                       parent=parent)
        except Exception:
            log.exception("ai summary %s of call %s was not written", summary.id, call.id)

    deps.tasks.start(write(), name="summary")
    return summary_view(summary)


async def _stored_activeflow(deps: ApiDeps, customer: str, activeflow_id: str) -> tuple[Activeflow, dict[str, Any]]:
    """The ended call's activeflow as the on_end flow's parent, and its last variables (none if it is gone)."""
    parent = Activeflow(id=activeflow_id if not is_unset(activeflow_id) else NIL_ID, customer_id=customer)
    if is_unset(activeflow_id):
        return parent, {}
    try:
        record = await deps.store.activeflows.get(customer, activeflow_id, include_deleted=True)
    except NotFoundError:
        return parent, {}
    return parent, dict(record.variables)


@router.get("/{id}", response_model=SummaryView)
async def get_aisummary(customer: CustomerId, deps: Deps, id: str) -> dict[str, Any]:
    return summary_view(await deps.store.summaries.get(customer, _uuid("summary", id)))


@router.delete("/{id}", response_model=SummaryView)
async def delete_aisummary(customer: CustomerId, deps: Deps, id: str) -> dict[str, Any]:
    summary = await deps.store.summaries.delete(customer, _uuid("summary", id))
    deps.events.emit("summary_deleted", customer, summary_view(summary))
    return summary_view(summary)
