"""The AWS fakes' check of a SigV4 Authorization header: well-formed, the credential scope of the right key,
region and service, host and x-amz-date signed, and a signature that verifies with the secret over what arrived."""
from __future__ import annotations

import hashlib
import hmac
import re

from aiohttp import web

from flowengine.providers import aws

SIGV4 = re.compile(r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
                   r"/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})$")


def refusal(request: web.Request, body: bytes, *, access_key: str, secret_key: str, region: str, service: str) -> str:
    """"" when the request is signed right, else what is wrong with it."""
    found = SIGV4.match(request.headers.get("Authorization", ""))
    if found is None:
        return "not a SigV4 Authorization header"
    if (found["key"], found["region"], found["service"]) != (access_key, region, service):
        return f"credential scope {found['key']}/{found['region']}/{found['service']}"
    if not {"host", "x-amz-date"} <= set(found["signed"].split(";")):
        return "host and x-amz-date are not signed"
    headers = {name: request.headers.get(name, "") for name in found["signed"].split(";")}
    canonical, _ = aws.canonical_request(request.method, f"http://{request.host}{request.raw_path}", headers,
                                         hashlib.sha256(body).hexdigest())
    scope = f"{found['date']}/{region}/{service}/aws4_request"
    to_sign = "\n".join([aws.ALGORITHM, request.headers.get("x-amz-date", ""), scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = aws.signing_key(secret_key, found["date"], region, service)
    if not hmac.compare_digest(found["signature"], hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()):
        return "signature mismatch"
    return ""
