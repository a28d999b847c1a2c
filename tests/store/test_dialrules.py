"""Dialing rules are defined once: the stored outplan, the campaign file's `outplan:` and the API bodies agree."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from flowengine.api.app import create_app
from flowengine.api.deps import ApiDeps
from flowengine.api.voipbin.campaigns import DialInfoBody, OutplanBody
from flowengine.campaign.plan import OutplanSpec, PlanError, load_plan
from flowengine.store import Address, CustomerRecord, Outplan, Store
from flowengine.store.dialrules import DESTINATION_SLOTS, DialRules
from tests.api.conftest import ADMIN_KEY, Tenant, new_tenant

CID = "00000000-0000-4000-8000-0000000000c1"

# each holder of the rules, the fields it adds of its own, and what it needs besides the rules
HOLDERS: list[tuple[type[BaseModel], frozenset[str], dict[str, Any]]] = [
    (Outplan, frozenset(CustomerRecord.model_fields) | {"name", "detail", "call_window"}, {"customer_id": CID}),
    (OutplanSpec, frozenset({"call_window"}), {}),
    (OutplanBody, frozenset({"name", "detail", "call_window"}), {}),
    (DialInfoBody, frozenset(), {}),
]
HOLDER_IDS = [model.__name__ for model, _, _ in HOLDERS]

REFUSED = [("dial_timeout", 999), ("dial_timeout", 600001), ("try_interval", -1), ("max_try_count_0", -1),
           *((f"max_try_count_{i}", 101) for i in range(DESTINATION_SLOTS))]
ACCEPTED = [("dial_timeout", 1000), ("dial_timeout", 600000), ("try_interval", 0),
            *((f"max_try_count_{i}", v) for i in range(DESTINATION_SLOTS) for v in (0, 100))]


def test_the_rules_cover_every_destination_slot() -> None:
    tries = sorted(name for name in DialRules.model_fields if name.startswith("max_try_count_"))
    assert tries == [f"max_try_count_{i}" for i in range(DESTINATION_SLOTS)]


@pytest.mark.parametrize(("model", "own", "base"), HOLDERS, ids=HOLDER_IDS)
def test_each_holder_has_exactly_the_shared_rules(model: type[BaseModel], own: frozenset[str],
                                                  base: dict[str, Any]) -> None:
    assert set(model.model_fields) - own == set(DialRules.model_fields)
    for name, rule in DialRules.model_fields.items():
        held = model.model_fields[name]
        assert (held.annotation, held.default, held.default_factory, held.metadata, held.description) == (
            rule.annotation, rule.default, rule.default_factory, rule.metadata, rule.description), name


@pytest.mark.parametrize(("model", "own", "base"), HOLDERS, ids=HOLDER_IDS)
@pytest.mark.parametrize(("field", "value"), REFUSED)
def test_out_of_bounds_is_refused_naming_the_field(model: type[BaseModel], own: frozenset[str],
                                                   base: dict[str, Any], field: str, value: int) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate({**base, field: value})
    assert [error["loc"] for error in caught.value.errors()] == [(field,)]


@pytest.mark.parametrize(("model", "own", "base"), HOLDERS, ids=HOLDER_IDS)
def test_bounds_and_defaults_are_the_same_everywhere(model: type[BaseModel], own: frozenset[str],
                                                     base: dict[str, Any]) -> None:
    defaults = model.model_validate(base)
    assert isinstance(defaults, DialRules)
    assert defaults.dial_rules() == {"source": Address(), "dial_timeout": 30000, "try_interval": 60000,
                                     "max_try_count_0": 1, "max_try_count_1": 0, "max_try_count_2": 0,
                                     "max_try_count_3": 0, "max_try_count_4": 0}
    assert [defaults.max_tries(i) for i in range(DESTINATION_SLOTS)] == [1, 0, 0, 0, 0]
    for field, value in ACCEPTED:
        assert getattr(model.model_validate({**base, field: value}), field) == value


def test_campaign_file_names_the_field_and_keeps_address_strings(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    body = "name: c\nactions: [{type: sleep, option: {duration: 10}}]\ntargets: [{destination: '+15550001'}]\n"
    plan.write_text(body + "outplan: {source: '5550100', dial_timeout: 999, max_try_count_3: 101}\n")
    with pytest.raises(PlanError) as caught:
        load_plan(plan)
    assert [p.split(":")[0] for p in caught.value.problems] == ["outplan.dial_timeout", "outplan.max_try_count_3"]
    plan.write_text(body + "outplan: {source: '5550100', dial_timeout: 1000, max_try_count_1: 2}\n")
    loaded, _ = load_plan(plan)
    rules = loaded.outplan.dial_rules()
    assert rules["source"] == Address(type="tel", target="5550100")
    assert (rules["dial_timeout"], loaded.outplan.max_tries(1)) == (1000, 2)
    stored = Outplan(customer_id=CID, **rules)
    assert stored.dial_rules() == rules


async def test_store_keeps_every_rule(store: Store, customer_id: str) -> None:
    rules = {"source": Address(type="tel", target="5550100"), "dial_timeout": 1000, "try_interval": 0,
             "max_try_count_0": 100, "max_try_count_1": 2, "max_try_count_2": 3, "max_try_count_3": 4,
             "max_try_count_4": 5}
    created = await store.outplans.create(Outplan(customer_id=customer_id, name="p", **rules))
    assert (await store.outplans.get(customer_id, created.id)).dial_rules() == rules


@pytest.fixture
async def client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ApiDeps(store=store, admin_key=SecretStr(ADMIN_KEY)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


@pytest.fixture
async def tenant(store: Store) -> Tenant:
    return await new_tenant(store, "dialrules")


async def test_api_answers_400_naming_the_field(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await client.post("/v1.0/outplans", headers=tenant.headers, json={"name": "p"})
    assert created.status_code == 200, created.text
    assert {k: created.json()[k] for k in DialRules.model_fields} == DialRules().model_dump()
    for method, path in (("POST", "/v1.0/outplans"), ("PUT", f"/v1.0/outplans/{created.json()['id']}"),
                         ("PUT", f"/v1.0/outplans/{created.json()['id']}/dial_info")):
        for field, value in REFUSED:
            answer = await client.request(method, path, headers=tenant.headers, json={field: value})
            assert answer.status_code == 400, (path, field, answer.text)
            assert answer.json()["error"]["field"] == field, (path, answer.text)
            assert answer.json()["error"]["message"].startswith(f"{field}: "), (path, answer.text)
    kept = await client.get(f"/v1.0/outplans/{created.json()['id']}", headers=tenant.headers)
    assert kept.json()["dial_timeout"] == 30000
