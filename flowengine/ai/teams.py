"""AI teams: the graph rules (reference 4.2), team YAML files (`<flows_dir>/teams/`), and Vapi squads as teams."""
from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import ValidationError

from flowengine.ai.definitions import AIConfig
from flowengine.ai.tools.catalog import SPECS
from flowengine.ai.tools.declared import parse_tools
from flowengine.flow.persistence import ENGINE_CUSTOMER_ID
from flowengine.providers.catalogue import LLM, STT, TTS, Catalogue
from flowengine.store import AI
from flowengine.store.teams import Team, TeamMember, TeamTransition

log = logging.getLogger(__name__)
NIL = "00000000-0000-0000-0000-000000000000"
TRANSITION_MESSAGES = "transition_messages"  # team.parameter key: function_name -> said before the switch


class TeamError(ValueError):
    """A team (or squad) is invalid; the message names every problem."""


class AISource(Protocol):
    def get(self, ai_id: str) -> AIConfig | None: ...


class TeamSource(Protocol):
    def get(self, team_id: str) -> Team | None: ...


@dataclass(frozen=True)
class TeamPlan:
    """A team ready to run: its members' AIs resolved."""

    team: Team
    members: dict[str, TeamMember]
    ais: dict[str, AIConfig]  # member id -> AI

    @property
    def start(self) -> TeamMember:
        return self.members[self.team.start_member_id]

    def message(self, function_name: str) -> str:
        messages = self.team.parameter.get(TRANSITION_MESSAGES) or {}
        return str(messages.get(function_name, "")) if isinstance(messages, dict) else ""


def team_problems(team: Team, ais: AISource | None = None) -> list[str]:
    problems: list[str] = []
    if not team.members:
        problems.append("members: a team needs at least one member")
    ids = [m.id for m in team.members]
    if any(not i for i in ids) or len(set(ids)) != len(ids):
        problems.append("members: member ids must be non-empty and unique")
    if team.start_member_id not in ids:
        problems.append(f"start_member_id {team.start_member_id!r} is not a member")
    for i, member in enumerate(team.members):
        where = f"members[{i}] ({member.name or member.id})"
        if not member.name or not member.ai_id:
            problems.append(f"{where}: every member needs a name and an ai_id")
        config = ais.get(member.ai_id) if ais is not None else None
        if ais is not None and config is None:
            problems.append(f"{where}: AI {member.ai_id!r} not found")
        taken = set(SPECS) | {t.name for t in parse_tools(config.ai.tools)} if config is not None else set(SPECS)
        names = [t.function_name for t in member.transitions]
        for t in member.transitions:
            if not t.function_name:
                problems.append(f"{where}: a transition needs a function_name")
            elif names.count(t.function_name) > 1:
                problems.append(f"{where}: transition {t.function_name!r} is named twice")
            elif t.function_name in taken:
                problems.append(f"{where}: transition {t.function_name!r} collides with a tool name")
            if t.next_member_id not in ids:
                problems.append(f"{where}: transition {t.function_name!r} goes to unknown member {t.next_member_id!r}")
    return sorted(set(problems), key=problems.index)


def validate_team(team: Team, ais: AISource | None = None) -> Team:
    problems = team_problems(team, ais)
    if problems:
        raise TeamError(f"team {team.name or team.id}: " + "; ".join(problems))
    return team


def plan_team(team: Team, ais: AISource) -> TeamPlan:
    validate_team(team, ais)
    found = {m.id: ais.get(m.ai_id) for m in team.members}
    return TeamPlan(team, {m.id: m for m in team.members}, {k: v for k, v in found.items() if v is not None})


async def find_stored_team(store: Any, team_id: str, customer_id: str) -> Team | None:
    """A team saved through the API (store.teams), looked up for the customer, then the engine's."""
    from flowengine.store.errors import NotFoundError

    for customer in dict.fromkeys(c for c in (customer_id, ENGINE_CUSTOMER_ID) if c and c != NIL):
        try:
            team: Team = await store.teams.get(customer, team_id)
        except (NotFoundError, ValueError):
            continue
        return team
    return None


# -- team files ----------------------------------------------------------------------------------
def _stable_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"flowengine:{kind}:{name}"))


def load_team_file(path: Path, ais: AISource | None = None) -> Team:
    """A team YAML file: Team fields; members may name their AI by file name (`ai_id: receptionist`),
    which becomes that AI's id; member ids default to ids derived from the member names."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise TeamError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise TeamError(f"{path}: a team file is a mapping of team fields")
    data.setdefault("id", _stable_id("team", path.stem))
    data.setdefault("customer_id", ENGINE_CUSTOMER_ID)
    data.setdefault("name", path.stem)
    by_name: dict[str, str] = {}
    for member in data.get("members") or []:
        if isinstance(member, dict) and "name" in member:
            member.setdefault("id", _stable_id("member", f"{path.stem}/{member['name']}"))
            by_name[str(member["name"])] = str(member["id"])
            config = ais.get(str(member.get("ai_id", ""))) if ais is not None else None
            if config is not None:
                member["ai_id"] = config.ai.id
    for member in data.get("members") or []:  # transitions and the start may name members by name
        for t in (member.get("transitions") or []) if isinstance(member, dict) else []:
            if isinstance(t, dict) and t.get("next_member_id") in by_name:
                t["next_member_id"] = by_name[t["next_member_id"]]
    if data.get("start_member_id") in by_name:
        data["start_member_id"] = by_name[data["start_member_id"]]
    try:
        team = Team.model_validate(data)
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise TeamError(f"{path}: {reasons}") from None
    problems = team_problems(team, ais)
    if problems:
        raise TeamError(f"{path}: " + "; ".join(problems))
    return team


class TeamDirectory:
    """Teams by id and by file name, from `<flows_dir>/teams/*.yaml`; bad files are reported, not served."""

    def __init__(self, path: str | Path, ais: AISource | None = None) -> None:
        self.path = Path(path)
        self.ais = ais
        self.by_id: dict[str, Team] = {}
        self.errors: dict[str, str] = {}

    def scan(self) -> None:
        found: dict[str, Team] = {}
        self.errors = {}
        files = sorted([*self.path.glob("*.yaml"), *self.path.glob("*.yml")]) if self.path.is_dir() else []
        for path in files:
            try:
                team = load_team_file(path, self.ais)
            except TeamError as exc:
                self.errors[str(path)] = str(exc)
                log.error("team file refused: %s", exc)
                continue
            found[team.id] = found[path.stem] = team
        self.by_id = found

    def get(self, team_id: str) -> Team | None:
        return self.by_id.get(team_id)


# -- Vapi squads ---------------------------------------------------------------------------------
_ASSISTANT_FIELDS = {"name", "model", "voice", "transcriber", "firstMessage"}
_MODEL_FIELDS = {"provider", "model", "messages", "tools", "temperature", "maxTokens"}
_VOICE_FIELDS = {"provider", "voiceId"}
_TRANSCRIBER_FIELDS = {"provider", "language", "model"}
_DESTINATION_FIELDS = {"type", "assistantName", "message", "description"}
Problems = list[tuple[str, str]]
"""(JSON path, what is wrong there), in the order found."""


class SquadError(TeamError):
    """A squad is invalid; `problems` are (path, message) pairs, `field` the first one's path."""

    def __init__(self, problems: Problems) -> None:
        super().__init__("; ".join(f"{path}: {why}" for path, why in problems))
        self.problems = problems
        self.field = problems[0][0] if problems else "squad"


def _unsupported(where: str, data: Any, allowed: set[str], problems: Problems) -> dict[str, Any]:
    if not isinstance(data, dict):
        problems.append((where, "must be an object"))
        return {}
    problems += [(f"{where}.{key}", "not supported by this engine") for key in data if key not in allowed]
    return data


def assistant_to_ai(assistant: dict[str, Any], *, where: str, customer_id: str) -> tuple[AI, dict[str, str]]:
    """An inline Vapi assistant as an AI record (and its tools' secrets); unsupported fields are errors
    (SquadError naming each path)."""
    problems: Problems = []
    data = _unsupported(where, assistant, _ASSISTANT_FIELDS, problems)
    model = _unsupported(f"{where}.model", data.get("model") or {}, _MODEL_FIELDS, problems)
    voice = _unsupported(f"{where}.voice", data.get("voice") or {}, _VOICE_FIELDS, problems)
    heard = _unsupported(f"{where}.transcriber", data.get("transcriber") or {}, _TRANSCRIBER_FIELDS, problems)
    prompt = "\n".join(str(m.get("content", "")) for m in model.get("messages") or []
                       if isinstance(m, dict) and m.get("role") == "system")
    if any(isinstance(m, dict) and m.get("role") != "system" for m in model.get("messages") or []):
        problems.append((f"{where}.model.messages", "only system messages are supported"))
    tools: list[dict[str, Any]] = []
    secrets: dict[str, str] = {}
    if model.get("tools"):
        from flowengine.ai.tools.declared import split_secrets

        try:
            tools, secrets = split_secrets(list(model["tools"]))
        except ValueError as exc:
            path, _, why = str(exc).partition(": ")
            problems.append((f"{where}.model.{path}", why) if why else (f"{where}.model", str(exc)))
    tts = _provider(TTS, voice.get("provider"), f"{where}.voice.provider", problems,
                    ("voice_id", voice.get("voiceId"), f"{where}.voice.voiceId"))
    stt = _provider(STT, heard.get("provider"), f"{where}.transcriber.provider", problems,
                    ("language", heard.get("language"), f"{where}.transcriber.language"))
    engine = _engine_model(model, where, problems)
    if problems:
        raise SquadError(problems)
    name = str(data.get("name") or "")
    parameter: dict[str, Any] = {}
    if data.get("firstMessage"):
        parameter["first_message"] = str(data["firstMessage"])
    for key in ("temperature", "maxTokens"):
        if key in model:
            parameter[key] = model[key]
    ai = AI(id=_stable_id("squad-ai", f"{customer_id}/{name}"), customer_id=customer_id, name=name,
            engine_model=engine, init_prompt=prompt, parameter=parameter, tts_type=tts,
            tts_voice_id=str(voice.get("voiceId", "")), stt_type=stt,
            stt_language=str(heard.get("language", "")), tools=tools)
    return ai, secrets


def _engine_model(model: dict[str, Any], where: str, problems: Problems) -> str:
    provider, name = str(model.get("provider") or "openai"), str(model.get("model") or "")
    if not name:
        problems.append((f"{where}.model.model", "required (the model of the member's AI)"))
        return ""
    answer = LLM.check(f"{provider}.{name}")
    if not answer.runs_here:  # a missing key is the call's problem: the engine may have it by then
        problems.append((f"{where}.model.provider", f"{provider!r} is not available: {answer.reason}"))
        return ""
    return f"{answer.provider}.{name}"


def _provider(catalogue: Catalogue[Any], value: Any, where: str, problems: Problems,
              asked: tuple[str, Any, str]) -> str:
    """The engine's name for a member's provider (absent: the engine's default), or a problem at `where`;
    `asked` is (setting, value, its path): a language or voice the provider cannot do is that path's problem."""
    setting, wanted, path = asked
    answer = catalogue.check(str(value or ""), **({setting: str(wanted)} if wanted else {}))
    if not answer.definable:  # a recogniser's or voice's key is the engine's: it must be there now
        problems.append(answer.blame(where, {setting: path}))
    return answer.provider


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "member"


def squad_to_team(squad: dict[str, Any], *, customer_id: str = ENGINE_CUSTOMER_ID, name: str = "",
                  ais: AISource | None = None) -> tuple[Team, list[AIConfig]]:
    """A Vapi squad as a Team and the AIs of its inline assistants (to be saved with the team).
    Members are `assistant` (inline) or `assistantId` (an existing AI, looked up in `ais`); each
    `assistantDestinations` entry becomes a transition `transfer_to_<name>` whose `message` is said
    before the switch. Raises SquadError (a TeamError) naming every unsupported field by its path."""
    problems: Problems = []
    data = _unsupported("squad", squad, {"members", "name"}, problems)
    members = data.get("members")
    if not isinstance(members, list) or not members:
        raise SquadError([("squad.members", "a squad needs at least one member")])
    new_ais: list[AIConfig] = []
    entries: list[tuple[str, str, list[dict[str, Any]]]] = []  # name, ai_id, destinations
    for i, member in enumerate(members):
        where = f"squad.members[{i}]"
        item = _unsupported(where, member, {"assistant", "assistantId", "assistantDestinations"}, problems)
        if bool(item.get("assistant")) == bool(item.get("assistantId")):
            problems.append((where, "give exactly one of assistant and assistantId"))
            continue
        if item.get("assistant"):
            try:
                ai, secrets = assistant_to_ai(item["assistant"], where=f"{where}.assistant", customer_id=customer_id)
            except SquadError as exc:
                problems += exc.problems
                continue
            if not ai.name:
                problems.append((f"{where}.assistant.name", "members need a name (destinations use it)"))
            from pydantic import SecretStr

            new_ais.append(AIConfig(ai, tool_secrets={k: SecretStr(v) for k, v in secrets.items()}))
            member_name, ai_id = ai.name, ai.id
        else:
            config = ais.get(str(item["assistantId"])) if ais is not None else None
            if config is None:
                problems.append((f"{where}.assistantId", f"AI {item['assistantId']!r} not found"))
                continue
            member_name, ai_id = config.ai.name, config.ai.id
        destinations = item.get("assistantDestinations") or []
        for j, d in enumerate(destinations):
            d = _unsupported(f"{where}.assistantDestinations[{j}]", d, _DESTINATION_FIELDS, problems)
            if d.get("type", "assistant") != "assistant":
                problems.append((f"{where}.assistantDestinations[{j}].type", "only 'assistant' is supported"))
        entries.append((member_name, ai_id, destinations))
    names = [e[0] for e in entries]
    ids = {n: _stable_id("squad-member", f"{customer_id}/{n}") for n in names}
    team_members: list[TeamMember] = []
    messages: dict[str, str] = {}
    for member_name, ai_id, destinations in entries:
        transitions = []
        for d in destinations:
            target = str(d.get("assistantName", ""))
            if target not in ids:
                problems.append(("squad", f"destination assistantName {target!r} of {member_name!r} is not a member"))
                continue
            function = f"transfer_to_{_slug(target)}"
            transitions.append(TeamTransition(function_name=function, description=str(d.get("description", "")),
                                              next_member_id=ids[target]))
            if d.get("message"):
                messages[function] = str(d["message"])
        team_members.append(TeamMember(id=ids[member_name], name=member_name, ai_id=ai_id, transitions=transitions))
    if problems:
        raise SquadError(problems)
    team = Team(id=_stable_id("squad", f"{customer_id}/{name or '/'.join(names)}"), customer_id=customer_id,
                name=name or str(data.get("name") or "squad"), start_member_id=team_members[0].id,
                members=team_members, parameter={TRANSITION_MESSAGES: messages} if messages else {})
    known = {c.ai.id: c for c in new_ais}

    class _Known:
        def get(self, ai_id: str) -> AIConfig | None:
            return known.get(ai_id) or (ais.get(ai_id) if ais is not None else None)

    validate_team(team, _Known())
    return team, new_ais
