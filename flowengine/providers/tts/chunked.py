"""What the voices answering one POST with a streamed body share: the request with a read time limit, the
answer judged (status, an answer that is not audio), the connection cut when the reader stops early."""
from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from flowengine.providers.cloud import (
    CONNECT_TIMEOUT_S,
    READ_TIMEOUT_S,
    CloudClient,
    TransientError,
    error_text,
    raise_for_answer,
)

NOT_AUDIO = ("text/html", "text/plain", "application/json", "application/xml", "text/xml")


@asynccontextmanager
async def post(client: CloudClient, url: str, *, headers: Mapping[str, str], body: Any,
               params: Mapping[str, str] | None = None, read_timeout_s: float = READ_TIMEOUT_S,
               expect: str = "audio") -> AsyncIterator[aiohttp.ClientResponse]:
    """The vendor's 2xx answer, its body still to read as it arrives. `expect` "audio" refuses a 2xx answer whose
    type says it is a page or an error document (a proxy's page, an error sent as 200): TransientError. Leaving
    the block closes the connection unless the body was read to its end (a barge-in stops the vendor at once)."""
    timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT_S, sock_read=read_timeout_s)
    async with client.http.post(url, params=dict(params or {}), headers=dict(headers), json=body,
                                timeout=timeout) as response:
        try:
            await raise_for_answer(response, client.vendor)
            if expect == "audio" and response.content_type in NOT_AUDIO:
                raise TransientError(f"{client.vendor} answered {response.content_type}, not audio: "
                                     f"{await error_text(response, 120)}")
            yield response
        finally:
            if not response.content.is_eof():
                response.close()
