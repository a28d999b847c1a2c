"""Options of the AI actions: ai_talk, ai_task, ai_summary (executed by `flowengine.ai`)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from flowengine.flow.options.common import OptionModel, missing


class _Assistance(OptionModel):
    assistance_type: Literal["", "ai", "team"] = Field("", description="'ai' (default) or 'team'.")
    assistance_id: str = Field("", description="Id of the AI or team.")
    ai_id: str = Field("", description="Deprecated: assistance_type ai with this id.")

    @model_validator(mode="after")
    def _needs_assistant(self) -> _Assistance:
        if not self.assistance_id and not self.ai_id:
            raise missing("assistance_id")
        return self

    @property
    def resolved_type(self) -> str:
        """`ai` or `team`: an empty type (or the deprecated `ai_id`) means `ai`."""
        return self.assistance_type or "ai"

    @property
    def resolved_id(self) -> str:
        return self.assistance_id or self.ai_id


class AiTalkOptions(_Assistance):
    duration: int = Field(0, ge=0, description="Maximum length of the AI call in seconds (0: none).")
    variable_values: dict[str, Any] = Field(
        default_factory=dict, description="Variables set for this AI call (Vapi variableValues), e.g. for prompts.")


class AiTaskOptions(_Assistance):
    pass


class AiSummaryOptions(OptionModel):
    on_end_flow_id: str = Field("", description="Flow run with the summary variables when it is done.")
    reference_type: Literal["", "call", "conference", "transcribe", "recording"] = ""
    reference_id: str = ""
    language: str = Field("", description="BCP47 language of the summary.")
