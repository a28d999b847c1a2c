"""What the AWS clients share: Signature Version 4 request signing and the application/vnd.amazon.eventstream
decoder (Bedrock's ConverseStream answer)."""
from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
EVENTSTREAM = "application/vnd.amazon.eventstream"


@dataclass(frozen=True)
class Credentials:
    """An access key pair (and the session token of temporary credentials). Secrets never in a repr."""

    access_key: str
    secret_key: str = field(repr=False)
    session_token: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials | None:
        """AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), None when the pair is not set."""
        env = os.environ if environ is None else environ
        key, secret = env.get("AWS_ACCESS_KEY_ID", ""), env.get("AWS_SECRET_ACCESS_KEY", "")
        return cls(key, secret, env.get("AWS_SESSION_TOKEN", "")) if key and secret else None


def region_from_env(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("AWS_REGION", "") or env.get("AWS_DEFAULT_REGION", "")


def uri_path(path: str) -> str:
    """The canonical URI of an already-encoded path: services other than S3 encode it once more (so a model id
    `v1:0`, sent as `v1%3A0`, is signed as `v1%253A0`, as botocore does)."""
    return quote(path or "/", safe="/~")


def _query(query: str) -> str:
    pairs = []
    for part in query.split("&") if query else ():
        name, _, value = part.partition("=")
        pairs.append((quote(name, safe="-_.~"), quote(value, safe="-_.~")))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret_key}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def canonical_request(method: str, url: str, headers: Mapping[str, str], payload_hash: str) -> tuple[str, str]:
    """(the canonical request, the signed header names) of a request whose `url` path is already encoded."""
    parts = urlsplit(url)
    lowered = sorted((k.lower(), " ".join(v.split())) for k, v in headers.items())
    signed = ";".join(k for k, _ in lowered)
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in lowered)
    text = "\n".join([method.upper(), uri_path(parts.path), _query(parts.query), canonical_headers, signed,
                      payload_hash])
    return text, signed


def sign(method: str, url: str, headers: Mapping[str, str], body: bytes, *, credentials: Credentials,
         service: str, region: str, now: datetime.datetime | None = None) -> dict[str, str]:
    """`headers` plus Host, X-Amz-Date, X-Amz-Security-Token (temporary credentials) and Authorization: what to
    send. `url` must be exactly what goes on the wire (an encoded path)."""
    moment = (now or datetime.datetime.now(datetime.UTC)).strftime("%Y%m%dT%H%M%SZ")
    date = moment[:8]
    netloc = urlsplit(url).netloc
    out = {**headers, "Host": netloc, "X-Amz-Date": moment}
    if credentials.session_token:
        out["X-Amz-Security-Token"] = credentials.session_token
    request, signed = canonical_request(method, url, out, hashlib.sha256(body).hexdigest())
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, moment, scope, hashlib.sha256(request.encode()).hexdigest()])
    signature = hmac.new(signing_key(credentials.secret_key, date, region, service), to_sign.encode(),
                         hashlib.sha256).hexdigest()
    out["Authorization"] = (f"{ALGORITHM} Credential={credentials.access_key}/{scope}, SignedHeaders={signed}, "
                            f"Signature={signature}")
    return out


class EventStreamError(ValueError):
    """Bytes that are not an event stream (bad lengths, a CRC that does not match)."""


@dataclass(frozen=True)
class Message:
    headers: dict[str, Any]
    payload: bytes

    @property
    def kind(self) -> str:
        """`:message-type`: event, exception or error."""
        return str(self.headers.get(":message-type", ""))


PRELUDE = 12  # total length, headers length, prelude CRC
MAX_MESSAGE = 16 << 20  # botocore's limit: a larger "length" is garbage, not a message to wait for
_FIXED = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}  # byte, short, int, long, timestamp (ms)


def _headers(data: bytes) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    pos = 0
    try:
        while pos < len(data):
            size = data[pos]
            name = data[pos + 1:pos + 1 + size].decode()
            pos += 1 + size
            kind = data[pos]
            pos += 1
            value: Any
            if kind in (0, 1):
                value = kind == 0
            elif kind in _FIXED:
                fmt = _FIXED[kind]
                (value,) = struct.unpack_from(fmt, data, pos)
                pos += struct.calcsize(fmt)
            elif kind in (6, 7):
                (length,) = struct.unpack_from(">H", data, pos)
                raw = data[pos + 2:pos + 2 + length]
                if len(raw) != length:
                    raise EventStreamError("a header value runs past the headers")
                value = raw.decode() if kind == 7 else raw
                pos += 2 + length
            elif kind == 9:
                value = data[pos:pos + 16].hex()
                pos += 16
            else:
                raise EventStreamError(f"unknown header value type {kind}")
            headers[name] = value
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise EventStreamError(f"malformed headers: {exc}") from None
    return headers


class EventStreamDecoder:
    """Feed bytes as they arrive; get the complete messages. A CRC mismatch is an EventStreamError."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        messages = []
        while len(self._buffer) >= PRELUDE:
            total, headers_len, prelude_crc = struct.unpack_from(">III", self._buffer)
            if zlib.crc32(self._buffer[:8]) != prelude_crc:
                raise EventStreamError("prelude CRC mismatch")
            if total < PRELUDE + 4 + headers_len or total > MAX_MESSAGE:
                raise EventStreamError(f"bad message length {total} (headers {headers_len})")
            if len(self._buffer) < total:
                break
            frame = bytes(self._buffer[:total])
            del self._buffer[:total]
            (message_crc,) = struct.unpack_from(">I", frame, total - 4)
            if zlib.crc32(frame[:-4]) != message_crc:
                raise EventStreamError("message CRC mismatch")
            headers = _headers(frame[PRELUDE:PRELUDE + headers_len])
            messages.append(Message(headers, frame[PRELUDE + headers_len:-4]))
        return messages

    @property
    def pending(self) -> int:
        """Bytes of an incomplete message (non-zero at the end of a stream: it was cut)."""
        return len(self._buffer)
