"""Our VoIPBIN views against VoIPBIN's OpenAPI schemas: an object the spec types as an object is never `null`
(unless it says nullable), and every timestamp keeps VoIPBIN's text form (`2024-02-09 07:01:35.666687`)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from flowengine.store import AI, Activeflow, AIcall, Call, Campaign, Flow, Store
from flowengine.store.records import Address
from tests.api.conftest import Tenant

SPEC = Path("/work/shared/reference/voipbin-openapi/openapi.yaml")  # VoIPBIN's own document (MIT)
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")
RESOURCES = {"calls": "CallManagerCall", "aicalls": "AIManagerAIcall", "activeflows": "FlowManagerActiveflow",
             "ais": "AIManagerAI", "flows": "FlowManagerFlow", "campaigns": "CampaignManagerCampaign"}


def schemas() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load(SPEC.read_text())["components"]["schemas"]
    return found


def walk(value: Any, schema: dict[str, Any], all_schemas: dict[str, Any], where: str, problems: list[str]) -> None:
    while "$ref" in schema:
        schema = all_schemas[schema["$ref"].rsplit("/", 1)[-1]]
    for part in schema.get("allOf", []):
        walk(value, part, all_schemas, where, problems)
    kind = schema.get("type")
    if value is None:
        if kind in ("object", "array") and not schema.get("nullable"):
            problems.append(f"{where} is null, the spec types it as an {kind}")
        return
    timestamp = kind == "string" and schema.get("format") == "date-time" and where.rsplit(".", 1)[-1].startswith("tm_")
    if timestamp and not (isinstance(value, str) and TIMESTAMP.match(value)):
        problems.append(f"{where} = {value!r} is not VoIPBIN's timestamp text")
    if kind == "object" and isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name in value:
                walk(value[name], sub, all_schemas, f"{where}.{name}", problems)
    if kind == "array" and isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            walk(item, schema["items"], all_schemas, f"{where}[{i}]", problems)


async def made(store: Store, customer: str) -> dict[str, str]:
    """One record of each resource as the engine leaves them: optional objects unset, an ended AI call."""
    flow = await store.flows.create(Flow(customer_id=customer, name="menu",
                                         actions=[{"id": "a1", "type": "answer", "option": {}}]))
    ai = await store.ais.create(AI(customer_id=customer, name="sales", engine_model="openai.gpt-4o"))
    aicall = await store.aicalls.create(AIcall(customer_id=customer, reference_type="call", assistance_id=ai.id))
    await store.aicalls.terminate(customer, aicall.id, reason="customer-ended-call")
    af = await store.activeflows.create(Activeflow(customer_id=customer, reference_type="call", flow_id=flow.id))
    call = await store.calls.create(Call(customer_id=customer, direction="outgoing", flow_id=flow.id,
                                         source=Address(type="tel", target="+15550100"),
                                         destination=Address(type="tel", target="+15550111")))
    campaign = await store.campaigns.create(Campaign(customer_id=customer, name="spring", flow_id=flow.id))
    return {"flows": flow.id, "ais": ai.id, "aicalls": aicall.id, "activeflows": af.id, "calls": call.id,
            "campaigns": campaign.id}


@pytest.mark.parametrize("resource", sorted(RESOURCES))
async def test_views_follow_voipbins_schema_objects_and_timestamps(client: httpx.AsyncClient, tenant: Tenant,
                                                                   store: Store, resource: str) -> None:
    ids = await made(store, tenant.id)
    all_schemas = schemas()
    schema = all_schemas[RESOURCES[resource]]
    problems: list[str] = []
    got = await client.get(f"/v1.0/{resource}/{ids[resource]}", headers=tenant.headers)
    assert got.status_code == 200, got.text
    walk(got.json(), schema, all_schemas, resource, problems)
    listed = await client.get(f"/v1.0/{resource}", headers=tenant.headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["result"], "nothing listed"
    for i, item in enumerate(listed.json()["result"]):
        walk(item, schema, all_schemas, f"{resource}[{i}]", problems)
    assert problems == []
