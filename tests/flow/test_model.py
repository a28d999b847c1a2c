"""Flow/Action models: fresh ids, reserved ids, API data and fetched actions."""
from __future__ import annotations

import uuid

import pytest

from flowengine.flow.errors import FlowValidationError
from flowengine.flow.ids import EMPTY_ID, FINISH_ID
from flowengine.flow.loader import load_actions, load_data, load_text


def test_actions_without_id_get_a_fresh_uuid() -> None:
    flow = load_text("name: x\nactions:\n  - type: answer\n  - {id: '', type: hangup}\n").flow
    ids = [a.id for a in flow.actions]
    assert all(uuid.UUID(i).version == 4 for i in ids)
    assert ids[0] != ids[1]


def test_nil_uuid_means_no_id_and_no_next() -> None:
    data = {
        "name": "x",
        "on_complete_flow_id": EMPTY_ID,
        "actions": [{"id": EMPTY_ID, "next_id": EMPTY_ID, "type": "answer", "option": None}],
    }
    flow = load_data(data).flow
    action = flow.actions[0]
    assert action.id != EMPTY_ID and action.next_id is None and action.option == {}
    assert flow.on_complete_flow_id is None and flow.type == "flow"


def test_finish_id_is_a_valid_target() -> None:
    flow = load_data({"name": "x", "actions": [{"type": "answer", "next_id": FINISH_ID}]}).flow
    assert flow.actions[0].next_id == FINISH_ID


def test_api_data_problems_carry_field_paths() -> None:
    with pytest.raises(FlowValidationError) as caught:
        load_data({"name": "x", "actions": [{"type": "talk", "option": {"text": 5}}]})
    [problem] = caught.value.problems
    assert problem.path == "actions[0].option.text"
    assert problem.message == "option 'text' of action 'talk' must be a string, got integer 5"


def test_fetched_actions_may_jump_to_known_ids() -> None:
    fetched = [{"id": "f1", "type": "talk", "option": {"text": "hi"}}, {"type": "goto", "option": {"target_id": "menu", "loop_count": 1}}]
    actions = load_actions(fetched, known_ids=frozenset({"menu"}))
    assert [a.type for a in actions] == ["talk", "goto"]
    with pytest.raises(FlowValidationError, match="refers to unknown action id 'menu'"):
        load_actions(fetched)
    with pytest.raises(FlowValidationError, match="the document must be a list of actions"):
        load_actions({"not": "a list"})
