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
from flowengine.flow.persistence import ENGINE_CUSTOMER_ID
from flowengine.providers.catalogue import LLM, STT, TTS, Catalogue
from flowengine.store import AI

log = logging.getLogger(__name__)


class AIDefinitionError(ValueError):
    """An AI file is invalid; the message names the file and every problem."""


@dataclass(frozen=True)
class AIConfig:
    """An AI and its key (never part of the record, never printed)."""

    ai: AI
    engine_key: SecretStr = field(default_factory=lambda: SecretStr(""))
    tool_secrets: dict[str, SecretStr] = field(default_factory=dict)  # declared tool name -> server.secret


PROVIDER_FIELDS: dict[str, Catalogue[Any]] = {"engine_model": LLM, "tts_type": TTS, "stt_type": STT}


def load_ai_file(path: Path) -> AIConfig:
    try:
        text = path.read_text()
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise AIDefinitionError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise AIDefinitionError(f"{path}: an AI file is a mapping of AI fields")
    found = provider_problems(data)
    where = _value_marks(text) if found else {}
    problems = [f"{path}:{where.get(name, '1:1')}: {problem}" for name, problem in found]
    key = str(data.pop("engine_key", "") or "")
    key_env = str(data.pop("engine_key_env", "") or "")
    if key_env:
        key = os.environ.get(key_env, "")
        if not key:
            problems.append(f"{path}: engine_key_env names {key_env!r}, which is not set")
    secrets: dict[str, str] = {}
    try:
        if data.get("tools"):
            data["tools"], secrets = split_secrets(_secrets_from_env(data["tools"]))
        validate_tool_names(data.get("tool_names") or [])
    except ValueError as exc:
        problems.append(f"{path}: {exc}")
    if problems:
        raise AIDefinitionError("; ".join(problems))
    data.setdefault("id", _id_from_name(path.stem))
    data.setdefault("customer_id", ENGINE_CUSTOMER_ID)
    data.setdefault("name", path.stem)
    try:
        ai = AI.model_validate(data)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise AIDefinitionError(f"{path}: {fields}") from None
    return AIConfig(ai, SecretStr(key), {name: SecretStr(v) for name, v in secrets.items()})


def provider_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, problem) for each provider field naming what this engine cannot run; a name that runs here but
    needs something now (a key, a package) is reported when a call makes the provider."""
    problems: list[tuple[str, str]] = []
    if not data.get("engine_model"):
        problems.append(("engine_model", "engine_model is required: <provider>.<model> (e.g. rules.appointments)"))
    for field_name, catalogue in PROVIDER_FIELDS.items():
        value = data.get(field_name)
        if value:
            answer = catalogue.check(str(value))
            if not answer.runs_here:
                problems.append((field_name, answer.problem(field_name)))
    return problems


def _value_marks(text: str) -> dict[str, str]:
    """`LINE:COL` of each top-level key's value (the text is known to parse)."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return {}
    return {str(k.value): f"{v.start_mark.line + 1}:{v.start_mark.column + 1}" for k, v in root.value}


def _secrets_from_env(tools: object) -> list[dict[str, object]]:
    """`server.secret_env: NAME` in a file reads the tool's secret from the environment (like engine_key_env)."""
    if not isinstance(tools, list):
        raise ValueError("tools: a list of tools")  # noqa: TRY004 - reported as a file problem
    out: list[dict[str, object]] = []
    for i, tool in enumerate(tools):
        server = tool.get("server") if isinstance(tool, dict) else None
        if isinstance(server, dict) and "secret_env" in server:
            server = dict(server)
            name = str(server.pop("secret_env"))
            server["secret"] = os.environ.get(name, "")
            if not server["secret"]:
                raise ValueError(f"tools[{i}].server.secret_env names {name!r}, which is not set")
            tool = {**tool, "server": server}
        out.append(tool)
    return out


def _id_from_name(name: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"flowengine:ai:{name}"))


class AIDirectory:
    """AIs by id and by file name (a flow's `assistance_id` may use either)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.by_id: dict[str, AIConfig] = {}
        self.errors: dict[str, str] = {}

    def scan(self) -> None:
        found: dict[str, AIConfig] = {}
        self.errors = {}
        files = sorted([*self.path.glob("*.yaml"), *self.path.glob("*.yml")]) if self.path.is_dir() else []
        for path in files:
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
        self.by_id = found

    def get(self, ai_id: str) -> AIConfig | None:
        return self.by_id.get(ai_id)
