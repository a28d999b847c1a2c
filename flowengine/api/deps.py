"""What routes work with: the store, the event bus and (when serving calls) the running engine."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request
from pydantic import SecretStr

from flowengine.api.errors import unavailable
from flowengine.api.forwarding import Forwarder, operation
from flowengine.config import DEFAULT_MAX_BODY_BYTES
from flowengine.events import EventBus
from flowengine.store import Store
from flowengine.tasks import TaskOwner

if TYPE_CHECKING:
    from flowengine.ai.aicall import AICallService
    from flowengine.ai.placedcalls.service import PlacedCalls
    from flowengine.ai.sources import StoreResources
    from flowengine.api.webhooks import WebhookDispatcher
    from flowengine.flow.callregistry import CallRegistry
    from flowengine.flow.service import FlowService
    from flowengine.runtime import Engine


@dataclass
class ApiDeps:
    """Built once per app. Without an engine (`engine=None`) the stored resources work and the
    operations that need Asterisk answer 503."""

    store: Store
    events: EventBus = field(default_factory=EventBus)
    admin_key: SecretStr = field(default_factory=lambda: SecretStr(""))
    engine: Engine | None = None
    resources: StoreResources | None = None
    webhooks: WebhookDispatcher | None = None
    tasks: TaskOwner = field(default_factory=lambda: TaskOwner("api"))
    """What the API started in the background (activeflows, calls, summaries); closed with the server."""
    placed_calls: PlacedCalls | None = None
    """The calls the Vapi and VoiceOS front doors place (None without an engine); closed with the server."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """Largest request body accepted (config api.max_body_bytes); 413 past it."""
    cluster: Forwarder | None = None
    """With several nodes on one store: sends operations on another node's live records to that node."""

    async def live_op(self, name: str, customer_id: str, id: str, args: dict[str, Any] | None = None
                      ) -> dict[str, Any]:
        """The live operation `name` (api/forwarding.py) on record `id`, run by the node that owns it."""
        if self.cluster is None:
            return await operation(name).run(self, customer_id, id, args or {})
        return await self.cluster.run(self, name, customer_id, id, args or {})

    def flow_service(self) -> FlowService:
        engine = self.engine
        if engine is None or engine.flow_service is None:
            raise unavailable("this engine runs no flows (no Asterisk connection): the API serves stored data only")
        return engine.flow_service

    def call_registry(self) -> CallRegistry:
        engine = self.engine
        if engine is None or engine.calls is None:
            raise unavailable("this engine places no calls (no Asterisk connection): the API serves stored data only")
        return engine.calls

    def need_placed_calls(self) -> PlacedCalls:
        if self.placed_calls is None:
            raise unavailable("this engine places no calls (no Asterisk connection): the API serves stored data only")
        return self.placed_calls

    def ai_service(self) -> AICallService:
        engine = self.engine
        service = engine.aicalls if engine is not None else None
        if service is None:
            raise unavailable("this engine runs no AI calls (no Asterisk connection)")
        return service


def get_deps(request: Request) -> ApiDeps:
    deps = request.app.state.deps
    assert isinstance(deps, ApiDeps)
    return deps
