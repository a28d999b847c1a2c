"""OpenAI's wire conventions for the local fakes: its error body, the 401 that masks the key, Bearer auth."""
from __future__ import annotations

from aiohttp import web

from flowengine.bench.fakes.server import FakeServer


def openai_error(status: int, message: str, *, code: str | None = None, param: str | None = None) -> web.Response:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return web.json_response({"error": {"message": message, "type": kind, "param": param, "code": code}},
                             status=status)


def refused_key(request: web.Request) -> web.Response:
    """OpenAI's 401: the presented key masked in the message."""
    key = request.headers.get("Authorization", "").removeprefix("Bearer ")
    masked = key[:3] + "*" * max(0, len(key) - 7) + key[-4:]
    return openai_error(401, f"Incorrect API key provided: {masked}. You can find your API key at "
                             "https://platform.openai.com/account/api-keys.", code="invalid_api_key")


class OpenAIFake(FakeServer):
    """A fake of an OpenAI endpoint: `Authorization: Bearer <api_key>`, and OpenAI's bodies for every refusal."""

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.api_key}"

    async def refused(self, request: web.Request) -> web.Response | None:
        if self.authorized(request):
            return await super().refused(request)
        await super().refused(request)  # the latency and hang faults still apply
        return refused_key(request)

    def error(self, status: int, message: str) -> web.Response:
        return openai_error(status, message)
