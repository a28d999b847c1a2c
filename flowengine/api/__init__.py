"""REST API: VoIPBIN-style /v1.0 resources, Vapi-compatible call endpoints, auth, webhooks.

Layout: the shared core here (app, auth, errors, bodylimit, pagination, bodies, ids, deps, webhooks, health, metrics,
server) under three front doors that only translate onto the engine's services: `voipbin/` (the /v1.0
resources), `vapi/` (Vapi's `/call`) and `voiceos/` (VoiceOS's `/conversations`, `/agents`).

How a module adds endpoints (flowengine/api/vapi/routes.py, voipbin/campaigns.py follow voipbin/flows.py):

- Write `flowengine/api/<door>/<name>.py` with a module-level `router = APIRouter(prefix="/<resource>",
  tags=[...])` and add its router to `VOIPBIN_ROUTERS` in app.py (mounted under /v1.0) or to `ROOT_ROUTERS`
  (mounted at the root, e.g. Vapi's `/call`). `create_app(deps)` includes them in that order.
- The current customer: declare a parameter `customer: CustomerId` (flowengine.api.auth). It runs the
  Bearer / `?accesskey=` authentication and gives the customer id; pass it first to every store call
  (`deps.store.flows.get(customer, id)`), so another customer's resource is a 404 like a missing one.
  Admin-only routes take `who: Admin` instead.
- The engine: declare `deps: Deps` (flowengine.api.auth). `deps.store` is the Store, `deps.events` the
  event bus, `deps.engine` the running Engine or None; `deps.flow_service()` and `deps.ai_service()`
  return the engine parts or answer 503 when the engine runs no calls; `deps.call_registry()` is the
  engine's live calls (flowengine.flow.callregistry: originate, hangup, mute, hold, talk, record).
  `deps.resources` (flowengine.ai.sources.StoreResources) makes stored flows/AIs runnable; start engine
  work inside `with acting_for(customer):` (flowengine.tenancy) so flows, AIs and records are the customer's.
- Path ids: `id: ResourceId` (flowengine.api.ids) turns a non-UUID into a 404. Lists: `paging: Paging`
  and return `page_out(page, view)` with `response_model=PageOut[View]` (flowengine.api.pagination).
- Bodies subclass `flowengine.api.bodies.Body` (unknown fields and NUL characters refused, naming the field).
- Errors: raise `ApiError` / `bad_request(msg, field)` (flowengine.api.errors); store errors (NotFoundError,
  AlreadyExistsError, ...) and validation errors are translated to VoIPBIN's ErrorResponse by app.py.
- Webhooks: `flowengine.api.webhooks.sign(secret, body)` and `WebhookSender.send(url, body, secret, method)`
  are the signed sender to reuse (Vapi serverUrl, VoiceOS hooks).
"""
