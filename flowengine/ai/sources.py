"""Stored flows and AIs made runnable: the engine's flow source and AI source, customer-scoped.

The runner and `ai_talk` look flows and AIs up synchronously by id, so stored ones are kept in
memory: loaded at start, written through by the API, and loaded again just before the API starts
work. A lookup only finds what belongs to the customer the running task acts for
(flowengine.tenancy); the files of the flow directory and `ais/` belong to the engine's customer."""
from __future__ import annotations

import logging
from typing import NamedTuple

from pydantic import SecretStr

from flowengine.ai.aicall import AISource
from flowengine.ai.definitions import AIConfig
from flowengine.flow.context import FlowSource
from flowengine.flow.model import Action
from flowengine.flow.model import Flow as FlowDoc
from flowengine.store import AI, NIL_ID, Flow, SecretDecryptError, Store
from flowengine.tenancy import ENGINE_CUSTOMER_ID, current_customer

log = logging.getLogger(__name__)


class _Owned(NamedTuple):
    customer_id: str
    flow: FlowDoc | None = None
    ai: AIConfig | None = None


def flow_document(record: Flow) -> FlowDoc:
    """The runnable flow of a stored one."""
    on_complete = record.on_complete_flow_id if record.on_complete_flow_id != NIL_ID else None
    return FlowDoc(id=record.id, name=record.name or record.id, detail=record.detail, type=record.type or "flow",
                   variables=record.variables, on_complete_flow_id=on_complete,
                   actions=[Action.model_validate(a) for a in record.actions])


class StoreResources:
    """`get_flow(id)` (a FlowSource) and `get(ai_id)` (an AISource) over the files and the store."""

    def __init__(self, store: Store, flows: FlowSource | None = None, ais: AISource | None = None) -> None:
        self.store = store
        self.files_flows = flows
        self.files_ais = ais
        self._flows: dict[str, _Owned] = {}
        self._ais: dict[str, _Owned] = {}

    # -- lookups (synchronous: the runner and ai_talk call them) ---------------------------------
    def get_flow(self, flow_id: str) -> FlowDoc | None:
        customer = current_customer()
        if customer == ENGINE_CUSTOMER_ID and self.files_flows is not None:
            found = self.files_flows.get_flow(flow_id)
            if found is not None:
                return found
        owned = self._flows.get(flow_id)
        return owned.flow if owned is not None and owned.customer_id == customer else None

    def get(self, ai_id: str) -> AIConfig | None:
        customer = current_customer()
        if customer == ENGINE_CUSTOMER_ID and self.files_ais is not None:
            found = self.files_ais.get(ai_id)
            if found is not None:
                return found
        owned = self._ais.get(ai_id)
        return owned.ai if owned is not None and owned.customer_id == customer else None

    # -- keeping the memory in step with the store ------------------------------------------------
    def put_flow(self, record: Flow) -> FlowDoc:
        doc = flow_document(record)
        self._flows[record.id] = _Owned(record.customer_id, flow=doc)
        return doc

    async def put_ai(self, record: AI) -> AIConfig:
        key = await self.store.ais.get_engine_key(record.customer_id, record.id)
        secrets = await self.store.ais.get_tool_secrets(record.customer_id, record.id)  # signs function tools
        config = AIConfig(record, key or SecretStr(""), secrets)
        self._ais[record.id] = _Owned(record.customer_id, ai=config)
        return config

    def put_config(self, config: AIConfig) -> None:
        """An AI made by a front door (a Vapi transient assistant), with its tools' secrets."""
        self._ais[config.ai.id] = _Owned(config.ai.customer_id, ai=config)

    def drop(self, id: str) -> None:
        self._flows.pop(id, None)
        self._ais.pop(id, None)

    async def load_flow(self, customer_id: str, flow_id: str) -> FlowDoc:
        """The customer's stored flow, fresh from the store (NotFoundError otherwise)."""
        return self.put_flow(await self.store.flows.get(customer_id, flow_id))

    async def load_ai(self, customer_id: str, ai_id: str) -> AIConfig:
        return await self.put_ai(await self.store.ais.get(customer_id, ai_id))

    async def warm(self) -> None:
        """Loads every live stored flow and AI of every customer (at engine start)."""
        token: str | None = None
        while True:
            customers = await self.store.customers.list_page(page_size=100, page_token=token)
            for customer in customers.items:
                await self._warm_customer(customer.id)
            token = customers.next_page_token
            if not token:
                break
        log.info("%d stored flow(s) and %d stored AI(s) loaded", len(self._flows), len(self._ais))

    async def _warm_customer(self, customer_id: str) -> None:
        token: str | None = None
        while True:
            flows = await self.store.flows.list_page(customer_id, page_size=100, page_token=token)
            for flow in flows.items:
                self.put_flow(flow)
            token = flows.next_page_token
            if not token:
                break
        while True:
            ais = await self.store.ais.list_page(customer_id, page_size=100, page_token=token)
            for ai in ais.items:
                try:
                    await self.put_ai(ai)
                except SecretDecryptError as exc:  # one damaged secret must not keep the engine down
                    log.error("stored AI %s (customer %s) not loaded: %s", ai.id, customer_id, exc)
            token = ais.next_page_token
            if not token:
                break
