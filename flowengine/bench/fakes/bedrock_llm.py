"""A local Bedrock runtime: POST /model/{modelId}/converse-stream answered as an application/vnd.amazon.eventstream
of Converse events (CRCs right, the `p` padding field real events carry), the Authorization header checked: a
Bedrock API key as a bearer token, or SigV4 with the credential scope of service bedrock in the fake's region and
a signature that verifies with the fake's secret."""
from __future__ import annotations

import hmac
import itertools
import json
import struct
import zlib
from typing import Any

from aiohttp import web

from flowengine.bench.fakes import sigv4
from flowengine.bench.fakes.chat import ChatFake, Reply
from flowengine.bench.fakes.streaming import drop, watched
from flowengine.providers import aws

ERROR_TYPES = {400: "ValidationException", 403: "UnrecognizedClientException", 404: "ResourceNotFoundException",
               429: "ThrottlingException", 500: "InternalServerException", 503: "ServiceUnavailableException"}


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (total, headers length, CRC), string headers, payload, message CRC."""
    raw = b"".join(bytes([len(k)]) + k.encode() + b"\x07" + struct.pack(">H", len(v.encode())) + v.encode()
                   for k, v in headers.items())
    prelude = struct.pack(">II", 12 + len(raw) + len(payload) + 4, len(raw))
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw + payload
    return body + struct.pack(">I", zlib.crc32(body))


def event(kind: str, payload: dict[str, Any]) -> bytes:
    padding = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123"[:len(kind)]  # real events pad their size
    return frame({":event-type": kind, ":content-type": "application/json", ":message-type": "event"},
                 json.dumps({**payload, "p": padding}).encode())


class FakeBedrockLLM(ChatFake):
    """`api_key` is the Bedrock API key; `access_key`/`secret_key`/`region` the SigV4 identity it accepts.
    Reply.error is an exception type sent mid-stream (e.g. modelStreamErrorException)."""

    def __init__(self, *, access_key: str = "AKIDFAKE", secret_key: str = "fake-secret", region: str = "us-east-1",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self.refusal = ""  # why the last request's Authorization was refused

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/model/{model}/converse-stream", self._converse)

    def authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            self.refusal = ""
            return hmac.compare_digest(header[7:], self.api_key)
        self.refusal = sigv4.refusal(request, request.get("raw_body", b""), access_key=self.access_key,
                                     secret_key=self.secret_key, region=self.region, service="bedrock")
        return not self.refusal

    def error(self, status: int, message: str) -> web.Response:
        kind = ERROR_TYPES.get(status, "InternalServerException")
        if status in (401, 403) and self.refusal:
            status, kind = 403, "InvalidSignatureException"
            message = f"The request signature we calculated does not match the signature you provided ({self.refusal})."
        elif status in (401, 403):
            status, kind, message = 403, "UnrecognizedClientException", "The security token included in the request is invalid."
        return web.json_response({"message": message}, status=status,
                                 headers={"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"})

    async def _converse(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        request["raw_body"] = raw
        body = json.loads(raw) if raw else None
        entry = self.record(request, body)
        entry.query["model"] = request.match_info["model"]
        if (refusal := await self.refused(request)) is not None:
            return refusal
        if problem := _invalid(body):
            return web.json_response({"message": problem}, status=400,
                                     headers={"x-amzn-ErrorType": "ValidationException:"})
        reply = self.next_reply()
        response = web.StreamResponse(headers={"Content-Type": aws.EVENTSTREAM})
        await response.prepare(request)
        async with watched(entry):
            for sent, data in enumerate(_frames(reply, garbage=self.faults.garbage)):
                if self.drop_now(sent):
                    drop(request)
                    return response
                await self.pace()
                await response.write(data)
            await response.write_eof()
        return response


def _invalid(body: Any) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
        return "messages: a non-empty list is required"
    roles = [m.get("role") for m in body["messages"]]
    if roles[0] != "user":
        return ("A conversation must start with a user message. Try again with a conversation that starts with a "
                "user message.")
    if any(a == b for a, b in itertools.pairwise(roles)):
        return "A conversation must alternate between user and assistant roles."
    return ""


def _frames(reply: Reply, *, garbage: bool = False) -> list[bytes]:
    out = [event("messageStart", {"role": "assistant"})]
    if garbage:
        bad = bytearray(event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}}))
        bad[-1] ^= 0xFF  # the message CRC no longer matches
        return [*out, bytes(bad)]
    index = 0
    if reply.text:
        out += [event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}})
                for piece in reply.pieces(reply.text)]
        out.append(event("contentBlockStop", {"contentBlockIndex": 0}))
        index = 1
    if reply.error:
        return [*out, frame({":exception-type": reply.error, ":content-type": "application/json",
                             ":message-type": "exception"},
                            json.dumps({"message": "The model stream had an error."}).encode())]
    for i, (name, arguments) in enumerate(reply.tool_calls, start=index):
        out.append(event("contentBlockStart", {"contentBlockIndex": i, "start": {
            "toolUse": {"toolUseId": f"tooluse_fake{i}", "name": name}}}))
        out += [event("contentBlockDelta", {"contentBlockIndex": i, "delta": {"toolUse": {"input": piece}}})
                for piece in reply.pieces(arguments)]
        out.append(event("contentBlockStop", {"contentBlockIndex": i}))
    out.append(event("messageStop", {"stopReason": "tool_use" if reply.tool_calls else "end_turn"}))
    prompt, completion = reply.usage
    out.append(event("metadata", {"usage": {"inputTokens": prompt, "outputTokens": completion,
                                            "totalTokens": prompt + completion}, "metrics": {"latencyMs": 42}}))
    return out
