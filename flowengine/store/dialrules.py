"""An outplan's dialing rules (caller id, dial timeout, retry interval, per-destination try counts) and their bounds."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from flowengine.store.records import Address

DESTINATION_SLOTS = 5
"""Destinations per outdial target (`destination_0..4`), each with its own try count."""

_TRIES = "Most tries of a target's destination_{} (0: never dial it)."


class DialRules(BaseModel):
    """The one definition of these fields: the stored outplan, the campaign file's `outplan:` block and the
    /v1.0/outplans bodies all inherit them, so defaults, bounds and descriptions cannot drift apart.
    Carries no config of its own: each user keeps its base's (frozen record, request body, file block)."""

    source: Address = Field(default_factory=Address, description="Caller id the calls present.")
    dial_timeout: int = Field(30000, ge=1000, le=600000,
                              description="Milliseconds a destination may ring before the try counts as no answer.")
    # bounded by the stored column (a 32-bit INTEGER on PostgreSQL): ~24.8 days
    try_interval: int = Field(60000, ge=0, le=2**31 - 1,
                              description="Milliseconds between two tries of the same target.")
    max_try_count_0: int = Field(1, ge=0, le=100, description=_TRIES.format(0))
    max_try_count_1: int = Field(0, ge=0, le=100, description=_TRIES.format(1))
    max_try_count_2: int = Field(0, ge=0, le=100, description=_TRIES.format(2))
    max_try_count_3: int = Field(0, ge=0, le=100, description=_TRIES.format(3))
    max_try_count_4: int = Field(0, ge=0, le=100, description=_TRIES.format(4))

    def max_tries(self, index: int) -> int:
        """`max_try_count_<index>` (index 0..DESTINATION_SLOTS-1)."""
        return int(getattr(self, f"max_try_count_{index}"))

    def dial_rules(self) -> dict[str, Any]:
        """These fields' values (models kept as models), to copy the rules from one kind of holder to another."""
        return {name: getattr(self, name) for name in DialRules.model_fields}
