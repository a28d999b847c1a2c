"""Error bodies of the API (VoIPBIN's ErrorResponse) and the translation of every known failure to a 4xx."""
from __future__ import annotations

import logging
import uuid
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from flowengine.ai.placedcalls.errors import CallRefused, DialFailed
from flowengine.flow.errors import ExternalVariablesError, FlowValidationError
from flowengine.flow.problems import format_path
from flowengine.store.errors import (
    AlreadyExistsError,
    EncryptionKeyMissingError,
    InvalidChangeError,
    InvalidQueryError,
    NotFoundError,
    PreconditionFailedError,
    StaleRevisionError,
    StoreUnavailableError,
)

log = logging.getLogger(__name__)

Status = Literal[
    "INVALID_ARGUMENT", "UNAUTHENTICATED", "PERMISSION_DENIED", "NOT_FOUND", "ALREADY_EXISTS",
    "FAILED_PRECONDITION", "UNAVAILABLE", "INTERNAL",
]
STATUS_CODES: dict[Status, int] = {
    "INVALID_ARGUMENT": 400, "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409, "FAILED_PRECONDITION": 409, "UNAVAILABLE": 503, "INTERNAL": 500,
}
BODY_TOO_LARGE = "REQUEST_BODY_TOO_LARGE"
"""The reason of a 413 (flowengine.api.bodylimit): VoIPBIN's statuses have none of their own, so INVALID_ARGUMENT."""


class ErrorBody(BaseModel):
    status: Status
    reason: str
    message: str
    request_id: str
    field: str = ""
    """flowengine: the path of the offending field (`actions[2].option.text`), when one is to blame."""


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    """Raise from a route to answer with an ErrorResponse."""

    def __init__(self, status: Status, message: str, *, reason: str = "", field: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason or status
        self.field = field


def bad_request(message: str, field: str = "") -> ApiError:
    return ApiError("INVALID_ARGUMENT", message, field=field)


def not_found(resource: str, id: str) -> ApiError:
    return ApiError("NOT_FOUND", f"{resource} {id} not found", reason=f"{resource.upper()}_NOT_FOUND")


def conflict(message: str, reason: str = "FAILED_PRECONDITION") -> ApiError:
    return ApiError("FAILED_PRECONDITION", message, reason=reason)


def unavailable(message: str) -> ApiError:
    return ApiError("UNAVAILABLE", message)


def response(status: Status, message: str, *, reason: str = "", field: str = "",
             http_status: int | None = None) -> JSONResponse:
    """`http_status` for the few answers VoIPBIN's status list has no code of its own for (413 is
    INVALID_ARGUMENT with its own reason)."""
    body = ErrorBody(status=status, reason=reason or status, message=message, request_id=str(uuid.uuid4()),
                     field=field)
    headers = {"WWW-Authenticate": "Bearer"} if status == "UNAUTHENTICATED" else None
    return JSONResponse(ErrorResponse(error=body).model_dump(), status_code=http_status or STATUS_CODES[status],
                        headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return format_path(tuple(p for p in parts if isinstance(p, (str, int))))


def translate(exc: Exception) -> JSONResponse | None:
    """The response for a known failure; None for anything else (a bug: 500)."""
    if isinstance(exc, ApiError):
        return response(exc.status, exc.message, reason=exc.reason, field=exc.field)
    if isinstance(exc, RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        path = _field_path(tuple(first.get("loc", ())))
        message = "; ".join(f"{_field_path(tuple(e.get('loc', ()))) or 'body'}: {e.get('msg', '')}" for e in errors[:10])
        return response("INVALID_ARGUMENT", message, field=path)
    if isinstance(exc, FlowValidationError):
        first = exc.problems[0] if exc.problems else None
        message = "; ".join(f"{p.path or 'flow'}: {p.message}" for p in exc.problems[:10])
        return response("INVALID_ARGUMENT", message, field=first.path if first else "")
    if isinstance(exc, ExternalVariablesError):
        return response("INVALID_ARGUMENT", f"variables: {exc}", field="variables")
    if isinstance(exc, NotFoundError):
        return response("NOT_FOUND", str(exc), reason=f"{exc.resource.upper()}_NOT_FOUND")
    if isinstance(exc, AlreadyExistsError):
        return response("ALREADY_EXISTS", str(exc), reason=f"{exc.resource.upper()}_ALREADY_EXISTS", field="id")
    if isinstance(exc, (InvalidQueryError, InvalidChangeError)):
        return response("INVALID_ARGUMENT", str(exc))
    if isinstance(exc, (PreconditionFailedError, StaleRevisionError)):
        return response("FAILED_PRECONDITION", str(exc))
    if isinstance(exc, EncryptionKeyMissingError):
        text = str(exc)  # "<purpose> needs store.secret_key ...": the purpose names what was sent
        field = next((f for word, f in _SECRET_FIELDS if word in text.split(" needs ", 1)[0]), "")
        return response("FAILED_PRECONDITION", f"this engine cannot keep secrets: {text}", field=field)
    if isinstance(exc, StoreUnavailableError):
        return response("UNAVAILABLE", f"the store is unavailable: {exc}")
    if isinstance(exc, CallRefused):
        return response("INVALID_ARGUMENT", str(exc), field=exc.field)
    if isinstance(exc, DialFailed):
        return response("UNAVAILABLE", str(exc))
    return None


def install(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        translated = translate(exc)
        if translated is not None:
            return translated
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return response("INTERNAL", "internal error")

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 413:  # flowengine.api.bodylimit: a streamed body went past the limit
            return response("INVALID_ARGUMENT", str(exc.detail), reason=BODY_TOO_LARGE, http_status=413)
        by_code = {code: status for status, code in STATUS_CODES.items()}
        status: Status = by_code.get(exc.status_code, "INVALID_ARGUMENT")
        if exc.status_code == 405:
            return JSONResponse({"error": {"status": "INVALID_ARGUMENT", "reason": "METHOD_NOT_ALLOWED",
                                           "message": str(exc.detail), "request_id": str(uuid.uuid4())}},
                                status_code=405)
        return response(status, str(exc.detail))

    for kind in (ApiError, RequestValidationError, FlowValidationError, ExternalVariablesError, NotFoundError,
                 AlreadyExistsError, InvalidQueryError, InvalidChangeError, PreconditionFailedError,
                 StaleRevisionError, EncryptionKeyMissingError, StoreUnavailableError, CallRefused, DialFailed,
                 Exception):
        app.add_exception_handler(kind, handle)
    app.add_exception_handler(StarletteHTTPException, http_error)


# which request field carries the secret a store purpose names (flowengine.store: "ai engine_key"...)
_SECRET_FIELDS = (("engine_key", "engine_key"), ("tool secrets", "tools"), ("webhook_secret", "webhook_secret"),
                  ("webhook headers", "webhooks"))
