"""Shapes of an AI's call rules kept as JSON: voicemail detection and the post-call analysis plan (Vapi's)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

FirstMessageMode = Literal[
    "assistant-speaks-first", "assistant-waits-for-user", "assistant-speaks-first-with-model-generated-message"]
Rubric = Literal["NumericScale", "DescriptiveScale", "Checklist", "Matrix", "PercentageScale", "LikertScale",
                 "AutomaticRubric", "PassFail"]
RUBRICS: tuple[str, ...] = ("NumericScale", "DescriptiveScale", "Checklist", "Matrix", "PercentageScale",
                            "LikertScale", "AutomaticRubric", "PassFail")


class VoicemailDetection(BaseModel):
    """How an outbound AI call tells an answering machine from a person. `provider`: `off`, `asterisk`
    (Asterisk's AMD() on a snoop of the call, asterisk-conf/amd.conf), or `audio` (flowengine's own
    classifier on the call's audio: greeting length from the VAD, and a beep found with scipy).
    Times follow Vapi's/Twilio's names: a greeting longer than `speech_threshold_ms` is a machine,
    a shorter one followed by `speech_end_threshold_ms` of silence is a person."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Literal["off", "asterisk", "audio"] = "off"
    machine_detection_timeout_s: float = Field(15.0, ge=2, le=60)  # give up classifying (then: a person)
    speech_threshold_ms: int = Field(2400, ge=500, le=10_000)
    speech_end_threshold_ms: int = Field(1200, ge=300, le=5000)
    silence_timeout_ms: int = Field(5000, ge=1000, le=20_000)  # nobody speaks at all: a person (or silence)
    beep_max_wait_s: float = Field(20.0, ge=1, le=60)  # after a machine is found, wait this long for its beep

    @property
    def enabled(self) -> bool:
        return self.provider != "off"


class PlanMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str


class _Plan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    enabled: bool = True
    messages: list[PlanMessage] = Field(default_factory=list)  # replace the built-in prompt when given
    timeoutSeconds: float = Field(30.0, ge=1, le=300)


class SummaryPlan(_Plan):
    pass


class StructuredDataPlan(_Plan):
    enabled: bool = False
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")

    @model_validator(mode="after")
    def _schema_is_valid(self) -> StructuredDataPlan:
        if self.enabled and not self.schema_:
            raise ValueError("structuredDataPlan.schema is required when it is enabled")
        if self.schema_:
            import jsonschema

            try:
                jsonschema.validators.validator_for(self.schema_).check_schema(self.schema_)
            except jsonschema.SchemaError as exc:
                raise ValueError(f"structuredDataPlan.schema is not a valid JSON Schema: {exc.message}") from None
        return self


class SuccessEvaluationPlan(_Plan):
    rubric: Rubric = "NumericScale"


class AnalysisPlan(BaseModel):
    """Vapi's `analysisPlan`. The older flat keys (summaryPrompt, structuredDataSchema, structuredDataPrompt,
    successEvaluationPrompt, successEvaluationRubric) are read too and turned into the plans."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    summaryPlan: SummaryPlan = Field(default_factory=SummaryPlan)
    structuredDataPlan: StructuredDataPlan = Field(default_factory=StructuredDataPlan)
    successEvaluationPlan: SuccessEvaluationPlan = Field(default_factory=SuccessEvaluationPlan)

    @model_validator(mode="before")
    @classmethod
    def _flat_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)

        def plan(key: str) -> dict[str, Any]:
            value = data.get(key)
            data[key] = dict(value) if isinstance(value, dict) else {}
            return data[key]  # type: ignore[no-any-return]

        if "summaryPrompt" in data:
            plan("summaryPlan").setdefault("messages", [{"role": "system", "content": data.pop("summaryPrompt")}])
        if "structuredDataSchema" in data or "structuredDataPrompt" in data:
            p = plan("structuredDataPlan")
            if "structuredDataSchema" in data:
                p.setdefault("schema", data.pop("structuredDataSchema"))
                p.setdefault("enabled", True)
            if "structuredDataPrompt" in data:
                p.setdefault("messages", [{"role": "system", "content": data.pop("structuredDataPrompt")}])
        if "successEvaluationPrompt" in data or "successEvaluationRubric" in data:
            p = plan("successEvaluationPlan")
            if "successEvaluationRubric" in data:
                p.setdefault("rubric", data.pop("successEvaluationRubric"))
            if "successEvaluationPrompt" in data:
                p.setdefault("messages", [{"role": "system", "content": data.pop("successEvaluationPrompt")}])
        return data

    def dump(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


def normalize_analysis_plan(value: Any) -> dict[str, Any] | None:
    """The stored form of an `analysis_plan` (None when unset); a ValueError names the bad key."""
    if value is None or value == {}:
        return None
    try:
        return AnalysisPlan.model_validate(value).dump()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(plan)'}: {e['msg']}" for e in exc.errors())
        raise ValueError(problems) from None
