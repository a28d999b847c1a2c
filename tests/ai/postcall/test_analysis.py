"""Post-call analysis against the local OpenAI-compatible server: schema and rubric checks, plan shapes."""
from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from flowengine.ai.postcall.analysis import AnalysisUnavailable, analyse, rubric_result, transcript_of
from flowengine.providers.llm import create_llm
from flowengine.providers.usage import LLMUsage
from flowengine.store import AI
from flowengine.store.aifeatures import AnalysisPlan
from tests.fakes.openai_server import FakeOpenAIServer, Reply

SCHEMA = {"type": "object", "required": ["day", "time"], "additionalProperties": False,
          "properties": {"day": {"type": "string", "enum": ["Monday", "Tuesday", "Wednesday"]},
                         "time": {"type": "string", "pattern": "^[0-9]{1,2}(:[0-9]{2})? ?(am|pm)$"}}}
TRANSCRIPT = transcript_of([("system", "You book dentist appointments."), ("assistant", "Hello, which day?"),
                            ("user", "Tuesday at 10 am please."), ("assistant", "Booked. Goodbye!")])
CUSTOMER = "00000000-0000-4000-8000-0000000000aa"


def plan(**plans: object) -> AnalysisPlan:
    return AnalysisPlan.model_validate(plans)


async def test_structured_data_that_breaks_the_schema_is_reported_invalid_not_stored() -> None:
    async with FakeOpenAIServer() as server:
        server.script(Reply(text="The caller booked Tuesday at 10 am."),
                      Reply(text='```json\n{"day": "Tuesday", "time": "ten in the morning"}\n```', usage=(120, 15)),
                      Reply(text='{"score": 9}', usage=(130, 4)))
        llm = create_llm("openai.gpt-test", "sk-test", {}, base_url=server.base_url)
        usage: dict[str, LLMUsage] = {}
        try:
            result = await analyse(llm, plan(structuredDataPlan={"enabled": True, "schema": SCHEMA}), TRANSCRIPT,
                                   "You book dentist appointments.", usage)
        finally:
            await llm.aclose()
        assert result["summary"] == "The caller booked Tuesday at 10 am."
        assert result["structuredData"] is None  # never stored as if valid
        validation = result["structuredDataValidation"]
        assert validation["valid"] is False
        assert any(e.startswith("time: 'ten in the morning' does not match") for e in validation["errors"])
        assert json.loads(validation["raw"].strip("`json\n")) == {"day": "Tuesday", "time": "ten in the morning"}
        assert result["successEvaluation"] == "9" and result["successEvaluationValidation"]["valid"] is True
        assert usage["structuredData"].prompt_tokens == 120 and usage["successEvaluation"].completion_tokens == 4
        data_request = server.requests[1].body
        assert json.dumps(SCHEMA) in data_request["messages"][0]["content"]  # the schema reached the model
        assert "Tuesday at 10 am please." in data_request["messages"][-1]["content"]


async def test_structured_data_that_fits_is_stored_and_the_rubric_is_checked() -> None:
    async with FakeOpenAIServer() as server:
        server.script(Reply(text='{"day": "Monday", "time": "9 am"}'), Reply(text='{"pass": "yes"}'))
        llm = create_llm("openai.gpt-test", "sk-test", {}, base_url=server.base_url)
        try:
            result = await analyse(llm, plan(summaryPlan={"enabled": False},
                                             structuredDataPlan={"enabled": True, "schema": SCHEMA},
                                             successEvaluationPlan={"rubric": "PassFail"}), TRANSCRIPT, "", {})
        finally:
            await llm.aclose()
        assert "summary" not in result
        assert result["structuredData"] == {"day": "Monday", "time": "9 am"}
        assert result["structuredDataValidation"] == {"valid": True}
        assert result["successEvaluation"] is None  # "yes" is not true/false
        assert result["successEvaluationValidation"]["errors"] == ["pass: 'yes' is not of type 'boolean'"]
        assert "Say whether the call passed" in server.requests[1].body["messages"][0]["content"]


def test_rubrics_accept_their_shape_and_refuse_others() -> None:
    ok = {"NumericScale": '{"score": 7}', "DescriptiveScale": '{"rating": "Fair"}',
          "Checklist": '{"criteria": [{"criterion": "booked", "met": true}]}',
          "Matrix": '{"criteria": [{"criterion": "polite", "level": "Excellent"}]}',
          "PercentageScale": '{"percentage": 72.5}', "LikertScale": '{"rating": "Strongly Agree"}',
          "AutomaticRubric": '{"criteria": [{"criterion": "clear", "score": 8}], "overall": 8}',
          "PassFail": 'Sure: {"pass": false}'}
    bad = {"NumericScale": '{"score": 0}', "DescriptiveScale": '{"rating": "Great"}',
           "Checklist": '{"criteria": []}', "Matrix": '{"criteria": [{"criterion": "x", "level": "Okay"}]}',
           "PercentageScale": '{"percentage": 120}', "LikertScale": '{"rating": "Agree strongly"}',
           "AutomaticRubric": '{"criteria": [{"criterion": "clear", "score": 8}]}', "PassFail": "yes"}
    for rubric, text in ok.items():
        assert rubric_result(rubric, text)["valid"] is True, rubric
    for rubric, text in bad.items():
        checked = rubric_result(rubric, text)
        assert checked["valid"] is False and checked["errors"] and "evaluation" not in checked, rubric
    assert rubric_result("PassFail", '{"pass": false}')["evaluation"] == "false"
    assert rubric_result("PercentageScale", '{"percentage": 72.5}')["evaluation"] == "72.5"
    with pytest.raises(ValueError, match="unknown rubric 'Stars'"):
        rubric_result("Stars", "{}")


def test_plans_are_checked_when_the_ai_is_saved() -> None:
    with pytest.raises(ValidationError, match="rubric"):
        AI(customer_id=CUSTOMER, analysis_plan={"successEvaluationPlan": {"rubric": "Stars"}})
    with pytest.raises(ValidationError, match="schema is not a valid JSON Schema"):
        AI(customer_id=CUSTOMER, analysis_plan={"structuredDataPlan": {"enabled": True, "schema": {"type": "strin"}}})
    with pytest.raises(ValidationError, match="schema is required"):
        AI(customer_id=CUSTOMER, analysis_plan={"structuredDataPlan": {"enabled": True}})
    # Vapi's older flat keys become the plans
    ai = AI(customer_id=CUSTOMER, analysis_plan={"summaryPrompt": "Summarise briefly.", "structuredDataSchema": SCHEMA,
                                                 "successEvaluationRubric": "LikertScale"})
    assert ai.analysis_plan is not None
    assert ai.analysis_plan["summaryPlan"]["messages"] == [{"role": "system", "content": "Summarise briefly."}]
    assert ai.analysis_plan["structuredDataPlan"]["enabled"] is True
    assert ai.analysis_plan["structuredDataPlan"]["schema"] == SCHEMA
    assert ai.analysis_plan["successEvaluationPlan"]["rubric"] == "LikertScale"
    assert AI(customer_id=CUSTOMER, analysis_plan={}).analysis_plan is None


async def test_the_offline_rule_engine_is_refused_clearly() -> None:
    llm = create_llm("rules.appointments")
    with pytest.raises(AnalysisUnavailable, match="needs a language model"):
        await analyse(llm, plan(), TRANSCRIPT, "", {})
