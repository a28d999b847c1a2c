"""Every STT, TTS and LLM provider name users may write, with whether this engine can use it under the current
configuration and why not: what `flowengine providers` prints, answered by the same catalogue the API asks."""
from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from flowengine.providers import credentials
from flowengine.providers.catalogue import LLM, STT, TTS, Catalogue, Status

LLM_PROBE_MODEL = "any"  # the catalogue judges an LLM provider by `<provider>.<model>`: the model part is not checked


@dataclass(frozen=True)
class Row:
    kind: str  # stt | tts | llm
    name: str  # as the seeds and the API write it
    status: str  # available | needs setup | not in this engine | ...
    reason: str = ""  # why it cannot be used now ("" when available)
    base_url: str = ""  # the configured override ("" = the vendor's own)
    reachable: bool | None = None  # only with probing: a TCP connection to its server could be opened

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def rows() -> list[Row]:
    return [_row(catalogue, name) for catalogue in (STT, TTS, LLM) for name in catalogue.known()]


def _row(catalogue: Catalogue[Any], name: str) -> Row:
    written = f"{name}.{LLM_PROBE_MODEL}" if catalogue is LLM else name
    answer = catalogue.check(written)
    reason = answer.reason
    base = credentials.access(name).base_url if name in credentials.ENVIRONMENT and catalogue is not LLM else ""
    return Row(catalogue.kind, name, answer.status.value, reason, base)


async def probe(row: Row, default_hosts: dict[str, str], timeout: float = 2.0) -> Row:
    """`row` with `reachable` set: can a TCP connection be opened to its configured or default server?"""
    url = row.base_url or default_hosts.get(row.name, "")
    if not url or row.status != Status.AVAILABLE.value:
        return row
    parts = urlsplit(url if "//" in url else f"https://{url}")
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port), timeout)
    except (OSError, TimeoutError):
        return Row(**{**asdict(row), "reachable": False})
    writer.close()
    return Row(**{**asdict(row), "reachable": True})
