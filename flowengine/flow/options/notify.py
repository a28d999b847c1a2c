"""Options of the messaging and notification actions: webhook, email, SMS, conversation, case, transcribe."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from flowengine.flow.options.common import Address, HttpMethod, OptionModel


class WebhookSendOptions(OptionModel):
    sync: bool = Field(False, description="Wait for the delivery before moving on.")
    uri: str = Field(description="Where to send the request.")
    method: HttpMethod = Field("POST", description="HTTP method.")
    data_type: str = Field("", description="Content type of data, e.g. application/json.")
    data: str | dict[str, Any] | list[Any] = Field(
        "", description="Body; a mapping or list is sent as JSON (flowengine extension)."
    )


class EmailAttachment(OptionModel):
    reference_type: Literal["", "recording"]
    reference_id: str


class EmailSendOptions(OptionModel):
    destinations: list[Address] = Field(min_length=1, description="Addresses of type email.")
    subject: str = Field(description="Subject line.")
    content: str = Field(description="Body, HTML or plain text.")
    attachments: list[EmailAttachment] = Field(default_factory=list, description="Recordings to attach.")


class MessageSendOptions(OptionModel):
    source: Address | None = None
    destinations: list[Address] = Field(min_length=1)
    text: str


class ConversationSendOptions(OptionModel):
    conversation_id: str
    text: str
    sync: bool = False


class CaseCreateOptions(OptionModel):
    name: str = ""
    detail: str = ""
    note: str = ""
    sync: bool = False


class TranscribeStartOptions(OptionModel):
    language: str = ""
    on_end_flow_id: str = ""
    provider: Literal["", "gcp", "aws"] = ""
    direction: Literal["", "in", "out", "both"] = "both"
