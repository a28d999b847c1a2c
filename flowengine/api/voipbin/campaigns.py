"""/v1.0 campaigns, campaigncalls, outplans, outdials (+ targets): VoIPBIN's campaign-manager resources."""
from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field

from flowengine.api.auth import CustomerId, Deps
from flowengine.api.bodies import Body
from flowengine.api.deps import ApiDeps
from flowengine.api.errors import bad_request, conflict, not_found, unavailable
from flowengine.api.ids import ResourceId
from flowengine.api.pagination import PageOut, Paging, page_out
from flowengine.campaign.resources import CampaignConfigError, Resources
from flowengine.campaign.service import CampaignService
from flowengine.campaign.targets import parse_address
from flowengine.campaign.windows import zone
from flowengine.store import NIL_ID, Campaign, Campaigncall, Outdial, OutdialTarget, Outplan
from flowengine.store.dialrules import DialRules
from flowengine.store.records import Address
from flowengine.store.views import view, view_model

router = APIRouter()
campaigns = APIRouter(prefix="/campaigns", tags=["Campaign"])
campaigncalls = APIRouter(prefix="/campaigncalls", tags=["Campaign"])
outplans = APIRouter(prefix="/outplans", tags=["Outplan"])
outdials = APIRouter(prefix="/outdials", tags=["Outdial"])

CampaignView = view_model(Campaign, "CampaignManagerCampaign")
CampaigncallView = view_model(Campaigncall, "CampaignManagerCampaigncall")
OutplanView = view_model(Outplan, "OutplanManagerOutplan")
OutdialView = view_model(Outdial, "OutdialManagerOutdial")
TargetView = view_model(OutdialTarget, "OutdialManagerOutdialtarget")


def _resources(deps: ApiDeps) -> Resources:
    return Resources(deps.store, deps.events)


def _service(deps: ApiDeps) -> CampaignService:
    service = deps.engine.campaigns if deps.engine is not None else None
    if service is None:
        raise unavailable("this engine dials no campaigns (no Asterisk connection)")
    return service


def _ref(value: str) -> str:
    """VoIPBIN clients send "" or the nil UUID for "none"."""
    return value or NIL_ID


async def _checked(call: Any) -> Any:
    try:
        return await call
    except CampaignConfigError as exc:
        field = str(exc).split(":", 1)[0] if ":" in str(exc) else ""
        raise bad_request(str(exc), field) from None


# campaigns
class CampaignBody(Body):
    name: str = Field(max_length=255)
    detail: str = Field("", max_length=4096)
    type: Literal["call", "flow"] = "call"
    service_level: int = Field(100, ge=0, le=1000)
    end_handle: Literal["stop", "continue"] = "stop"
    actions: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)
    outplan_id: str = NIL_ID
    outdial_id: str = NIL_ID
    queue_id: str = NIL_ID
    next_campaign_id: str = NIL_ID
    flow_id: str = NIL_ID
    max_concurrent_calls: int = Field(1, ge=1, le=10000)
    calls_per_second: float = Field(1.0, gt=0, le=1000)


class CampaignUpdate(Body):
    name: str | None = Field(None, max_length=255)
    detail: str | None = Field(None, max_length=4096)
    type: Literal["call", "flow"] | None = None
    service_level: int | None = Field(None, ge=0, le=1000)
    end_handle: Literal["stop", "continue"] | None = None
    max_concurrent_calls: int | None = Field(None, ge=1, le=10000)
    calls_per_second: float | None = Field(None, gt=0, le=1000)


class StatusBody(Body):
    status: Literal["run", "stop"]


class ServiceLevelBody(Body):
    service_level: int = Field(ge=0, le=1000)


class ActionsBody(Body):
    actions: list[dict[str, Any]] = Field(max_length=1000)


class ResourceInfoBody(Body):
    outplan_id: str = NIL_ID
    outdial_id: str = NIL_ID
    queue_id: str = NIL_ID
    next_campaign_id: str = NIL_ID


class NextCampaignBody(Body):
    next_campaign_id: str = NIL_ID


@campaigns.get("", response_model=PageOut[CampaignView])  # type: ignore[valid-type]
async def list_campaigns(customer: CustomerId, deps: Deps, paging: Paging) -> dict[str, Any]:
    page = await deps.store.campaigns.list_page(customer, page_size=paging.page_size, page_token=paging.page_token)
    return page_out(page, view)


@campaigns.post("", response_model=CampaignView)
async def create_campaign(customer: CustomerId, deps: Deps, body: CampaignBody) -> dict[str, Any]:
    fields = body.model_dump()
    for name in ("outplan_id", "outdial_id", "queue_id", "next_campaign_id", "flow_id"):
        fields[name] = _ref(fields[name])
    done = await _checked(_resources(deps).create_campaign(Campaign(customer_id=customer, **fields)))
    return view(done)


@campaigns.get("/{id}", response_model=CampaignView)
async def get_campaign(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    return view(await deps.store.campaigns.get(customer, id))


async def _update(deps: ApiDeps, customer: str, id: str, changes: dict[str, Any]) -> dict[str, Any]:
    await deps.store.campaigns.get(customer, id)
    return view(await _checked(_resources(deps).update_campaign(customer, id, **changes)))


@campaigns.put("/{id}", response_model=CampaignView)
async def update_campaign(customer: CustomerId, deps: Deps, id: ResourceId, body: CampaignUpdate) -> dict[str, Any]:
    return await _update(deps, customer, id, body.model_dump(exclude_none=True))


@campaigns.delete("/{id}", response_model=CampaignView)
async def delete_campaign(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    campaign = await deps.store.campaigns.get(customer, id)
    if campaign.status != "stop":
        raise conflict(f"campaign {id} is {campaign.status}: stop it before deleting it")
    return view(await _resources(deps).delete_campaign(customer, id))


@campaigns.put("/{id}/status", response_model=CampaignView)
async def set_status(customer: CustomerId, deps: Deps, id: ResourceId, body: StatusBody) -> dict[str, Any]:
    await deps.store.campaigns.get(customer, id)
    return view(await _checked(_service(deps).set_status(customer, id, body.status)))


@campaigns.put("/{id}/service_level", response_model=CampaignView)
async def set_service_level(customer: CustomerId, deps: Deps, id: ResourceId,
                            body: ServiceLevelBody) -> dict[str, Any]:
    return await _update(deps, customer, id, {"service_level": body.service_level})


@campaigns.put("/{id}/actions", response_model=CampaignView)
async def set_actions(customer: CustomerId, deps: Deps, id: ResourceId, body: ActionsBody) -> dict[str, Any]:
    return await _update(deps, customer, id, {"actions": body.actions})


@campaigns.put("/{id}/resource_info", response_model=CampaignView)
async def set_resource_info(customer: CustomerId, deps: Deps, id: ResourceId,
                            body: ResourceInfoBody) -> dict[str, Any]:
    return await _update(deps, customer, id, {k: _ref(v) for k, v in body.model_dump().items()})


@campaigns.put("/{id}/next_campaign_id", response_model=CampaignView)
async def set_next_campaign(customer: CustomerId, deps: Deps, id: ResourceId,
                            body: NextCampaignBody) -> dict[str, Any]:
    return await _update(deps, customer, id, {"next_campaign_id": _ref(body.next_campaign_id)})


@campaigns.get("/{id}/campaigncalls", response_model=PageOut[CampaigncallView])  # type: ignore[valid-type]
async def list_campaign_calls(customer: CustomerId, deps: Deps, id: ResourceId, paging: Paging) -> dict[str, Any]:
    await deps.store.campaigns.get(customer, id)
    page = await deps.store.campaigncalls.list_page(customer, page_size=paging.page_size,
                                                    page_token=paging.page_token, filters={"campaign_id": id})
    return page_out(page, view)


# campaigncalls
@campaigncalls.get("", response_model=PageOut[CampaigncallView])  # type: ignore[valid-type]
async def list_campaigncalls(customer: CustomerId, deps: Deps, paging: Paging) -> dict[str, Any]:
    page = await deps.store.campaigncalls.list_page(customer, page_size=paging.page_size,
                                                    page_token=paging.page_token)
    return page_out(page, view)


@campaigncalls.get("/{id}", response_model=CampaigncallView)
async def get_campaigncall(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    return view(await deps.store.campaigncalls.get(customer, id))


@campaigncalls.delete("/{id}", response_model=CampaigncallView)
async def delete_campaigncall(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    call = await deps.store.campaigncalls.get(customer, id)
    if call.status != "done":
        raise conflict(f"campaigncall {id} is {call.status}: it can be deleted once done")
    return view(await _resources(deps).delete_call(customer, id))


# outplans
class DialInfoBody(DialRules, Body):
    """PUT /outplans/{id}/dial_info: the dialing rules only."""


class OutplanBody(DialInfoBody):
    name: str = Field("", max_length=255)
    detail: str = Field("", max_length=4096)
    call_window: dict[str, Any] | None = None


async def _window_checked(call: Any) -> Any:
    try:
        return await call
    except ValueError as exc:
        raise bad_request(f"call_window: {exc}", "call_window") from None


@outplans.get("", response_model=PageOut[OutplanView])  # type: ignore[valid-type]
async def list_outplans(customer: CustomerId, deps: Deps, paging: Paging) -> dict[str, Any]:
    page = await deps.store.outplans.list_page(customer, page_size=paging.page_size, page_token=paging.page_token)
    return page_out(page, view)


@outplans.post("", response_model=OutplanView)
async def create_outplan(customer: CustomerId, deps: Deps, body: OutplanBody) -> dict[str, Any]:
    plan = Outplan(customer_id=customer, **body.model_dump())
    return view(await _window_checked(_resources(deps).create_outplan(plan)))


@outplans.get("/{id}", response_model=OutplanView)
async def get_outplan(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    return view(await deps.store.outplans.get(customer, id))


@outplans.put("/{id}", response_model=OutplanView)
async def update_outplan(customer: CustomerId, deps: Deps, id: ResourceId, body: OutplanBody) -> dict[str, Any]:
    await deps.store.outplans.get(customer, id)
    return view(await _window_checked(_resources(deps).update_outplan(customer, id, **body.model_dump())))


@outplans.put("/{id}/dial_info", response_model=OutplanView)
async def update_dial_info(customer: CustomerId, deps: Deps, id: ResourceId, body: DialInfoBody) -> dict[str, Any]:
    await deps.store.outplans.get(customer, id)
    return view(await _resources(deps).update_outplan(customer, id, **body.model_dump()))


@outplans.delete("/{id}", response_model=OutplanView)
async def delete_outplan(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    return view(await _resources(deps).delete_outplan(customer, id))


# outdials and targets
class OutdialBody(Body):
    campaign_id: str = NIL_ID
    name: str = Field("", max_length=255)
    detail: str = Field("", max_length=4096)
    data: str = Field("", max_length=65536)


class CampaignIdBody(Body):
    campaign_id: str = NIL_ID


class DataBody(Body):
    data: str = Field("", max_length=65536)


class TargetBody(Body):
    name: str = Field("", max_length=255)
    detail: str = Field("", max_length=4096)
    data: str = Field("", max_length=65536)
    destination_0: Address | None = None
    destination_1: Address | None = None
    destination_2: Address | None = None
    destination_3: Address | None = None
    destination_4: Address | None = None
    timezone: str = ""


@outdials.get("", response_model=PageOut[OutdialView])  # type: ignore[valid-type]
async def list_outdials(customer: CustomerId, deps: Deps, paging: Paging) -> dict[str, Any]:
    page = await deps.store.outdials.list_page(customer, page_size=paging.page_size, page_token=paging.page_token)
    return page_out(page, view)


@outdials.post("", response_model=OutdialView)
async def create_outdial(customer: CustomerId, deps: Deps, body: OutdialBody) -> dict[str, Any]:
    fields = {**body.model_dump(), "campaign_id": _ref(body.campaign_id)}
    return view(await _resources(deps).create_outdial(Outdial(customer_id=customer, **fields)))


@outdials.get("/{id}", response_model=OutdialView)
async def get_outdial(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    return view(await deps.store.outdials.get(customer, id))


@outdials.put("/{id}", response_model=OutdialView)
async def update_outdial(customer: CustomerId, deps: Deps, id: ResourceId, body: OutdialBody) -> dict[str, Any]:
    await deps.store.outdials.get(customer, id)
    fields = {**body.model_dump(), "campaign_id": _ref(body.campaign_id)}
    return view(await _resources(deps).update_outdial(customer, id, **fields))


@outdials.put("/{id}/campaign_id", response_model=OutdialView)
async def set_outdial_campaign(customer: CustomerId, deps: Deps, id: ResourceId,
                               body: CampaignIdBody) -> dict[str, Any]:
    await deps.store.outdials.get(customer, id)
    return view(await _resources(deps).update_outdial(customer, id, campaign_id=_ref(body.campaign_id)))


@outdials.put("/{id}/data", response_model=OutdialView)
async def set_outdial_data(customer: CustomerId, deps: Deps, id: ResourceId, body: DataBody) -> dict[str, Any]:
    await deps.store.outdials.get(customer, id)
    return view(await _resources(deps).update_outdial(customer, id, data=body.data))


@outdials.delete("/{id}", response_model=OutdialView)
async def delete_outdial(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    return view(await _resources(deps).delete_outdial(customer, id))


@outdials.get("/{id}/targets", response_model=PageOut[TargetView])  # type: ignore[valid-type]
async def list_targets(customer: CustomerId, deps: Deps, id: ResourceId, paging: Paging) -> dict[str, Any]:
    await deps.store.outdials.get(customer, id)
    page = await deps.store.outdialtargets.list_page(customer, page_size=paging.page_size,
                                                     page_token=paging.page_token, filters={"outdial_id": id})
    return page_out(page, view)


@outdials.post("/{id}/targets", response_model=TargetView)
async def create_target(customer: CustomerId, deps: Deps, id: ResourceId, body: TargetBody) -> dict[str, Any]:
    await deps.store.outdials.get(customer, id)
    fields = body.model_dump()
    for index in range(5):
        address = getattr(body, f"destination_{index}")
        if address is not None:
            try:
                fields[f"destination_{index}"] = parse_address(address.model_dump())
            except ValueError as exc:
                raise bad_request(f"destination_{index}: {exc}", f"destination_{index}") from None
    if not any(fields[f"destination_{i}"] for i in range(5)):
        raise bad_request("destination_0: a target needs at least one destination", "destination_0")
    if body.timezone:
        try:
            zone(body.timezone)
        except ValueError as exc:
            raise bad_request(f"timezone: {exc}", "timezone") from None
    target = OutdialTarget(customer_id=customer, outdial_id=id, **fields)
    return view(await _resources(deps).create_target(target))


@outdials.get("/{id}/targets/{target_id}", response_model=TargetView)
async def get_target(customer: CustomerId, deps: Deps, id: ResourceId, target_id: str) -> dict[str, Any]:
    try:
        target_id = str(uuid.UUID(target_id))
    except ValueError:
        raise not_found("outdialtarget", target_id) from None
    target = await deps.store.outdialtargets.get(customer, target_id)
    if target.outdial_id != id:
        raise not_found("outdialtarget", target_id)
    return view(target)


@outdials.delete("/{id}/targets/{target_id}", response_model=TargetView)
async def delete_target(customer: CustomerId, deps: Deps, id: ResourceId, target_id: str) -> dict[str, Any]:
    target = await get_target(customer, deps, id, target_id)
    return view(await _resources(deps).delete_target(customer, target["id"]))


for _sub in (campaigns, campaigncalls, outplans, outdials):
    router.include_router(_sub)
