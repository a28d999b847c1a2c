"""email_send against a local SMTP server (aiosmtpd), with a recording attached."""
from __future__ import annotations

import asyncio
import email
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from flowengine.asterisk.instance import free_port
from flowengine.flow.activeflow import ReferenceType
from flowengine.flow.context import Services, SmtpSettings
from flowengine.flow.model import Flow
from flowengine.flow.service import FlowService
from tests.support import Flows


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"




async def test_email_send_with_attachment(tmp_path: Path) -> None:
    inbox = Inbox()
    port = free_port("127.0.0.1")
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        (tmp_path / "rec-1.wav").write_bytes(b"RIFF0000WAVE")
        flow = Flow.model_validate({"id": "m", "name": "m", "actions": [
            {"type": "email_send", "option": {
                "destinations": [{"type": "email", "target": "ops@example.com"}],
                "subject": "Call from ${who}", "content": "<p>See the recording.</p>",
                "attachments": [{"reference_type": "recording", "reference_id": "rec-1"}]}},
            {"type": "email_send", "option": {"destinations": [{"type": "tel", "target": "+1555"}],
                                              "subject": "x", "content": "y"}},
        ]})
        services = Services(flows=Flows(flow), recordings_dir=str(tmp_path),
                            smtp=SmtpSettings(host="127.0.0.1", port=port, sender="engine@example.com"))
        service = FlowService(services)
        af = await asyncio.wait_for(
            service.run(service.create(flow, reference_type=ReferenceType.API, external={"who": "Alice"})), 10)
    finally:
        controller.stop()
    assert af.ended_reason == "finished"  # the second email failed (not an address) and was logged, not fatal
    assert len(inbox.messages) == 1
    msg = inbox.messages[0]
    assert msg["Subject"] == "Call from Alice" and msg["To"] == "ops@example.com"
    names = [part.get_filename() for part in msg.walk() if part.get_filename()]
    assert names == ["rec-1.wav"]
