"""A local Cartesia live recogniser (`/stt/websocket`): Bearer (or X-API-Key) auth at the upgrade, binary pcm
in, transcript deltas (interim, final at its own silence detection), `finalize` answered by the last transcript
then flush_done, `close` by done; error objects for commands it does not know."""
from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from flowengine.bench.fakes.sttsocket import FakeSTTSocket, Session


class FakeCartesiaSTT(FakeSTTSocket):
    path = "/stt/websocket"

    def authorized(self, request: web.Request) -> bool:
        headers = request.headers
        return (headers.get("Authorization", "") == f"Bearer {self.api_key}"
                or headers.get("X-API-Key", "") == self.api_key)

    def error(self, status: int, message: str) -> web.Response:
        return web.json_response({"title": "Unauthorized" if status == 401 else "Error", "message": message,
                                  "error_code": "invalid_api_key" if status == 401 else "internal_error",
                                  "status_code": status, "request_id": str(uuid.uuid4())}, status=status)

    def transcript(self, session: Session, text: str, *, is_final: bool) -> dict[str, Any]:
        return {"type": "transcript", "is_final": is_final, "text": text, "request_id": str(id(session)),
                "duration": session.now_s, "language": session.entry.query.get("language", "en")}

    async def interim(self, session: Session, text: str) -> None:
        await self.send(session, self.transcript(session, text, is_final=False))

    async def speech_ended(self, session: Session) -> None:
        text = self.take(session)
        await self.send(session, self.transcript(session, self._delta(session, text), is_final=True))

    def _delta(self, session: Session, text: str) -> str:
        """Deltas carry their own spaces: a segment after another starts with one."""
        return f" {text}" if len(session.uncommitted) > 1 else text

    async def command(self, session: Session, message: Any) -> None:
        if message in ("finalize", "close"):
            if session.listener.heard:
                text = self.take(session)
                await self.send(session, self.transcript(session, self._delta(session, text), is_final=True),
                                answer=True)
            self.committed(session)
            if message == "finalize":
                await self.send(session, {"type": "flush_done", "request_id": str(id(session))}, answer=True)
            else:
                session.entry.closed_by_client = True
                await self.send(session, {"type": "done", "request_id": str(id(session))})
                await self.close(session, 1000, "")
            return
        await self.send(session, {"type": "error", "title": "Invalid message", "status_code": 400,
                                  "message": f"unknown command {str(message)[:40]!r}",
                                  "request_id": str(id(session))})

    async def undecodable(self, session: Session) -> None:
        await self.send(session, {"type": "error", "title": "Invalid audio", "status_code": 400,
                                  "message": "audio is not pcm_s16le", "request_id": str(id(session))})
        await self.close(session, 1008, "invalid audio")
