"""The request-body limit: an ASGI middleware that answers 413 past `max_body_bytes`, without buffering the body."""
from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowengine.api import errors


class BodyTooLarge(HTTPException):
    """A streamed body went past the limit while a route was reading it. An HTTPException so that FastAPI's
    body parsing lets it through (it turns any other exception into a 400); errors.install answers it."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=too_large_message(limit))


def too_large_message(limit: int) -> str:
    return f"the request body is larger than {limit} bytes (api.max_body_bytes)"


class BodyLimitMiddleware:
    """A declared Content-Length past the limit is refused before the app runs; a body without one
    (chunked) is counted as it streams in and refused at the first chunk that goes past it. Either way
    no more than the limit is ever held."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    break  # the server refuses a malformed length itself
                if declared > limit:
                    refusal = errors.response("INVALID_ARGUMENT", too_large_message(limit), reason=errors.BODY_TOO_LARGE,
                                              http_status=413)
                    await refusal(scope, receive, send)
                    return
                break
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
