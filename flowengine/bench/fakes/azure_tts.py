"""A local Azure Speech voice: POST /cognitiveservices/v1 with SSML, the key header checked, a tone as long as the
text answered in the requested raw format, chunked and paced."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from aiohttp import web

from flowengine.bench.fakes.server import FakeServer, speech_seconds, tone
from flowengine.bench.fakes.streamed import stream_answer
from flowengine.bench.fakes.voice import record as voice_record
from flowengine.media.g711 import ulaw_encode

SSML_NS = "{http://www.w3.org/2001/10/synthesis}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FORMATS = {"raw-8khz-8bit-mono-mulaw": (8000, "mulaw"), "raw-16khz-16bit-mono-pcm": (16000, "s16le"),
           "raw-24khz-16bit-mono-pcm": (24000, "s16le")}
ACCESS_DENIED = ("Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
                 "key for an active subscription and use a correct regional API endpoint for your resource.")


class FakeAzureTTS(FakeServer):
    """Every request recorded with body = {"ssml", "lang", "voice", "text", "format"}."""

    chunk_ms = 100

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/cognitiveservices/v1", self._synthesize)

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("Ocp-Apim-Subscription-Key") == self.api_key

    def error(self, status: int, message: str) -> web.Response:
        text = ACCESS_DENIED if status == 401 else message
        return web.json_response({"error": {"code": str(status), "message": text}}, status=status)

    async def _synthesize(self, request: web.Request) -> web.StreamResponse:
        ssml = await request.text()
        entry = voice_record(self, request, {"ssml": ssml})
        refused = await self.refused(request)
        if refused is not None:
            return refused
        if request.content_type != "application/ssml+xml":
            return self.error(415, f"unsupported content type {request.content_type}")
        if not request.headers.get("User-Agent"):
            return self.error(400, "the User-Agent header is required")
        output = request.headers.get("X-Microsoft-OutputFormat", "")
        if output not in FORMATS:
            return self.error(400, f"unsupported output format {output!r}")
        try:
            speak = ET.fromstring(ssml)
            voice = speak.find(f"{SSML_NS}voice")
            if voice is None:
                voice = speak.find("voice")
        except ET.ParseError as exc:
            return self.error(400, f"SSML: {exc}")
        if speak.tag not in (f"{SSML_NS}speak", "speak") or voice is None or not voice.get("name"):
            return self.error(400, "SSML needs <speak> with a <voice name=...>")
        text = "".join(voice.itertext())
        entry.body.update(lang=speak.get(XML_LANG, ""), voice=voice.get("name"), text=text, format=output)
        if self.faults.garbage:
            return web.Response(body=b"<html><body>Service Unavailable</body></html>", content_type="text/html")
        rate, encoding = FORMATS[output]
        pcm = tone(speech_seconds(text), rate)
        audio = ulaw_encode(pcm) if encoding == "mulaw" else pcm.astype("<i2").tobytes()
        width = 1 if encoding == "mulaw" else 2
        return await stream_answer(self, request, entry, audio, content_type="audio/basic" if width == 1 else
                                   "audio/x-wav", chunk_bytes=rate * width * self.chunk_ms // 1000)
