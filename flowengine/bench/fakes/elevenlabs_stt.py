"""A local ElevenLabs Scribe realtime recogniser (`/v1/speech-to-text/realtime`): xi-api-key at the upgrade,
session_started, base64 input_audio_chunk messages, partial_transcript, committed_transcript for a manual commit
(or at its VAD's end of speech with commit_strategy=vad), commit_throttled under 0.3 s and input_error."""
from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

from aiohttp import web

from flowengine.bench.fakes.sttsocket import FakeSTTSocket, Session

MIN_COMMIT_S = 0.3


class FakeElevenLabsSTT(FakeSTTSocket):
    path = "/v1/speech-to-text/realtime"

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("xi-api-key", "") == self.api_key

    def error(self, status: int, message: str) -> web.Response:
        code = "invalid_api_key" if status == 401 else "internal_error"
        return web.json_response({"detail": {"status": code, "message": message}}, status=status)

    async def opened(self, session: Session) -> None:
        config = dict(session.entry.query)
        await self.send(session, {"message_type": "session_started", "session_id": uuid.uuid4().hex,
                                  "config": config})

    def audio(self, session: Session, message: Any) -> bytes | None:
        if not (isinstance(message, dict) and message.get("message_type") == "input_audio_chunk"):
            return None
        if message.get("commit"):
            return None  # a commit (its audio, if any, is ignored here)
        try:
            return base64.b64decode(str(message.get("audio_base_64", "")), validate=True)
        except (binascii.Error, ValueError):
            return b"\x00"  # odd length: undecodable

    async def interim(self, session: Session, text: str) -> None:
        await self.send(session, {"message_type": "partial_transcript", "text": text})

    async def speech_ended(self, session: Session) -> None:
        if session.entry.query.get("commit_strategy") == "vad":
            await self.send(session, {"message_type": "committed_transcript", "text": self.take(session)})
            self.committed(session)

    async def command(self, session: Session, message: Any) -> None:
        if isinstance(message, dict) and message.get("message_type") == "input_audio_chunk":
            uncommitted = session.now_s - session.committed_s
            if uncommitted < MIN_COMMIT_S:
                await self.send(session, {"message_type": "commit_throttled", "error": (
                    f"Commit request ignored: only {uncommitted:.2f}s of uncommitted audio. You need at least "
                    f"{MIN_COMMIT_S}s of uncommitted audio before committing.")})
                return
            text = self.take(session) if session.listener.heard else ""
            await self.send(session, {"message_type": "committed_transcript", "text": text}, answer=True)
            self.committed(session)
            return
        await self.send(session, {"message_type": "input_error", "error": f"unknown message {str(message)[:40]!r}"})

    async def undecodable(self, session: Session) -> None:
        await self.send(session, {"message_type": "input_error", "error": "audio_base_64 is not valid base64 PCM"})
