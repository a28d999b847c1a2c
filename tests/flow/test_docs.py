"""docs/flows.md lists every action type of the catalogue, supported or not."""
from __future__ import annotations

from pathlib import Path

from flowengine.flow.catalogue import ACTIONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "flows.md"


def test_every_action_type_is_documented_in_the_right_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    catalogue, unsupported = text.split("### Known to VoIPBIN, not supported here")
    unsupported = unsupported.split("## Variables")[0]
    for spec in ACTIONS.supported():
        assert f"| `{spec.name}` |" in catalogue, spec.name
    for spec in ACTIONS.unsupported():
        assert f"`{spec.name}`" in unsupported, spec.name
        assert f"| `{spec.name}` |" not in catalogue, spec.name
