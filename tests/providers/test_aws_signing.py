"""AWS SigV4 against the published aws-sig-v4 test suite vectors, and the event-stream decoder."""
from __future__ import annotations

import datetime
import struct
import zlib

import pytest

from flowengine.bench.fakes.bedrock_llm import frame
from flowengine.providers.aws import Credentials, EventStreamDecoder, EventStreamError, Message, sign, uri_path

SUITE = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
WHEN = datetime.datetime(2015, 8, 30, 12, 36, tzinfo=datetime.UTC)
SCOPE = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"


@pytest.mark.parametrize(("name", "method", "url", "headers", "body", "signed", "signature"), [
    ("get-vanilla", "GET", "https://example.amazonaws.com/", {}, b"", "host;x-amz-date",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("get-vanilla-query-order-key-case", "GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1", {}, b"",
     "host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ("post-vanilla", "POST", "https://example.amazonaws.com/", {}, b"", "host;x-amz-date",
     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    ("post-x-www-form-urlencoded", "POST", "https://example.amazonaws.com/",
     {"Content-Type": "application/x-www-form-urlencoded"}, b"Param1=value1", "content-type;host;x-amz-date",
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
])
def test_the_published_test_vectors(name: str, method: str, url: str, headers: dict[str, str], body: bytes,
                                    signed: str, signature: str) -> None:
    out = sign(method, url, headers, body, credentials=SUITE, service="service", region="us-east-1", now=WHEN)
    assert out["Authorization"] == (f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders={signed}, "
                                    f"Signature={signature}"), name
    assert out["X-Amz-Date"] == "20150830T123600Z" and out["Host"] == "example.amazonaws.com"


def test_temporary_credentials_sign_the_session_token_and_secrets_stay_out_of_repr() -> None:
    temporary = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token-xyz")
    out = sign("GET", "https://example.amazonaws.com/", {}, b"", credentials=temporary, service="service",
               region="us-east-1", now=WHEN)
    assert out["X-Amz-Security-Token"] == "session-token-xyz"
    assert "SignedHeaders=host;x-amz-date;x-amz-security-token," in out["Authorization"]
    assert "wJalr" not in repr(temporary) and "session-token" not in repr(temporary)


def test_paths_are_encoded_once_more_as_services_other_than_s3_want() -> None:
    assert uri_path("/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream") == (
        "/model/anthropic.claude-3-5-haiku-20241022-v1%253A0/converse-stream")
    assert uri_path("") == "/"


def _typed_frame() -> bytes:
    """Every header value type, built byte by byte as the format describes."""
    headers = (b"\x04bool\x00" + b"\x05false\x01" + b"\x04byte\x02\xff" + b"\x05short\x03" + struct.pack(">h", -2)
               + b"\x03int\x04" + struct.pack(">i", 70000) + b"\x04long\x05" + struct.pack(">q", 2**40)
               + b"\x05bytes\x06" + struct.pack(">H", 3) + b"\x00\x01\x02"
               + b"\x0d:message-type\x07" + struct.pack(">H", 5) + b"event"
               + b"\x04time\x08" + struct.pack(">q", 1_700_000_000_000) + b"\x04uuid\x09" + bytes(range(16)))
    payload = b'{"ok": true}'
    prelude = struct.pack(">II", 12 + len(headers) + len(payload) + 4, len(headers))
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
    return body + struct.pack(">I", zlib.crc32(body))


def test_decoder_reads_every_header_type_across_any_chunking() -> None:
    data = _typed_frame() + frame({":event-type": "messageStop", ":message-type": "event"}, b'{"stopReason":"x"}')
    for size in (1, 7, 64, len(data)):
        decoder = EventStreamDecoder()
        messages: list[Message] = []
        for i in range(0, len(data), size):
            messages += decoder.feed(data[i:i + size])
        assert decoder.pending == 0 and len(messages) == 2, size
        first = messages[0]
        assert first.headers == {"bool": True, "false": False, "byte": -1, "short": -2, "int": 70000, "long": 2**40,
                                 "bytes": b"\x00\x01\x02", ":message-type": "event", "time": 1_700_000_000_000,
                                 "uuid": bytes(range(16)).hex()}
        assert first.payload == b'{"ok": true}' and first.kind == "event"
        assert messages[1].headers[":event-type"] == "messageStop"


@pytest.mark.parametrize(("where", "says"), [(10, "prelude CRC mismatch"), (-1, "message CRC mismatch"),
                                             (20, "message CRC mismatch")])
def test_a_bad_crc_is_an_error(where: int, says: str) -> None:
    bad = bytearray(_typed_frame())
    bad[where] ^= 0x01
    with pytest.raises(EventStreamError, match=says):
        EventStreamDecoder().feed(bytes(bad))


def test_lengths_that_cannot_be_are_errors_not_waits() -> None:
    prelude = struct.pack(">II", 8, 0)  # shorter than its own prelude and CRC
    with pytest.raises(EventStreamError, match="bad message length 8"):
        EventStreamDecoder().feed(prelude + struct.pack(">I", zlib.crc32(prelude)))
    decoder = EventStreamDecoder()
    assert decoder.feed(_typed_frame()[:30]) == [] and decoder.pending == 30  # incomplete: wait for more
