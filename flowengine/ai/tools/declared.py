"""Tools an assistant declares (Vapi `model.tools`): transferCall, dtmf, endCall and server `function`s."""
from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from flowengine.providers.llm.base import ToolSpec

MessageType = Literal["request-start", "request-complete", "request-failed", "request-response-delayed"]
DEFAULT_TIMEOUT_S = 20.0  # Vapi's server.timeoutSeconds default
DEFAULT_DELAYED_MS = 1000
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ToolMessage(_Doc):
    """Said through the call's TTS: request-start before the tool runs, request-response-delayed when
    it has run `timingMilliseconds` without an answer, request-complete / request-failed after it."""

    type: MessageType
    content: str = Field(min_length=1)
    timingMilliseconds: int | None = Field(None, ge=0, le=120_000)
    conditions: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("conditions")
    @classmethod
    def _no_conditions(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if value:
            raise ValueError("message conditions are not supported by this engine")
        return value


class FunctionDef(_Doc):
    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("function names are 1-64 letters, digits, '_' or '-'")
        return value


class ToolServer(_Doc):
    url: str
    timeoutSeconds: float = Field(DEFAULT_TIMEOUT_S, gt=0, le=300)
    secret: str = ""  # write-only: moved into AIConfig.tool_secrets when loaded, never kept on the record

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("server.url must be an http(s) URL")
        return value


class Destination(_Doc):
    """Where transferCall sends the caller: a number (tel), a SIP URI, or (in squads) another assistant."""

    type: Literal["number", "sip", "assistant"]
    number: str = ""
    sipUri: str = ""
    assistantName: str = ""
    message: str = ""  # said to the caller before the transfer
    description: str = ""

    @model_validator(mode="after")
    def _target(self) -> Destination:
        need = {"number": "number", "sip": "sipUri", "assistant": "assistantName"}[self.type]
        if not getattr(self, need):
            raise ValueError(f"a destination of type {self.type} needs {need}")
        return self

    @property
    def target(self) -> str:
        return self.number or self.sipUri.removeprefix("sip:") or self.assistantName


class AssistantTool(_Doc):
    type: Literal["function", "transferCall", "dtmf", "endCall"]
    async_: bool = Field(False, alias="async")
    messages: list[ToolMessage] = Field(default_factory=list)
    function: FunctionDef | None = None
    server: ToolServer | None = None
    destinations: list[Destination] = Field(default_factory=list)

    @field_validator("async_")
    @classmethod
    def _sync_only(cls, value: bool) -> bool:
        if value:
            raise ValueError("async tools are not supported: the engine waits for every tool's result")
        return value

    @model_validator(mode="after")
    def _shape(self) -> AssistantTool:
        if self.type == "function" and (self.function is None or self.server is None):
            raise ValueError("a function tool needs function (name, parameters) and server (url)")
        if self.type != "function" and self.server is not None:
            raise ValueError(f"server is only for function tools, not {self.type}")
        if self.type == "transferCall" and not self.destinations:
            raise ValueError("transferCall needs destinations")
        if self.type != "transferCall" and self.destinations:
            raise ValueError(f"destinations are only for transferCall, not {self.type}")
        return self

    @property
    def name(self) -> str:
        return self.function.name if self.function is not None else self.type

    def message(self, kind: MessageType) -> ToolMessage | None:
        return next((m for m in self.messages if m.type == kind), None)

    def spec(self) -> ToolSpec:
        described = self.function.description if self.function is not None else ""
        if self.type == "function":
            assert self.function is not None
            return ToolSpec(self.name, described, self.function.parameters)
        if self.type == "transferCall":
            choices = [d.target for d in self.destinations]
            lines = "; ".join(f"{d.target}: {d.description}" if d.description else d.target for d in self.destinations)
            return ToolSpec(self.name, described or f"Transfer the caller. Destinations: {lines}",
                            {"type": "object", "properties": {"destination": {"type": "string", "enum": choices}},
                             "required": ["destination"]})
        if self.type == "dtmf":
            return ToolSpec(self.name, described or "Press keys (DTMF digits 0-9, *, #) on the call, e.g. in a menu.",
                            {"type": "object", "properties": {"digits": {"type": "string"}}, "required": ["digits"]})
        return ToolSpec(self.name, described or "End the call.")


class DeclaredToolError(ValueError):
    """An assistant's tools list is invalid; the message names each field."""


def parse_tools(items: list[dict[str, Any]], *, where: str = "tools") -> list[AssistantTool]:
    """Validate declared tools; every problem is reported at once with its path (`tools[1].server.url`)."""
    if not isinstance(items, list):
        raise DeclaredToolError(f"{where}: a list of tools")
    tools: list[AssistantTool] = []
    problems: list[str] = []
    for i, item in enumerate(items):
        try:
            tools.append(AssistantTool.model_validate(item))
        except ValidationError as exc:
            problems += [f"{where}[{i}].{'.'.join(str(p) for p in e['loc'])}: {e['msg']}".replace(".:", ":")
                         for e in exc.errors()]
    names = [t.name for t in tools]
    problems += [f"{where}: the tool name {n!r} is used twice" for n in sorted({n for n in names if names.count(n) > 1})]
    if problems:
        raise DeclaredToolError("; ".join(problems))
    return tools


def split_secrets(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Declared tools without their `server.secret`s, and the secrets by tool name (kept write-only,
    like engine_key): the AI record never carries a secret."""
    clean: list[dict[str, Any]] = []
    secrets: dict[str, str] = {}
    for tool in parse_tools(items):
        if tool.server is not None and tool.server.secret:
            secrets[tool.name] = tool.server.secret
        data = tool.model_dump(by_alias=True, exclude_defaults=True)
        data["type"] = tool.type
        if "server" in data:
            data["server"].pop("secret", None)
        clean.append(data)
    return clean, secrets
