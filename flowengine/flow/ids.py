"""Action ids: VoIPBIN's reserved ids and the fresh ids given to actions written without one."""
from __future__ import annotations

import uuid

EMPTY_ID = "00000000-0000-0000-0000-000000000000"
"""The nil UUID: an action written with it (or with no id) gets a fresh UUID."""
START_ID = "00000000-0000-0000-0000-000000000001"
"""The initial cursor of an activeflow."""
FINISH_ID = "00000000-0000-0000-0000-000000000002"
"""Reaching it ends the activeflow; allowed as a jump target ("end here")."""
NEXT_ID = "00000000-0000-0000-0000-000000000003"
"""Internal marker of the runner ("continue the loop")."""

RESERVED_IDS: dict[str, str] = {START_ID: "start", FINISH_ID: "finish", NEXT_ID: "next"}
"""Reserved ids that cannot be given to an action."""


def new_action_id() -> str:
    return str(uuid.uuid4())


def is_unset(value: object) -> bool:
    """No id: absent, null, "" or the nil UUID (Go's zero value)."""
    return value is None or value == "" or value == EMPTY_ID
