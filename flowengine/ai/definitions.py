"""AI configurations operators write in YAML (`<flows_dir>/ais/*.yaml`), with their write-only engine keys; the
providers they name are checked with the provider catalogue (FILE:LINE:COL: reason)."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr, ValidationError

from flowengine.ai.tools.catalog import validate_tool_names
from flowengine.ai.tools.declared import split_secrets
from flowengine.flow.directory import WatchedFolder
from flowengine.flow.persistence import ENGINE_CUSTOMER_ID
from flowengine.flow.problems import Location, Problem, Severity
from flowengine.providers.catalogue import LLM, STT, TTS, Catalogue, Status
from flowengine.store import AI

log = logging.getLogger(__name__)


class AIDefinitionError(ValueError):
    """An AI file is invalid; `problems` locates each reason (FILE:LINE:COL: message)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.format() for p in problems))


@dataclass(frozen=True)
class AIConfig:
    """An AI and its key (never part of the record, never printed)."""

    ai: AI
    engine_key: SecretStr = field(default_factory=lambda: SecretStr(""))
    tool_secrets: dict[str, SecretStr] = field(default_factory=dict)  # declared tool name -> server.secret


PROVIDER_FIELDS: dict[str, Catalogue[Any]] = {"engine_model": LLM, "tts_type": TTS, "stt_type": STT}
# what an AI asks of its voice and recogniser: field -> (the provider's field, the provider's setting)
SETTING_FIELDS: dict[str, tuple[str, str]] = {"tts_voice_id": ("tts_type", "voice_id"),
                                              "stt_language": ("stt_type", "language")}


def load_ai_file(path: Path) -> AIConfig:
    """The AI of a file; raises AIDefinitionError naming every problem."""
    config, problems = check_ai_file(path)
    errors = [p for p in problems if p.is_error]
    if errors or config is None:
        raise AIDefinitionError(errors)
    return config


def check_ai_file(path: Path, *, environment: bool = True) -> tuple[AIConfig | None, list[Problem]]:
    """The AI of a file (None when it has errors) and every problem, located. With `environment=False`
    (`flowengine validate`, which does not run where the engine does) an environment variable that is not set
    here is a warning, not an error."""
    name = str(path)
    try:
        text = path.read_text()
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name)
        return None, [Problem(where, f"{exc.problem or exc}")]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return None, [Problem(Location(name), str(exc))]
    if not isinstance(data, dict):
        return None, [Problem(Location(name), "an AI file is a mapping of AI fields")]
    marks = _value_marks(text)

    def at(key: str) -> Location:
        line, column = marks.get(key, (1, 1))
        return Location(name, line, column)

    problems = [Problem(at(field_name), problem) for field_name, problem in provider_problems(data)]
    env_severity = Severity.ERROR if environment else Severity.WARNING
    key = str(data.pop("engine_key", "") or "")
    key_env = str(data.pop("engine_key_env", "") or "")
    if key_env:
        key = os.environ.get(key_env, "")
        if not key:
            problems.append(Problem(at("engine_key_env"), f"engine_key_env names {key_env!r}, which is not set",
                                    env_severity))
    secrets: dict[str, str] = {}
    if data.get("tools"):
        try:
            tools, unset = _secrets_from_env(data["tools"])
            problems.extend(Problem(at("tools"), message, env_severity) for message in unset)
            data["tools"], secrets = split_secrets(tools)
        except ValueError as exc:
            problems.append(Problem(at("tools"), str(exc)))
    try:
        validate_tool_names(data.get("tool_names") or [])
    except ValueError as exc:
        problems.append(Problem(at("tool_names"), str(exc)))
    data.setdefault("id", _id_from_name(path.stem))
    data.setdefault("customer_id", ENGINE_CUSTOMER_ID)
    data.setdefault("name", path.stem)
    if any(p.is_error for p in problems):
        return None, problems
    try:
        ai = AI.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            top = str(e["loc"][0]) if e["loc"] else ""
            dotted = ".".join(str(p) for p in e["loc"])
            problems.append(Problem(at(top), f"{dotted}: {e['msg']}" if dotted else e["msg"]))
        return None, problems
    return AIConfig(ai, SecretStr(key), {n: SecretStr(v) for n, v in secrets.items()}), problems


def provider_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, problem) for each provider field naming what this engine cannot run; a recogniser or voice must
    also have its key now (the engine's), an LLM's key may be the AI's own (reported when a call makes it)."""
    problems: list[tuple[str, str]] = []
    if not data.get("engine_model"):
        problems.append(("engine_model", "engine_model is required: <provider>.<model> (e.g. rules.appointments)"))
    for field_name, catalogue in PROVIDER_FIELDS.items():
        value = data.get(field_name)
        if value:
            answer = catalogue.check(str(value))
            if not answer.definable:
                problems.append((field_name, answer.problem(field_name)))
    for field_name, (provider_field, setting) in SETTING_FIELDS.items():
        wanted = data.get(field_name)
        if wanted:  # "" provider: the engine's default one, asked too
            answer = PROVIDER_FIELDS[provider_field].check(str(data.get(provider_field) or ""), **{setting: str(wanted)})
            if answer.status is Status.UNSUPPORTED:
                problems.append((field_name, f"{field_name} {wanted!r}: {answer.reason}"))
    return problems


def _value_marks(text: str) -> dict[str, tuple[int, int]]:
    """(line, column) of each top-level key's value (the text is known to parse)."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return {}
    return {str(k.value): (v.start_mark.line + 1, v.start_mark.column + 1) for k, v in root.value}


def _secrets_from_env(tools: object) -> tuple[list[dict[str, object]], list[str]]:
    """`server.secret_env: NAME` in a file reads the tool's secret from the environment (like engine_key_env);
    also returns a problem for each name that is not set."""
    if not isinstance(tools, list):
        raise ValueError("tools: a list of tools")  # noqa: TRY004 - reported as a file problem
    out: list[dict[str, object]] = []
    unset: list[str] = []
    for i, tool in enumerate(tools):
        server = tool.get("server") if isinstance(tool, dict) else None
        if isinstance(server, dict) and "secret_env" in server:
            server = dict(server)
            name = str(server.pop("secret_env"))
            server["secret"] = os.environ.get(name, "")
            if not server["secret"]:
                unset.append(f"tools[{i}].server.secret_env names {name!r}, which is not set")
            tool = {**tool, "server": server}
        out.append(tool)
    return out, unset


def _id_from_name(name: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"flowengine:ai:{name}"))


class AIDirectory(WatchedFolder):
    """AIs by id and by file name (a flow's `assistance_id` may use either), loaded at start and again when a
    file changes (the watcher); a refused file keeps serving its last good version."""

    def __init__(self, path: str | Path, poll_interval: float = 1.0) -> None:
        super().__init__(path, poll_interval, "AI directory")
        self.by_id: dict[str, AIConfig] = {}
        self.errors: dict[str, str] = {}
        self.reloads = 0
        self._stamps: dict[Path, int] = {}

    def scan(self) -> bool:
        """Loads every file again when any was added, changed or removed; True when it did."""
        stamps = self._stamps_now()
        if stamps == self._stamps and self.reloads:
            return False
        self._stamps = stamps
        found: dict[str, AIConfig] = {}
        self.errors = {}
        for path in stamps:
            try:
                config = load_ai_file(path)
            except AIDefinitionError as exc:
                self.errors[str(path)] = str(exc)
                log.error("AI file refused: %s", exc)
                previous = self.by_id.get(path.stem)
                if previous is not None:  # keep serving the last good version
                    found[path.stem] = previous
                    found[previous.ai.id] = previous
                continue
            found[config.ai.id] = config
            found[path.stem] = config
        if self.reloads:
            log.info("AI files reloaded from %s: %d AI(s)", self.path, len({c.ai.id for c in found.values()}))
        self.by_id = found
        self.reloads += 1
        return True

    def _stamps_now(self) -> dict[Path, int]:
        files = sorted([*self.path.glob("*.yaml"), *self.path.glob("*.yml")]) if self.path.is_dir() else []
        stamps: dict[Path, int] = {}
        for path in files:
            try:
                stamps[path] = path.stat().st_mtime_ns
            except OSError:  # removed meanwhile: seen as gone
                continue
        return stamps

    def get(self, ai_id: str) -> AIConfig | None:
        return self.by_id.get(ai_id)
