"""The action registry: duplicates refused, the whole catalogue, supported vs unsupported types."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from flowengine.flow.catalogue import ACTIONS, SPECS, build_registry
from flowengine.flow.errors import (
    DuplicateNameError,
    UnknownNameError,
    UnsupportedActionError,
)
from flowengine.flow.options.ai import AiTalkOptions
from flowengine.flow.options.call import SleepOptions, TalkOptions
from flowengine.flow.options.common import NoOptions
from flowengine.flow.registry import ActionRegistry, ActionSpec, Media, Registry

OPENAPI = Path("/work/shared/reference/voipbin-openapi/openapi.yaml")
UNSUPPORTED = {
    "mute",
    "conference_join",
    "queue_join",
    "transcribe_start",
    "transcribe_stop",
    "transcribe_recording",
    "message_send",
    "conversation_send",
    "case_create",
}


def test_registry_refuses_duplicates() -> None:
    registry = ActionRegistry()
    registry.add(ActionSpec("beep", NoOptions, "Beep."))
    with pytest.raises(DuplicateNameError, match="action type 'beep' is already registered"):
        registry.add(ActionSpec("beep", NoOptions, "Beep again."))
    generic: Registry[int] = Registry("provider")
    generic.register("a", 1)
    with pytest.raises(DuplicateNameError):
        generic.register("a", 2)


def test_unknown_names_suggest_the_closest() -> None:
    with pytest.raises(UnknownNameError) as caught:
        ACTIONS.get("digits_recieve")
    assert str(caught.value) == "unknown action type 'digits_recieve' (did you mean 'digits_receive'?)"
    assert isinstance(caught.value, KeyError)
    assert ACTIONS.suggest("zzzz") is None


def test_catalogue_covers_every_voipbin_action_type() -> None:
    names = {spec.name for spec in SPECS}
    assert len(names) == len(SPECS) == len(ACTIONS) == 44
    if OPENAPI.exists():  # the OpenAPI enum lacks a few types the code has
        schema = yaml.safe_load(OPENAPI.read_text())
        documented = set(schema["components"]["schemas"]["FlowManagerActionType"]["enum"])
        assert documented <= names
        assert names - documented == {"ai_task", "block", "empty", "case_create"}


def test_supported_and_unsupported() -> None:
    assert {spec.name for spec in ACTIONS.unsupported()} == UNSUPPORTED
    assert {"talk", "connect", "ai_talk", "ai_summary", "ai_task", "stream_echo"} <= {
        spec.name for spec in ACTIONS.supported()
    }
    ACTIONS.get("talk").require_supported()
    with pytest.raises(UnsupportedActionError, match="action type 'queue_join' is not supported by flowengine"):
        ACTIONS.get("queue_join").require_supported()


def test_specs_describe_targets_media_and_raw_options() -> None:
    assert ACTIONS.get("goto").target_options == ("target_id",)
    assert ACTIONS.get("branch").target_options == ("default_target_id", "target_ids")
    assert ACTIONS.get("branch").raw_options == frozenset({"variable"})
    assert ACTIONS.get("condition_datetime").target_options == ("false_target_id",)
    assert ACTIONS.get("talk").media is Media.RTC
    assert ACTIONS.get("block").media is Media.NON_RTC
    assert ACTIONS.get("ai_talk").media is Media.ANY


def test_fresh_registries_are_independent() -> None:
    registry = build_registry()
    assert registry is not ACTIONS and len(registry) == len(ACTIONS)


def test_parse_options_strict_for_documents_lax_after_substitution() -> None:
    sleep = ACTIONS.get("sleep")
    with pytest.raises(ValidationError):
        sleep.parse_options({"duration": "500"}, strict=True)
    assert sleep.parse_options({"duration": "500"}) == SleepOptions(duration=500)
    talk = ACTIONS.get("talk")
    parsed = talk.parse_options({"text": 42, "async": True})
    assert isinstance(parsed, TalkOptions) and parsed.text == "42" and parsed.async_ is True
    assert parsed.model_dump(exclude_defaults=True) == {"text": "42", "async": True}


def test_nulls_mean_not_given() -> None:
    parsed = ACTIONS.get("echo").parse_options({"duration": None})
    assert parsed.model_dump() == {"duration": 180000}
    assert ACTIONS.get("answer").parse_options(None) == NoOptions()


def test_ai_options_resolve_the_deprecated_ai_id() -> None:
    legacy = AiTalkOptions.model_validate({"ai_id": "a1"})
    assert (legacy.resolved_type, legacy.resolved_id) == ("ai", "a1")
    team = AiTalkOptions.model_validate({"assistance_type": "team", "assistance_id": "t1"})
    assert (team.resolved_type, team.resolved_id) == ("team", "t1")
