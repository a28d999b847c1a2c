"""The JSON Schema of flow documents is valid and agrees with the validator on the corpus."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from flowengine.flow.catalogue import ACTIONS
from flowengine.flow.reader import read_file
from flowengine.flow.schema import flow_schema

from .conftest import FLOWS

SCHEMA = flow_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_schema_is_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", sorted((FLOWS / "good").iterdir()), ids=lambda p: p.name)
def test_good_corpus_validates(path: Path) -> None:
    VALIDATOR.validate(read_file(path).data)


def _errors(doc: dict[str, Any]) -> list[str]:
    return [e.message for e in VALIDATOR.iter_errors(doc)]


def test_bad_documents_are_refused() -> None:
    assert _errors({"name": "x", "actions": [{"type": "tlak"}]})
    assert _errors({"name": "x", "actions": [{"type": "talk", "option": {"txt": "hi"}}]})
    assert _errors({"name": "x", "actions": [{"type": "queue_join", "option": {"queue_id": "q"}}]})
    assert _errors({"name": "x", "actions": [{"type": "sleep", "option": {"duration": "soon"}}]})
    assert _errors({"name": "x", "actions": [], "variables": {"voipbin.call.id": "x"}})
    assert _errors({"actions": []})


def test_templates_are_allowed_for_typed_options() -> None:
    doc = {"name": "x", "actions": [{"type": "sleep", "option": {"duration": "${wait}"}}]}
    assert _errors(doc) == []


def test_one_variant_per_supported_action_type_with_its_option_names() -> None:
    mapping = SCHEMA["$defs"]["Action"]["discriminator"]["mapping"]
    assert set(mapping) == {spec.name for spec in ACTIONS.supported()}
    talk = SCHEMA["$defs"]["action_talk"]
    assert talk["properties"]["type"] == {"const": "talk"}
    options = SCHEMA["$defs"]["TalkOptions"]["properties"]
    assert {"text", "language", "voice_id", "digits_handle", "async"} <= set(options)
    assert SCHEMA["$defs"]["TalkOptions"]["required"] == ["text"]


def test_inline_call_actions_refer_back_to_actions() -> None:
    actions = SCHEMA["$defs"]["CallOptions"]["properties"]["actions"]["anyOf"][0]
    assert actions["items"] == {"$ref": "#/$defs/Action"}
