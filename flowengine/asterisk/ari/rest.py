"""ARI REST transport: one aiohttp session, JSON in and out, errors as specific exceptions."""
from __future__ import annotations

import base64
import json
import logging
from collections.abc import Awaitable
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

Params = dict[str, str | float | bool]


class AriError(Exception):
    """Base of every ARI failure."""


class AriUnavailable(AriError):
    """Asterisk's HTTP server cannot be reached (stopped, restarting, wrong address)."""


class AriHTTPError(AriError):
    """Asterisk answered with an error status."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        super().__init__(f"ARI {method} {path} -> {status}: {message}")


class AriAuthError(AriHTTPError):
    """401: wrong ARI username or password."""


class AriNotFound(AriHTTPError):
    """404: the channel/bridge/playback is gone (often: the caller hung up)."""


class AriConflict(AriHTTPError):
    """409: the resource is in the wrong state (e.g. channel not in Stasis for this call)."""


class AriUnprocessable(AriHTTPError):
    """422: e.g. adding a channel to a bridge before its StasisStart."""


_BY_STATUS: dict[int, type[AriHTTPError]] = {
    401: AriAuthError,
    404: AriNotFound,
    409: AriConflict,
    422: AriUnprocessable,
}


async def quietly(awaitable: Awaitable[Any]) -> None:
    """Await a best-effort ARI operation (cleanup): Asterisk's refusal is not an error here,
    typically because the channel or bridge is already gone."""
    try:
        await awaitable
    except AriError as exc:
        log.debug("ignored during cleanup: %s", exc)


def _encode(value: str | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class AriRest:
    """Calls `/ari/...` on one Asterisk. Owns its aiohttp session; close with `aclose()`."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def request(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        """Send one request; returns parsed JSON (None for 204)."""
        url = f"{self.base_url}/ari{path}"
        query = {k: _encode(v) for k, v in (params or {}).items()}
        try:
            async with self.session.request(method, url, params=query, json=body) as resp:
                text = await resp.text()
                if resp.status >= 400:
                    raise self._error(method, path, resp.status, text)
                if resp.status == 204 or not text:
                    return None
                return await resp.json(content_type=None)
        except aiohttp.ClientConnectionError as exc:
            raise AriUnavailable(f"ARI {method} {path}: cannot reach {self.base_url}: {exc}") from exc
        except TimeoutError as exc:
            raise AriUnavailable(f"ARI {method} {path}: no answer from {self.base_url}") from exc

    @staticmethod
    def _error(method: str, path: str, status: int, text: str) -> AriHTTPError:
        message = text.strip()
        try:
            decoded = json.loads(text)
            if isinstance(decoded, dict) and "message" in decoded:
                message = str(decoded["message"])
        except ValueError:
            pass
        if status == 401:
            message = "authentication failed: check the ARI username and password"
        cls = _BY_STATUS.get(status, AriHTTPError)
        return cls(method, path, status, message)

    async def get(self, path: str, params: Params | None = None) -> Any:
        return await self.request("GET", path, params)

    async def post(self, path: str, params: Params | None = None, body: dict[str, Any] | None = None) -> Any:
        return await self.request("POST", path, params, body)

    async def delete(self, path: str, params: Params | None = None) -> Any:
        return await self.request("DELETE", path, params)
