"""One AI call's tools: runs each tool call (VoIPBIN, declared Vapi kinds, team transitions), speaks its
request messages, decides whether the model answers the results, and announces calls and results."""
from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

import aiohttp

from flowengine.ai.tools import voipbin
from flowengine.ai.tools.catalog import RUN_LLM_DEFAULT, SPECS, validate_tool_names
from flowengine.ai.tools.declared import DEFAULT_DELAYED_MS, AssistantTool, parse_tools
from flowengine.ai.tools.outcome import ToolOutcome, arguments, failed, ok
from flowengine.ai.tools.server import call_server
from flowengine.ai.tools.speech import say
from flowengine.ai.tools.variables import run_variable_tool
from flowengine.flow.context import Services
from flowengine.flow.model import Action
from flowengine.providers.llm.base import ChatMessage, ToolCall, ToolSpec
from flowengine.tasks import TaskOwner

if TYPE_CHECKING:
    from flowengine.ai.aicall import AICallService, LiveAICall
    from flowengine.ai.definitions import AIConfig
    from flowengine.ai.teams import TeamPlan
    from flowengine.ai.voice.teamswitch import TeamSession

log = logging.getLogger(__name__)
MAX_TOOL_ROUNDS = 5  # model answers in a row to tool results before the engine stops asking
DTMF_DIGITS = re.compile(r"^[0-9*#A-Da-d]{1,64}$")
VOIPBIN_HANDLERS = {"connect_call": voipbin.connect_call, "create_call": voipbin.create_call,
                    "send_email": voipbin.send_email, "stop_media": voipbin.stop_media,
                    "get_aicall_messages": voipbin.get_aicall_messages}


class CallToolbox:
    """Made per AI call by AICallService; `run` is the conversation's tool handler."""

    def __init__(self, service: AICallService, live: LiveAICall, config: AIConfig,
                 team: TeamPlan | None = None) -> None:
        self.service = service
        self.live = live
        self.after: list[Action] = []  # actions the flow runs right after ai_talk (connect_call, transferCall)
        self._follow_up = False
        self._rounds = 0
        self._http: aiohttp.ClientSession | None = None
        self._tasks = TaskOwner(f"tools of aicall {live.record.id}")  # delayed request messages
        self.team: TeamSession | None = None
        self.use(config)
        if team is not None:
            from flowengine.ai.voice.teamswitch import TeamSession

            self.team = TeamSession(self, team)

    def use(self, config: AIConfig) -> None:
        """The AI whose tools are offered (the member's AI in a team)."""
        self.config = config
        self.names = validate_tool_names(config.ai.tool_names)
        self.declared: dict[str, AssistantTool] = {t.name: t for t in parse_tools(config.ai.tools)}

    def specs(self) -> list[ToolSpec]:
        specs = [SPECS[n] for n in self.names] + [t.spec() for t in self.declared.values()]
        if self.team is not None:
            specs += self.team.specs()
        return specs

    def flow_services(self) -> Services:
        return self.service.flow_services or Services(ari=self.service.ari)

    # -- the conversation's hooks --------------------------------------------------------------
    async def run(self, call: ToolCall) -> tuple[str, str | None]:
        record = self.live.record
        kind = ("transition" if self.team is not None and self.team.owns(call.name)
                else "declared" if call.name in self.declared else "voipbin")
        self.service.events.tool_call(record, call, kind)
        run_llm = False
        try:
            args, asked = arguments(call)
            outcome, run_llm = await self._dispatch(call, args, asked)
        except ValueError as exc:
            outcome = failed(str(exc))
        except Exception as exc:  # a tool never takes the call down: the model is told
            log.exception("tool %s failed", call.name)
            outcome = failed(f"the tool failed: {type(exc).__name__}")
        content = outcome.content(call)
        if outcome.end is not None:
            self.live.end_kind = "hard" if outcome.hard else "soft"
            run_llm = False
        self._follow_up = self._follow_up or run_llm
        self.service.events.tool_result(self.live.record, call, content, outcome.success, run_llm)
        return content, outcome.end

    async def after_tools(self) -> bool:
        """Called once a reply's tool calls have all run: True when the model should answer them."""
        if self.team is not None:
            await self.team.flush_prompt()
        wanted, self._follow_up = self._follow_up, False
        self._rounds = self._rounds + 1 if wanted else 0
        if wanted and self._rounds > MAX_TOOL_ROUNDS:
            log.warning("aicall %s: %d tool rounds in a row, the model is not asked again", self.live.record.id,
                        self._rounds)
            self._rounds = 0
            return False
        return wanted

    # -- dispatch -------------------------------------------------------------------------------
    async def _dispatch(self, call: ToolCall, args: dict[str, Any], asked: bool | None) -> tuple[ToolOutcome, bool]:
        name = call.name
        if self.team is not None and self.team.owns(name):
            return await self.team.switch(name), True
        if name in self.declared:
            tool = self.declared[name]
            return await self._declared(tool, call, args), True if asked is None else asked
        if name not in self.names:
            return failed(f"tool {name} is not available to this AI"), bool(asked)
        run_llm = RUN_LLM_DEFAULT.get(name, False) if asked is None else asked
        if name == "stop_service":
            return ok("ending the conversation", end="assistant-ended-call"), run_llm
        if name == "stop_flow":
            return ok("ending the call", end="assistant-ended-call", hard=True), run_llm
        if name in ("set_variables", "get_variables"):
            result = run_variable_tool(call, self.live.variables)
            return ToolOutcome('"error"' not in result, result), run_llm
        return await VOIPBIN_HANDLERS[name](self, args), run_llm

    async def _declared(self, tool: AssistantTool, call: ToolCall, args: dict[str, Any]) -> ToolOutcome:
        conversation = self.live.conversation
        start = tool.message("request-start")
        if start is not None:
            await self._say(start.content)
        delayed = tool.message("request-response-delayed")
        timer = None
        if delayed is not None and conversation is not None:
            timer = self._tasks.start(self._say_later(delayed.content, delayed.timingMilliseconds),
                                      name=f"delayed-message-{call.id}")
        try:
            outcome = await self._run_declared(tool, call, args)
        finally:
            if timer is not None:  # the answer came first: the delayed message is not said
                timer.cancel()
                await asyncio.gather(timer, return_exceptions=True)
        after = tool.message("request-complete" if outcome.success else "request-failed")
        if after is not None:
            await self._say(after.content, wait=outcome.end is not None)
        return outcome

    async def _say_later(self, text: str, timing_ms: int | None) -> None:
        await asyncio.sleep((timing_ms if timing_ms is not None else DEFAULT_DELAYED_MS) / 1000)
        await self._say(text)

    async def _say(self, text: str, *, wait: bool = False) -> None:
        """A tool's fixed line on the call's voice, and into the transcript (the caller heard it),
        not into the model's context, where nothing may come between a tool call and its result."""
        conversation = self.live.conversation
        if conversation is None:
            return
        await say(conversation, text, wait=wait)
        await self.service._store_message(self.live, ChatMessage("assistant", text), {"direction": "outgoing"})

    async def _run_declared(self, tool: AssistantTool, call: ToolCall, args: dict[str, Any]) -> ToolOutcome:
        live = self.live
        if tool.type == "function":
            relayed = await self.service.tool_relay(live, call) if self.service.tool_relay is not None else None
            if relayed is not None:  # a front door's hooks answered (flowengine.api.voiceos.hooks)
                return ToolOutcome(*relayed)
            assert tool.server is not None
            secret = self.config.tool_secrets.get(tool.name)
            answer = await call_server(self.http(), tool.server.url, secret.get_secret_value() if secret else "",
                                       tool.server.timeoutSeconds, call, _call_summary(live))
            return ToolOutcome(answer.ok, answer.result)
        if tool.type == "endCall":
            return ok("ending the call", end="assistant-ended-call", hard=True)
        if live.call is None:
            return failed(f"{tool.type} works on calls only")
        if tool.type == "dtmf":
            digits = str(args.get("digits", ""))
            if not DTMF_DIGITS.match(digits):
                return failed("digits: 1-64 of 0-9, *, #, A-D")
            await live.call.channel.send_dtmf(digits, between_ms=100, duration_ms=100)
            return ok(f"sent the digits {digits}")
        wanted = str(args.get("destination", ""))
        destination = next((d for d in tool.destinations if d.target == wanted), None)
        if destination is None and len(tool.destinations) == 1 and not wanted:
            destination = tool.destinations[0]
        if destination is None:
            return failed(f"destination {wanted!r} is not one of {', '.join(d.target for d in tool.destinations)}")
        if destination.type == "assistant":
            return failed("assistant destinations work inside squads (teams) only")
        address = {"type": "tel" if destination.type == "number" else "sip", "target": destination.target}
        outcome = await voipbin.connect_call(self, {"destinations": [address]})
        if outcome.success and destination.message:
            await self._say(destination.message, wait=True)
        return outcome

    # -- resources -----------------------------------------------------------------------------
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        return self._http

    async def aclose(self) -> None:
        await self._tasks.aclose()
        if self._http is not None:
            await self._http.close()
        if self.team is not None:
            await self.team.aclose()


def _call_summary(live: LiveAICall) -> dict[str, Any]:
    """The `call` part of a function tool request: who is calling, never secrets."""
    record = live.record
    return {"id": record.id, "aicallId": record.id, "activeflowId": record.activeflow_id,
            "referenceType": record.reference_type, "referenceId": record.reference_id,
            "customerId": record.customer_id, "assistantId": record.assistance_id}
