"""Declared (Vapi) tools, request signing, team rules and squads, AI files with tools, the event map."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowengine.ai import events as ev
from flowengine.ai.definitions import AIConfig, AIDefinitionError, load_ai_file
from flowengine.ai.eventmap import EVENT_MAP, vapi_message_type, voiceos_hook
from flowengine.ai.teams import TeamDirectory, TeamError, squad_to_team
from flowengine.ai.tools.declared import DeclaredToolError, parse_tools, split_secrets
from flowengine.ai.tools.outcome import arguments
from flowengine.ai.tools.server import request_body
from flowengine.ai.tools.signing import sign, verify
from flowengine.providers.llm.base import ToolCall

FUNCTION = {"type": "function", "function": {"name": "lookup_order", "parameters": {
    "type": "object", "properties": {"order": {"type": "string"}}}},
    "server": {"url": "http://127.0.0.1:9/tool", "secret": "s3cret", "timeoutSeconds": 2},
    "messages": [{"type": "request-start", "content": "One moment."}]}


def test_declared_tools_parse_to_specs_and_keep_secrets_apart() -> None:
    tools = parse_tools([FUNCTION, {"type": "dtmf"}, {"type": "endCall"},
                         {"type": "transferCall", "destinations": [{"type": "number", "number": "+15550100",
                                                                    "message": "Transferring you now."}]}])
    specs = {t.name: t.spec() for t in tools}
    assert set(specs) == {"lookup_order", "dtmf", "endCall", "transferCall"}
    assert specs["transferCall"].parameters["properties"]["destination"]["enum"] == ["+15550100"]
    assert tools[0].message("request-start") is not None and tools[0].server is not None
    assert tools[0].server.timeoutSeconds == 2
    clean, secrets = split_secrets([FUNCTION])
    assert secrets == {"lookup_order": "s3cret"} and "s3cret" not in json.dumps(clean)


def test_declared_tools_name_every_bad_field() -> None:
    with pytest.raises(DeclaredToolError) as err:
        parse_tools([{"type": "function", "function": {"name": "x"}},
                     {"type": "dtmf", "async": True},
                     {"type": "transferCall", "destinations": [{"type": "sip"}]},
                     {"type": "function", "function": {"name": "y"}, "server": {"url": "ftp://x"}, "oops": 1},
                     {"type": "endCall", "messages": [{"type": "request-start", "content": "a",
                                                       "conditions": [{"param": "p"}]}]}])
    text = str(err.value)
    for expected in ("tools[0]: Value error, a function tool needs", "tools[1].async", "tools[2].destinations.0",
                     "sipUri", "tools[3].server.url", "tools[3].oops", "conditions are not supported"):
        assert expected in text, expected


def test_signature_scheme() -> None:
    body = b'{"message": {}}'
    header = sign("k", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify("k", body, header) and not verify("other", body, header) and not verify("k", body + b" ", header)


def test_run_llm_is_taken_out_of_the_arguments() -> None:
    assert arguments(ToolCall("1", "x", '{"a": 1, "run_llm": true}')) == ({"a": 1}, True)
    assert arguments(ToolCall("1", "x", "")) == ({}, None)
    with pytest.raises(ValueError, match="not a JSON object"):
        arguments(ToolCall("1", "x", "[1]"))
    body = request_body(ToolCall("c1", "lookup_order", '{"order": "42"}'), {"id": "a"})
    assert body["message"]["toolCallList"][0]["function"]["arguments"] == {"order": "42"}


def test_ai_file_with_tools_and_bad_tool_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOL_SECRET", "from-env")
    good = tmp_path / "a.yaml"
    good.write_text(json.dumps({"engine_model": "rules.appointments", "tool_names": ["stop_service"], "tools": [
        {**FUNCTION, "server": {"url": "http://127.0.0.1:9/t", "secret_env": "TOOL_SECRET"}}]}))
    config = load_ai_file(good)
    assert config.tool_secrets["lookup_order"].get_secret_value() == "from-env"
    assert "secret" not in json.dumps(config.ai.tools) and config.ai.tools[0]["server"]["url"].endswith("/t")
    bad = tmp_path / "b.yaml"
    bad.write_text(json.dumps({"tool_names": ["stop_service", "teleport"]}))
    with pytest.raises(AIDefinitionError, match="'teleport' is not a tool"):
        load_ai_file(bad)


class _AIs:
    def __init__(self, *configs: AIConfig) -> None:
        self.by = {c.ai.id: c for c in configs} | {c.ai.name: c for c in configs}

    def get(self, ai_id: str) -> AIConfig | None:
        return self.by.get(ai_id)


def test_squad_maps_onto_a_team_and_names_unsupported_fields() -> None:
    squad = {"members": [
        {"assistant": {"name": "Reception", "model": {"provider": "openai", "model": "gpt-4o", "messages": [
            {"role": "system", "content": "You greet."}]}, "voice": {"provider": "espeak", "voiceId": "en+m3"}},
         "assistantDestinations": [{"type": "assistant", "assistantName": "Billing", "message": "Moving you over.",
                                    "description": "billing questions"}]},
        {"assistant": {"name": "Billing", "model": {"provider": "openai", "model": "gpt-4o-mini"},
                       "voice": {"provider": "espeak", "voiceId": "en+f4"}}},
    ]}
    team, ais = squad_to_team(squad)
    assert [m.name for m in team.members] == ["Reception", "Billing"] and team.start_member_id == team.members[0].id
    transition = team.members[0].transitions[0]
    assert transition.function_name == "transfer_to_billing" and transition.next_member_id == team.members[1].id
    assert team.parameter["transition_messages"] == {"transfer_to_billing": "Moving you over."}
    assert ais[0].ai.init_prompt == "You greet." and ais[1].ai.tts_voice_id == "en+f4"
    assert ais[0].ai.engine_model == "openai.gpt-4o"
    squad["members"][0]["assistant"]["backgroundSound"] = "office"  # type: ignore[index]
    squad["members"][1]["assistantDestinations"] = [{"type": "number", "assistantName": "Nobody"}]  # type: ignore[index]
    with pytest.raises(TeamError) as err:
        squad_to_team(squad)
    text = str(err.value)
    assert "squad.members[0].assistant.backgroundSound: not supported" in text
    assert "assistantDestinations[0].type: only 'assistant'" in text and "'Nobody'" in text


def test_team_files_follow_the_team_rules(tmp_path: Path) -> None:
    from flowengine.store import AI

    a = AIConfig(AI(id="8a0e5c1e-0000-4000-8000-00000000000a", customer_id="8a0e5c1e-0000-4000-8000-0000000000c1",
                    name="front", tool_names=["stop_service"]))
    folder = tmp_path / "teams"
    folder.mkdir()
    (folder / "desk.yaml").write_text(json.dumps({"start_member_id": "one", "members": [
        {"name": "one", "ai_id": "front", "transitions": [{"function_name": "to_two", "next_member_id": "two"}]},
        {"name": "two", "ai_id": "front"}]}))
    (folder / "broken.yaml").write_text(json.dumps({"start_member_id": "x", "members": [
        {"name": "one", "ai_id": "front", "transitions": [
            {"function_name": "stop_service", "next_member_id": "ghost"}]}]}))
    teams = TeamDirectory(folder, _AIs(a))
    teams.scan()
    desk = teams.get("desk")
    assert desk is not None and desk.members[0].ai_id == a.ai.id
    assert desk.members[0].transitions[0].next_member_id == desk.members[1].id
    error = teams.errors[str(folder / "broken.yaml")]
    assert "start_member_id" in error and "collides with a tool name" in error and "unknown member 'ghost'" in error


def test_every_event_has_front_door_names() -> None:
    for name in ("aicall_status_initializing", "aicall_status_progressing", "aicall_status_terminated",
                 ev.AIMESSAGE_CREATED, ev.TOOL_CALL, ev.TOOL_RESULT, ev.SPEECH_STARTED, ev.SPEECH_ENDED):
        assert name in EVENT_MAP
    assert vapi_message_type(ev.AIMESSAGE_CREATED, {"role": "user"}) == "transcript"
    assert voiceos_hook(ev.AIMESSAGE_CREATED, {"role": "assistant"}) == "message:generated"
    assert voiceos_hook(ev.TOOL_CALL) == "function_call:triggered"
    assert vapi_message_type(ev.SPEECH_STARTED) == "speech-update" and voiceos_hook(ev.SPEECH_ENDED) == "speech:ended"
