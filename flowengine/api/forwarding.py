"""Operations on live calls, activeflows and AI calls, run by the node that owns the record wherever they arrive.

Every node answers the API, but a live record is run by one node (the one holding its channel, runner or
conversation). A route names its operation (`deps.live_op("call.hangup", ...)`); the operation's body is
registered here with `live_operation`. Alone (no `Forwarder`), or for a record this node owns or that no
longer runs, the body runs here. For a record another live node owns, the request travels to that node over
the store's notification bus, which runs the same body through its own services and replies with the view
or the error it answered. A record whose owner is gone (lease run out) is a 409 at once; an owner that does
not answer in time is a 503: neither waits without end."""
from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from flowengine.api.errors import ApiError, bad_request, conflict, translate, unavailable
from flowengine.store import Store
from flowengine.store.noderequests import NodeRequests, NodeUnreachableError, RemoteFailureError
from flowengine.store.notify import Message, MessageError
from flowengine.store.owned import OwnedRepository

if TYPE_CHECKING:
    from flowengine.api.deps import ApiDeps

log = logging.getLogger(__name__)

LiveKind = Literal["call", "activeflow", "aicall"]
FORWARDED = "api_live_operation"
"""The request type of a forwarded operation on the bus."""
DEFAULT_TIMEOUT_S = 10.0

OperationBody = Callable[["ApiDeps", str, str, dict[str, Any]], Awaitable[dict[str, Any]]]
"""(deps, customer id, record id, arguments) -> the record's view; raises ApiError (or a store error)."""


@dataclass(frozen=True)
class Operation:
    name: str
    kind: LiveKind
    run: OperationBody
    timeout_s: float | None = None
    """How long a forwarded one may take on its owner (None: the Forwarder's own timeout)."""


OPERATIONS: dict[str, Operation] = {}


def live_operation(name: str, kind: LiveKind, *, timeout_s: float | None = None
                   ) -> Callable[[OperationBody], OperationBody]:
    """Registers the body of a live operation under `name` (refusing a name taken twice); `timeout_s` for one
    that waits on more than Asterisk (an AI's answer)."""
    def register(body: OperationBody) -> OperationBody:
        if name in OPERATIONS:
            raise ValueError(f"live operation {name!r} is registered twice")
        OPERATIONS[name] = Operation(name, kind, body, timeout_s)
        return body
    return register


def operation(name: str) -> Operation:
    found = OPERATIONS.get(name)
    if found is None:
        raise KeyError(f"no live operation {name!r}")
    return found


@dataclass(frozen=True)
class Owner:
    """The node running a record, and whether its lease still runs."""

    node_id: str
    alive: bool


class OwnerLookup(Protocol):
    """Who runs a live record: None when this node answers itself (it owns the record, no node is named,
    or the record no longer runs)."""

    async def __call__(self, kind: LiveKind, customer_id: str, id: str) -> Owner | None: ...


class Forwarder:
    """This node's end of forwarded operations: `run` sends them to the owner, `serve` answers them here."""

    def __init__(self, requests: NodeRequests, owners: OwnerLookup, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.requests = requests
        self.owners = owners
        self.timeout_s = timeout_s
        self.forwarded = 0

    @property
    def node_id(self) -> str:
        return self.requests.node_id

    def serve(self, deps: ApiDeps) -> None:
        """Answers the operations other nodes forward here, through `deps` (this node's services)."""
        async def handle(message: Message) -> dict[str, Any]:
            body = message.body
            op = OPERATIONS.get(str(body.get("op")))
            if op is None:
                return {"error": {"status": "INVALID_ARGUMENT", "message": f"no live operation {body.get('op')!r}"}}
            try:
                view = await op.run(deps, str(body["customer_id"]), str(body["id"]), dict(body.get("args") or {}))
            except Exception as exc:
                answer = translate(exc)
                if answer is None:
                    raise  # a bug: the requester hears it failed (RemoteFailureError)
                error = json.loads(bytes(answer.body))["error"]
                return {"error": {k: error.get(k, "") for k in ("status", "reason", "message", "field")}}
            log.info("%s of %s %s done for node %s", op.name, op.kind, body["id"], message.sender)
            return {"view": view}
        self.requests.handle(FORWARDED, handle)

    async def run(self, deps: ApiDeps, name: str, customer_id: str, id: str, args: dict[str, Any]) -> dict[str, Any]:
        op = operation(name)
        owner = await self.owners(op.kind, customer_id, id)
        if owner is None or owner.node_id == self.node_id:
            return await op.run(deps, customer_id, id, args)
        if not owner.alive:
            raise conflict(f"{op.kind} {id} is run by node {owner.node_id}, whose lease has run out: nothing was "
                           "done; a live node settles it (its end reason names that node)", reason="OWNER_NODE_LOST")
        self.forwarded += 1
        request = {"op": name, "customer_id": customer_id, "id": id, "args": args}
        try:
            reply = await self.requests.request(owner.node_id, FORWARDED, request,
                                                timeout_s=op.timeout_s or self.timeout_s)
        except NodeUnreachableError as exc:
            raise unavailable(f"{op.kind} {id} is run by node {owner.node_id}, which did not answer: {exc}") from None
        except RemoteFailureError as exc:
            raise unavailable(f"{op.kind} {id}: {exc}") from None
        except MessageError as exc:
            raise bad_request(f"{op.kind} {id} is run by node {owner.node_id}, and this request cannot reach it: "
                              f"{exc}") from None
        error = reply.get("error")
        if isinstance(error, dict):
            raise ApiError(error.get("status", "INTERNAL"), str(error.get("message", "")),
                           reason=str(error.get("reason", "")), field=str(error.get("field", "")))
        view = reply.get("view")
        return view if isinstance(view, dict) else {}


ENDED = {"call": ("hangup",), "activeflow": ("ended",), "aicall": ("terminated",)}
"""A record in one of these statuses no longer runs anywhere: any node answers it from the store."""


class StoreOwners:
    """The owner port over the store: a live record's `node_id` (stamped by the node that created it) and that
    node's lease in the `nodes` table."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def __call__(self, kind: LiveKind, customer_id: str, id: str) -> Owner | None:
        store = self.store
        repositories: dict[str, OwnedRepository[Any]] = {
            "call": store.calls, "activeflow": store.activeflows, "aicall": store.aicalls}
        repository = repositories[kind]
        record = await repository.get(customer_id, id)
        if getattr(record, "status", "") in ENDED[kind]:
            return None
        node_id = await repository.owner_of(customer_id, id)
        if node_id in ("", store.node_id):
            return None
        node = await store.nodes.get(node_id)
        return Owner(node_id, node is not None and node.live_at(store.clock()))
