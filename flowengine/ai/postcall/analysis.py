"""Post-call analysis with the AI's own model (Vapi analysisPlan): summary, structured data checked against
its JSON Schema, and a success evaluation on the named rubric. An answer that breaks its schema or rubric
is reported invalid with the reasons and never stored as the result."""
from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from typing import Any

import jsonschema

from flowengine.providers.llm.base import ChatMessage, LLMError, LLMProvider, TextDelta
from flowengine.providers.usage import LLMUsage, MeteredLLM
from flowengine.store.aifeatures import AnalysisPlan, PlanMessage

SUMMARY_PROMPT = ("You are an expert note-taker. You will be given a transcript of a call. "
                  "Summarize the call in 2-3 sentences, if applicable.")
STRUCTURED_PROMPT = ("You are an expert data extractor. You will be given a transcript of a call. Extract "
                     "structured data per the JSON Schema below. Answer with one JSON value and nothing else.\n\n"
                     "JSON Schema:\n{{schema}}")
SUCCESS_PROMPT = ("You are an expert call evaluator. You will be given a transcript of a call and the system "
                  "prompt of the AI participant. Determine if the call was successful based on the objectives "
                  "inferred from the system prompt.\n\n{{rubric}}\n\nAnswer with one JSON object and nothing else.")
USER_PROMPT = "Here is the transcript:\n\n{{transcript}}\n\nHere is the system prompt of the AI:\n\n{{systemPrompt}}"

def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _score(low: int, high: int, kind: str = "integer") -> dict[str, Any]:
    return {"type": kind, "minimum": low, "maximum": high}


def _criteria(**per_item: Any) -> dict[str, Any]:
    return {"type": "array", "minItems": 1,
            "items": _obj(["criterion", *per_item], criterion={"type": "string"}, **per_item)}


LEVELS = ["Poor", "Fair", "Good", "Excellent"]
LIKERT = ["Strongly Agree", "Agree", "Neutral", "Disagree", "Strongly Disagree"]
# rubric -> (what the evaluator is told, JSON Schema of its answer, the answer's field that is the evaluation)
RUBRICS: dict[str, tuple[str, dict[str, Any], str]] = {
    "NumericScale": ('Rate the call on a scale of 1 to 10. Shape: {"score": 7}.',
                     _obj(["score"], score=_score(1, 10)), "score"),
    "DescriptiveScale": ('Rate the call as Excellent, Good, Fair or Poor. Shape: {"rating": "Good"}.',
                         _obj(["rating"], rating={"enum": LEVELS[::-1]}), "rating"),
    "Checklist": (('List the call\'s objectives and whether each was met. '
                  'Shape: {"criteria": [{"criterion": "...", "met": true}]}.'),
                  _obj(["criteria"], criteria=_criteria(met={"type": "boolean"})), "criteria"),
    "Matrix": (('Grade each objective of the call as Poor, Fair, Good or Excellent. '
               'Shape: {"criteria": [{"criterion": "...", "level": "Good"}]}.'),
               _obj(["criteria"], criteria=_criteria(level={"enum": LEVELS})), "criteria"),
    "PercentageScale": ('Rate the call from 0 to 100 percent. Shape: {"percentage": 80}.',
                        _obj(["percentage"], percentage=_score(0, 100, "number")), "percentage"),
    "LikertScale": ('Say how much you agree that the call was successful: ' + ", ".join(LIKERT)
                    + '. Shape: {"rating": "Agree"}.', _obj(["rating"], rating={"enum": LIKERT}), "rating"),
    "AutomaticRubric": (('Break the evaluation into criteria, score each from 1 to 10, and give an overall score. '
                        'Shape: {"criteria": [{"criterion": "...", "score": 7}], "overall": 7}.'),
                        _obj(["criteria", "overall"], criteria=_criteria(score=_score(1, 10)),
                             overall=_score(1, 10)), "overall"),
    "PassFail": ('Say whether the call passed. Shape: {"pass": true}.',
                 _obj(["pass"], **{"pass": {"type": "boolean"}}), "pass"),
}


class AnalysisUnavailable(Exception):
    """The AI's engine cannot analyse (the offline rule engine is not a language model)."""


def parse_json(text: str) -> Any:
    """The JSON value in a model's answer (```json fences and text around one object are tolerated)."""
    body = text.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", body, re.DOTALL)
    if fenced:
        body = fenced.group(1).strip()
    try:
        return json.loads(body)
    except ValueError:
        pass
    start = min((i for i in (body.find("{"), body.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise ValueError("the answer holds no JSON")
    value, _ = json.JSONDecoder().raw_decode(body[start:])
    return value


def schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))]


def rubric_result(rubric: str, text: str) -> dict[str, Any]:
    """Check an evaluator's answer against the rubric: {valid, rubric, evaluation, detail | errors, raw}."""
    if rubric not in RUBRICS:
        raise ValueError(f"unknown rubric {rubric!r}; known: {', '.join(RUBRICS)}")
    _, schema, key = RUBRICS[rubric]
    try:
        value = parse_json(text)
    except ValueError as exc:
        return {"valid": False, "rubric": rubric, "errors": [f"not JSON: {exc}"], "raw": text}
    errors = schema_errors(value, schema)
    if errors:
        return {"valid": False, "rubric": rubric, "errors": errors, "raw": text}
    evaluation = value[key]
    shown = json.dumps(evaluation) if isinstance(evaluation, (bool, list)) else str(evaluation)
    return {"valid": True, "rubric": rubric, "evaluation": shown, "detail": value}


def _fill(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    return text


async def _ask(llm: LLMProvider, messages: list[PlanMessage], default_system: str, values: dict[str, str],
               timeout_s: float) -> str:
    prompt = [ChatMessage(m.role, _fill(m.content, values)) for m in messages] or [
        ChatMessage("system", _fill(default_system, values))]
    if not any("{{transcript}}" in m.content for m in messages):
        prompt.append(ChatMessage("user", _fill(USER_PROMPT, values)))
    async with asyncio.timeout(timeout_s):
        parts = [event.text async for event in llm.stream(prompt, temperature=0) if isinstance(event, TextDelta)]
    return "".join(parts).strip()


async def analyse(llm: LLMProvider, plan: AnalysisPlan, transcript: str, system_prompt: str,
                  usage: dict[str, LLMUsage]) -> dict[str, Any]:
    """Vapi's `analysis` {summary, structuredData, successEvaluation} plus flowengine's validity report
    for each part (`structuredDataValidation`, `successEvaluationValidation`, `errors`)."""
    if not llm.is_llm:
        raise AnalysisUnavailable(f"post-call analysis needs a language model; {llm.name!r} is the offline "
                                  "rule engine (set the AI's engine_model to an LLM)")
    values = {"transcript": transcript, "systemPrompt": system_prompt}
    result: dict[str, Any] = {}
    errors: dict[str, str] = {}

    def metered(part: str) -> MeteredLLM:
        return MeteredLLM(llm, usage.setdefault(part, LLMUsage(provider=llm.name,
                                                               model=str(getattr(llm, "model", "")))))

    if plan.summaryPlan.enabled:
        try:
            result["summary"] = await _ask(metered("summary"), plan.summaryPlan.messages, SUMMARY_PROMPT, values,
                                           plan.summaryPlan.timeoutSeconds)
        except (LLMError, TimeoutError) as exc:
            errors["summary"] = str(exc) or "timed out"
    data_plan = plan.structuredDataPlan
    if data_plan.enabled:
        schema = data_plan.schema_
        try:
            text = await _ask(metered("structuredData"), data_plan.messages, STRUCTURED_PROMPT,
                              {**values, "schema": json.dumps(schema)}, data_plan.timeoutSeconds)
        except (LLMError, TimeoutError) as exc:
            errors["structuredData"] = str(exc) or "timed out"
        else:
            try:
                value = parse_json(text)
                problems = schema_errors(value, schema)
            except ValueError as exc:
                value, problems = None, [f"not JSON: {exc}"]
            result["structuredData"] = None if problems else value
            result["structuredDataValidation"] = ({"valid": True} if not problems
                                                  else {"valid": False, "errors": problems, "raw": text})
    success = plan.successEvaluationPlan
    if success.enabled:
        rubric_text = RUBRICS[success.rubric][0]
        try:
            text = await _ask(metered("successEvaluation"), success.messages, SUCCESS_PROMPT,
                              {**values, "rubric": rubric_text}, success.timeoutSeconds)
        except (LLMError, TimeoutError) as exc:
            errors["successEvaluation"] = str(exc) or "timed out"
        else:
            checked = rubric_result(success.rubric, text)
            result["successEvaluation"] = checked.get("evaluation")  # None when invalid
            result["successEvaluationValidation"] = checked
    if errors:
        result["errors"] = errors
    return result


def transcript_of(messages: Sequence[tuple[str, str]]) -> str:
    """`AI: ...` / `User: ...` lines, as Vapi writes its transcript (system and tool messages left out)."""
    names = {"assistant": "AI", "user": "User"}
    return "\n".join(f"{names[role]}: {text}" for role, text in messages if role in names and text.strip())


async def summarise(llm: LLMProvider, transcript: str, variables: str, language: str = "",
                    timeout_s: float = 60.0) -> str:
    """`ai_summary`: a summary of a call's transcripts and its flow variables (reference 4.9)."""
    if not llm.is_llm:
        raise AnalysisUnavailable(f"ai_summary needs a language model; {llm.name!r} is the offline rule engine")
    system = SUMMARY_PROMPT + (f" Write the summary in the language {language}." if language else "")
    values = {"transcript": transcript, "systemPrompt": "", "variables": variables}
    user = PlanMessage(role="user", content="Transcript:\n\n{{transcript}}\n\nVariables:\n\n{{variables}}")
    return await _ask(llm, [PlanMessage(role="system", content=system), user], system, values, timeout_s)
