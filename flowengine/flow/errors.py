"""Exception classes of flow documents, the action registry and variables."""
from __future__ import annotations

from flowengine.flow.problems import Problem


class FlowError(Exception):
    """Base class of every error raised by `flowengine.flow`."""


class FlowDocumentError(FlowError):
    """A flow document cannot be used; `problems` lists every reason at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(p.format() for p in problems)
        super().__init__(f"{len(problems)} problem(s) in flow document:\n{lines}")


class FlowSyntaxError(FlowDocumentError):
    """The file is not readable, or not well-formed YAML/JSON."""


class FlowValidationError(FlowDocumentError):
    """The document parses but breaks the flow rules (unknown action type, bad option...)."""


class RegistryError(FlowError):
    """Misuse of a name registry."""


class DuplicateNameError(RegistryError):
    """A name (such as an action type) was registered twice."""


class UnknownNameError(RegistryError, KeyError):
    """A name is not in the registry; `suggestion` is the closest known name, if any."""

    def __init__(self, kind: str, name: str, suggestion: str | None) -> None:
        self.kind = kind
        self.name = name
        self.suggestion = suggestion
        hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
        self.message = f"unknown {kind} '{name}'{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class UnsupportedActionError(FlowError):
    """The action type exists in VoIPBIN but flowengine cannot honour it."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"action type '{name}' is not supported by flowengine: {reason}")


class TemplateSyntaxError(FlowError, ValueError):
    """A `${...}` expression cannot be parsed; `column` is the 0-based offset in the string."""

    def __init__(self, message: str, column: int) -> None:
        self.message = message
        self.column = column
        super().__init__(f"{message} (at offset {column})")


class ExternalVariablesError(FlowError, ValueError):
    """Variables supplied from outside (API, campaign, parent) break the sanitising rules."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid variables: " + "; ".join(problems))
