"""Who is calling: `Authorization: Bearer <key>` (or VoIPBIN's `?accesskey=`) -> a customer, or the admin."""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from flowengine.api.deps import ApiDeps, get_deps
from flowengine.api.errors import ApiError

_bearer = HTTPBearer(auto_error=False, description="an access key issued by `flowengine keys create`")
_query = APIKeyQuery(name="accesskey", auto_error=False, description="VoIPBIN's alternative to the header")


@dataclass(frozen=True)
class Principal:
    """The caller: a customer's key (`customer_id`), optionally an admin key (manages customers and keys).
    The configured `api.admin_key` is an admin without a customer."""

    customer_id: str | None
    admin: bool = False
    key_id: str = ""


def _unauthenticated(message: str = "missing or unknown access key") -> ApiError:
    return ApiError("UNAUTHENTICATED", message)


async def principal(
    request: Request,
    deps: Annotated[ApiDeps, Depends(get_deps)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    accesskey: Annotated[str | None, Depends(_query)],
) -> Principal:
    token = bearer.credentials if bearer is not None else accesskey
    if not token:
        raise _unauthenticated()
    admin = deps.admin_key.get_secret_value()
    if admin and hmac.compare_digest(token.encode(), admin.encode()):
        return Principal(None, admin=True)
    key = await deps.store.accesskeys.authenticate(token)
    if key is None:
        raise _unauthenticated()
    return Principal(key.customer_id, admin=key.admin, key_id=key.id)


async def customer_id(who: Annotated[Principal, Depends(principal)]) -> str:
    """The id of the calling customer: every query of a customer resource is scoped by it."""
    if who.customer_id is None:
        raise ApiError("PERMISSION_DENIED", "the admin key manages customers and keys; use a customer's key "
                       "for customer resources")
    return who.customer_id


async def admin(who: Annotated[Principal, Depends(principal)]) -> Principal:
    if not who.admin:
        raise ApiError("PERMISSION_DENIED", "this operation needs an admin key")
    return who


CustomerId = Annotated[str, Depends(customer_id)]
Admin = Annotated[Principal, Depends(admin)]
Deps = Annotated[ApiDeps, Depends(get_deps)]
