"""Campaign files (`flowengine campaign run FILE.yaml`): the campaign, its outplan and its targets in one
document, checked whole before anything is stored or dialed, and imported once (re-runs resume)."""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from flowengine.campaign.targets import TargetRow, TargetsError, load_targets, parse_address, parse_yaml
from flowengine.campaign.windows import CallWindow
from flowengine.store.dialrules import DialRules
from flowengine.store.records import NIL_ID

NAMESPACE = uuid.UUID("5c0a1f6e-7a1d-4f0e-9d55-ca3a19000000")


class PlanError(ValueError):
    """A campaign file has problems; one line each, naming the field or the row."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s), nothing dialed\n" + "\n".join(problems))


class OutplanSpec(DialRules):
    """The file's `outplan:` block: the dialing rules, `source` also as an address string, and a typed
    `call_window`."""

    model_config = ConfigDict(extra="forbid")

    call_window: CallWindow | None = None

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: Any) -> Any:
        return parse_address(value) if isinstance(value, (str, int)) else value


class CampaignPlan(BaseModel):
    """The file: campaign fields (VoIPBIN's names), `outplan`, `targets` (a CSV/YAML path relative to
    the file, or a list)."""

    model_config = ConfigDict(extra="forbid")

    id: str = ""
    name: str
    detail: str = ""
    type: Literal["call", "flow"] = "call"
    end_handle: Literal["stop", "continue"] = "stop"
    flow_id: str = NIL_ID
    actions: list[dict[str, Any]] = Field(default_factory=list)
    next_campaign_id: str = NIL_ID
    max_concurrent_calls: int = Field(1, ge=1, le=10000)
    calls_per_second: float = Field(1.0, gt=0, le=1000)
    outplan: OutplanSpec = Field(default_factory=OutplanSpec)
    targets: str | list[Any]


def campaign_id_for(path: Path, plan: CampaignPlan) -> str:
    """The plan's `id`, else one derived from the file's absolute path (so a re-run finds its campaign)."""
    return plan.id or str(uuid.uuid5(NAMESPACE, str(path.resolve())))


def child_id(campaign_id: str, kind: str) -> str:
    return str(uuid.uuid5(uuid.UUID(campaign_id), kind))


def load_plan(path: Path) -> tuple[CampaignPlan, list[TargetRow]]:
    """The checked plan and its checked targets; PlanError/TargetsError list every problem."""
    source = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PlanError(source, [str(exc)]) from None
    try:
        plan = CampaignPlan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(source, [f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}"
                                 for e in exc.errors()]) from None
    if plan.id:
        try:
            uuid.UUID(plan.id)
        except ValueError:
            raise PlanError(source, [f"id: not a UUID: {plan.id!r}"]) from None
    if not plan.actions and plan.flow_id == NIL_ID:
        raise PlanError(source, ["actions: give actions or a flow_id"])
    if isinstance(plan.targets, str):
        target_path = (path.parent / plan.targets)
        if not target_path.is_file():
            raise PlanError(source, [f"targets: file {str(target_path)!r} not found"])
        rows = load_targets(target_path)
    else:
        rows = parse_yaml(plan.targets, f"{source} targets")
    return plan, rows


__all__ = ["CampaignPlan", "PlanError", "TargetsError", "campaign_id_for", "child_id", "load_plan"]
