"""A local Deepgram live recogniser (`/v1/listen`): Token auth at the upgrade, Results (interim, is_final +
speech_final at its endpointing, is_final + from_finalize for Finalize), UtteranceEnd, SpeechStarted, KeepAlive,
CloseStream with Metadata, NET-0001 after an idle limit and DATA-0000 for undecodable audio."""
from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from flowengine.bench.fakes.sttsocket import FakeSTTSocket, Session

SIGNIFICANT_S = 0.1  # Deepgram may leave a Finalize unanswered when less than this is buffered


class FakeDeepgramSTT(FakeSTTSocket):
    path = "/v1/listen"
    unanswered_finalizes = 0  # Finalize commands left without a from_finalize result (nothing significant buffered)

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "") == f"Token {self.api_key}"

    def error(self, status: int, message: str) -> web.Response:
        return web.json_response({"err_code": "INVALID_AUTH" if status == 401 else "INTERNAL_SERVER_ERROR",
                                  "err_msg": message, "request_id": str(uuid.uuid4())}, status=status)

    def results(self, session: Session, text: str, *, is_final: bool, speech_final: bool = False,
                from_finalize: bool = False) -> dict[str, Any]:
        start, end = session.final_end_s, session.now_s
        message: dict[str, Any] = {
            "type": "Results", "channel_index": [0, 1], "start": round(start, 3), "duration": round(end - start, 3),
            "is_final": is_final, "speech_final": speech_final,
            "channel": {"alternatives": [{"transcript": text, "confidence": 0.98 if text else 0.0, "words": [
                {"word": w.lower().strip(".,?!"), "punctuated_word": w, "start": start, "end": end,
                 "confidence": 0.98} for w in text.split()]}]},
            "metadata": {"request_id": str(uuid.uuid4()), "model_uuid": str(uuid.uuid4()),
                         "model_info": {"name": session.entry.query.get("model", "nova-3"), "version": "fake",
                                        "arch": "fake"}}}
        if from_finalize:
            message["from_finalize"] = True
        if is_final:
            session.final_end_s = end
        return message

    async def speech_started(self, session: Session) -> None:
        if session.entry.query.get("vad_events") == "true":
            await self.send(session, {"type": "SpeechStarted", "channel": [0, 1], "timestamp": session.now_s})

    async def interim(self, session: Session, text: str) -> None:
        if session.entry.query.get("interim_results") == "true":
            await self.send(session, self.results(session, text, is_final=False))

    async def speech_ended(self, session: Session) -> None:
        text = self.take(session)
        await self.send(session, self.results(session, text, is_final=True, speech_final=True))
        if "utterance_end_ms" in session.entry.query:
            await self.send(session, {"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": session.now_s})

    async def command(self, session: Session, message: Any) -> None:
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "Finalize":
            if session.listener.heard or session.now_s - session.final_end_s >= SIGNIFICANT_S:
                text = self.take(session)
                await self.send(session, self.results(session, text, is_final=True, from_finalize=True),
                                answer=True)
            else:
                self.unanswered_finalizes += 1
            self.committed(session)
        elif kind == "CloseStream":
            session.entry.closed_by_client = True
            if session.listener.heard:
                await self.send(session, self.results(session, self.take(session), is_final=True))
            await self.send(session, {"type": "Metadata", "transaction_key": "deprecated",
                                      "request_id": str(uuid.uuid4()), "sha256": "", "created": "",
                                      "duration": session.now_s, "channels": 1})
            await self.close(session, 1000, "")
        # KeepAlive (and anything else) only keeps the socket from its idle close

    async def idle_close(self, session: Session) -> None:
        await self.close(session, 1011, "NET-0001")

    async def undecodable(self, session: Session) -> None:
        await self.close(session, 1008, "DATA-0000")
