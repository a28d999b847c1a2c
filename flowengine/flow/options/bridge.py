"""Options of the actions that bring calls together: connect, call, confbridge/conference/queue joins."""
from __future__ import annotations

from typing import Any

from pydantic import Field

from flowengine.flow.options.common import Address, Anonymous, OptionModel


class ConnectOptions(OptionModel):
    source: Address | None = Field(None, description="Caller id of the new legs.")
    destinations: list[Address] = Field(min_length=1, description="Who to dial (all at once).")
    early_media: bool = Field(False, description="Pass early media (ringing) to the caller.")
    relay_reason: bool = Field(False, description="Hang up with the first destination's reason.")
    anonymous: Anonymous = Field("", description="Anonymous caller id: yes, no or auto.")


class CallOptions(OptionModel):
    source: Address | None = Field(None, description="Caller id of the new calls.")
    destinations: list[Address] = Field(min_length=1, description="Who to call.")
    flow_id: str = Field("", description="Flow the new calls run.")
    actions: list[dict[str, Any]] = Field(
        default_factory=list, description="Inline actions the new calls run when flow_id is empty."
    )
    chained: bool = Field(False, description="New calls hang up with this call.")
    early_execution: bool = Field(False, description="Run the flow before the call is answered.")
    anonymous: Anonymous = Field("", description="Anonymous caller id: yes, no or auto.")


class ConfbridgeJoinOptions(OptionModel):
    confbridge_id: str = Field(description="Confbridge to join; blocks until the call leaves it.")


class ConferenceJoinOptions(OptionModel):
    conference_id: str = Field(description="Conference to join.")


class QueueJoinOptions(OptionModel):
    queue_id: str = Field(description="Queue to join.")
