"""AI calls: one live conversation on a call, its lifecycle (statuses, pause/resume, terminate) and records."""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from flowengine.ai.agent import Agent
from flowengine.ai.definitions import AIConfig
from flowengine.ai.endreasons import CUSTOMER_ENDED, EXCEEDED_MAX_DURATION
from flowengine.ai.events import AICallEvents
from flowengine.ai.postcall.outcome import CallOutcomes
from flowengine.ai.providers import ProviderPool
from flowengine.ai.teams import TeamError, TeamPlan, TeamSource, find_stored_team, plan_team
from flowengine.ai.text import TASK_PROMPT, TASK_TIMEOUT_S, TextConversation
from flowengine.ai.tools.box import CallToolbox
from flowengine.ai.tools.variables import run_variable_tool, tools_for
from flowengine.ai.voice.callrules import CallRules
from flowengine.ai.voice.conversation import Conversation, ConversationSettings
from flowengine.ai.voice.dtmf import DtmfFeed
from flowengine.ai.voice.expectation import expectation, last_question
from flowengine.ai.voice.media import CallMedia, MediaSettings
from flowengine.ai.voice.room import Room
from flowengine.ai.voice.teamswitch import member_parameter
from flowengine.asterisk.app import Call
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.rest import AriError
from flowengine.events import EventBus
from flowengine.flow.context import Services, ServicesLink
from flowengine.flow.model import Action
from flowengine.flow.persistence import ENGINE_CUSTOMER_ID
from flowengine.flow.variables import Variables
from flowengine.logs import log_context
from flowengine.media.vad import VadConfig
from flowengine.providers.llm.base import ChatMessage, LLMProvider, ToolCall, ToolSpec
from flowengine.providers.pricing import PriceTable
from flowengine.providers.usage import UsageMeter
from flowengine.store import NOT_YET, AIcall, AIMessage, Store
from flowengine.store import ToolCall as StoredToolCall
from flowengine.store import ToolFunction as StoredToolFunction

log = logging.getLogger(__name__)

VOICE_AGENT_PROMPT = (
    "You are a voice assistant talking with a caller on the telephone. Your words are spoken aloud: "
    "answer in short, plain sentences, no lists or markup, one question at a time."
)
Status = Literal["initiating", "progressing", "pausing", "resuming", "terminating", "terminated"]
EndKind = Literal["soft", "hard"]
Observer = Callable[[str, AIcall], Awaitable[None]]
NIL = "00000000-0000-0000-0000-000000000000"


def stt_keywords(parameter: dict[str, Any]) -> tuple[str, ...]:
    """The AI's `parameter.stt_keywords`: words its recogniser should favour (Deepgram keyterms, Cartesia and
    ElevenLabs keyterms, Whisper's prompt for OpenAI); others are ignored by recognisers without the feature."""
    value = parameter.get("stt_keywords") or ()
    if isinstance(value, str):
        value = [value]
    return tuple(str(v).strip() for v in value if str(v).strip()) if isinstance(value, list | tuple) else ()


def _number(parameter: dict[str, Any], kind: type[float | int], *keys: str) -> Any:
    """A sampling setting from the AI's parameter (None when unset or not a number)."""
    for key in keys:
        value = parameter.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return kind(value)
    return None


class AICallError(Exception):
    """An AI call operation is not possible (unknown id, media gone, wrong status)."""


class AISource(Protocol):
    def get(self, ai_id: str) -> AIConfig | None: ...


@dataclass
class LiveAICall:
    record: AIcall
    variables: Variables
    call: Call | None = None
    media: CallMedia | None = None
    room: Room | None = None  # who else is in its confbridge: a human agent's takeover (flowengine.ai.voice.room)
    conversation: Conversation | None = None
    text: TextConversation | None = None
    llm: LLMProvider | None = None  # owned by this AI call: closed when it ends
    toolbox: CallToolbox | None = None  # its tools (and team), see flowengine.ai.tools
    rules: CallRules | None = None  # first message, end-call phrases, limits, voicemail (flowengine.ai.voice.callrules)
    meter: UsageMeter | None = None  # tokens, characters, seconds (flowengine.providers.usage)
    end_kind: EndKind = "soft"
    ended_reason: str = ""
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def after(self) -> list[Action]:
        """Actions the flow runs right after the AI call (connect_call, transferCall)."""
        return self.toolbox.after if self.toolbox is not None else []


class AICallService:
    """Starts AI calls for `ai_talk` and controls live ones (pause, resume, terminate); the port
    `flowengine.flow.aiport.AICalls` through which the flow's actions reach it. `aclose` awaits the
    post-call work of ended calls.

    `flow_services`, for tools that dial, connect or email, are the engine's Services, which hold this
    service: the engine hands a `ServicesLink` bound once they are built."""

    def __init__(self, ais: AISource, pool: ProviderPool, ari: AriClient | None, media: MediaSettings,
                 store: Store | None = None, *, events: EventBus | None = None,
                 flow_services: Services | ServicesLink | None = None, teams: TeamSource | None = None,
                 prices: PriceTable | None = None) -> None:
        self.ais = ais
        self.events = AICallEvents(events)
        self._flow_services = (flow_services if isinstance(flow_services, ServicesLink) or flow_services is None
                               else ServicesLink(flow_services))
        self.teams = teams
        self.pool = pool
        self.ari = ari
        self.media_settings = media
        self.store = store
        self.live: dict[str, LiveAICall] = {}
        self.observers: list[Observer] = []
        self.messages: dict[str, list[AIMessage]] = {}
        self.recent: deque[LiveAICall] = deque(maxlen=100)  # ended AI calls, for reports and demos
        self.prices = prices if prices is not None else PriceTable()  # config `prices`: what usage costs
        self.outcomes = CallOutcomes(self)  # usage, costs, post-call analysis, end-of-call report
        # A front door that answers `function` tools itself (VoiceOS function_call:triggered hooks):
        # returns (success, result) for the model, or None to let the tool's server.url answer.
        self.tool_relay: Callable[[LiveAICall, ToolCall], Awaitable[tuple[bool, str] | None]] | None = None

    @property
    def flow_services(self) -> Services | None:
        link = self._flow_services
        return link.get() if link is not None and link.bound else None

    async def aclose(self) -> None:
        """Waits for the post-call analyses of ended calls (their calls are ended by their flows' owners)."""
        await self.outcomes.aclose()

    # -- records and events -------------------------------------------------------------------
    async def _set_status(self, live: LiveAICall, status: Status, **changes: Any) -> None:
        if status == "terminated" and live.record.tm_end == NOT_YET:  # every terminated AI call says when
            changes["tm_end"] = self.store.clock() if self.store is not None else datetime.now(UTC)
        live.record = live.record.model_copy(update={"status": status, **changes})
        if self.store is not None:
            stored = await self.store.aicalls.update(live.record.customer_id, live.record.id,
                                                     status=status, **changes)
            live.record = stored
        event = "aicall_status_initializing" if status == "initiating" else f"aicall_status_{status}"
        log.info("aicall %s %s", live.record.id, status)
        self.events.status(live.record)
        for observer in self.observers:
            try:
                await observer(event, live.record)
            except Exception:
                log.exception("aicall observer failed")

    async def _store_message(self, live: LiveAICall, message: ChatMessage, extra: dict[str, object]) -> None:
        direction = "outgoing" if message.role in ("system", "user", "tool") else "incoming"
        record = AIMessage(
            id=str(uuid.uuid4()), customer_id=live.record.customer_id, aicall_id=live.record.id,
            activeflow_id=live.record.activeflow_id,
            active_ai_id=live.toolbox.config.ai.id if live.toolbox is not None else live.record.assistance_id,
            direction=direction, role=message.role, content=message.content, tool_call_id=message.tool_call_id,
            tool_calls=[StoredToolCall(id=c.id, type="function",
                                       function=StoredToolFunction(name=c.name, arguments=c.arguments))
                        for c in message.tool_calls])
        if self.store is not None:
            record = await self.store.aimessages.create(record)
        self.messages.setdefault(live.record.id, []).append(record)
        self.events.message(live.record, record)
        for observer in self.observers:
            try:
                await observer("aimessage_created", live.record)
            except Exception:
                log.exception("aimessage observer failed")

    # -- ai_talk on a call --------------------------------------------------------------------
    async def agent(self, assistance_type: str, assistance_id: str, customer_id: str = "") -> Agent:
        """The AI, or the team (from the team files, else the customer's or the engine's in the store), an
        action names; a team talks with its start member first."""
        if assistance_type == "team":
            team = await self.resolve_team(assistance_id, customer_id)
            return Agent(self, team.ais[team.start.id], team)
        return Agent(self, self.resolve(assistance_type, assistance_id))

    def resolve(self, assistance_type: str, assistance_id: str) -> AIConfig:
        if assistance_type == "team":
            team = self.teams.get(assistance_id) if self.teams is not None else None
            if team is None:
                raise AICallError(f"AI team {assistance_id!r} not found")
            plan = plan_team(team, self.ais)
            return plan.ais[plan.start.id]
        config = self.ais.get(assistance_id)
        if config is None:
            raise AICallError(f"AI {assistance_id!r} not found")
        return config

    async def resolve_team(self, team_id: str, customer_id: str = "") -> TeamPlan:
        """A team from the team files, else from the store (the customer's, then the engine's)."""
        team = self.teams.get(team_id) if self.teams is not None else None
        if team is None and self.store is not None:
            team = await find_stored_team(self.store, team_id, customer_id)
        if team is None:
            raise AICallError(f"AI team {team_id!r} not found")
        try:
            return plan_team(team, self.ais)
        except TeamError as exc:
            raise AICallError(str(exc)) from None

    async def talk(self, *, call: Call, config: AIConfig, variables: Variables, activeflow_id: str,
                   max_duration_s: int = 0, team: TeamPlan | None = None,
                   variable_values: dict[str, Any] | None = None) -> LiveAICall:
        """Run an AI call on `call` until it ends; returns it (see `end_kind`, `ended_reason`)."""
        if self.ari is None:
            raise AICallError("AI calls need Asterisk (ARI)")
        ai = config.ai
        variables.update(variable_values or {})  # Vapi variableValues: this call's values
        tools = tools_for(ai.tool_names)
        stt, tts = self.pool.stt(ai.stt_type), self.pool.tts(ai.tts_type)
        parameter = variables.substitute(member_parameter(team, config) if team is not None else ai.parameter)
        llm = self.pool.llm(ai.engine_model, config.engine_key.get_secret_value(), parameter)
        meter = UsageMeter()
        llm, stt, tts = meter.llm(llm), meter.stt(stt), meter.tts(tts)
        meter.start()
        prompt = variables.substitute(ai.init_prompt)
        aicall_id = str(uuid.uuid4())
        record = AIcall(
            id=aicall_id, customer_id=ai.customer_id or ENGINE_CUSTOMER_ID, assistance_type="ai",
            assistance_id=ai.id, ai_engine_model=ai.engine_model, ai_tts_type=ai.tts_type,
            ai_tts_voice_id=ai.tts_voice_id, ai_stt_type=ai.stt_type, ai_vad_config=ai.vad_config,
            ai_smart_turn_enabled=ai.smart_turn_enabled, parameter=parameter, activeflow_id=activeflow_id,
            reference_type="call", reference_id=call.id, confbridge_id=aicall_id, status="initiating",
            variable_values=dict(variable_values or {}),
            stt_language=ai.stt_language, metadata={"prompt_snapshots": [{"ai_id": ai.id, "prompt": prompt}]})
        if team is not None:
            record = record.model_copy(update={"assistance_type": "team", "assistance_id": team.team.id,
                                               "current_member_id": team.start.id})
        if self.store is not None:
            record = await self.store.aicalls.create(record)
        live = LiveAICall(record, variables, call=call, llm=llm)
        live.rules, live.meter = CallRules.for_call(ai, variables), meter
        live.toolbox = CallToolbox(self, live, config, team)
        tools = live.toolbox.specs()
        self.live[aicall_id] = live
        variables.update({
            "voipbin.aicall.id": aicall_id, "voipbin.aicall.ai_id": ai.id,
            "voipbin.aicall.ai_engine_model": ai.engine_model, "voipbin.aicall.confbridge_id": aicall_id,
            "voipbin.aicall.stt_language": ai.stt_language, "voipbin.aicall.pipecatcall_id": "",
        })
        with log_context(aicall_id=aicall_id):  # on every record of this AI call, its media's included
            try:
                await self._set_status(live, "initiating")
                await self._run(live, call, llm, stt, tts, prompt, parameter, max_duration_s, tools)
            finally:
                self.live.pop(aicall_id, None)
                await live.toolbox.aclose()
                await llm.aclose()
                self.recent.append(live)
                while len(self.messages) > (self.recent.maxlen or 0):  # keep transcripts of recent calls only
                    del self.messages[next(iter(self.messages))]
                live.done.set()
                await self.outcomes.finish(live, config)
        return live

    async def _run(self, live: LiveAICall, call: Call, llm: Any, stt: Any, tts: Any, prompt: str,
                   parameter: dict[str, Any], max_duration_s: int, tools: list[ToolSpec]) -> None:
        ai_vad = live.record.ai_vad_config
        vad = VadConfig.from_mapping(ai_vad.model_dump(exclude_none=True) if ai_vad is not None else None)
        if live.record.ai_smart_turn_enabled and (ai_vad is None or ai_vad.stop_secs is None):
            # the judge adds its own wait after a short VAD pause; a stop time the AI sets is kept (smart turn is
            # on by default now, and would otherwise override it silently)
            vad = VadConfig(confidence=vad.confidence, start_secs=vad.start_secs, stop_secs=0.2,
                            min_volume=vad.min_volume)
        system = [ChatMessage("system", VOICE_AGENT_PROMPT)]
        if prompt:
            system.append(ChatMessage("system", prompt))
        if parameter:
            system.append(ChatMessage("system", json.dumps(parameter)))
        for message in system:
            await self._store_message(live, message, {})
        settings = ConversationSettings(
            speak_first=bool(parameter.get("speak_first") or parameter.get("first_message")),
            first_message=str(parameter.get("first_message", "")), language=live.record.stt_language,
            keywords=stt_keywords(parameter),
            voice_id=live.record.ai_tts_voice_id, smart_turn=live.record.ai_smart_turn_enabled,
            temperature=_number(parameter, float, "temperature"),
            max_tokens=_number(parameter, int, "max_tokens", "maxTokens"))  # Vapi model / VoiceOS language_model
        rules = live.rules or CallRules()
        settings = rules.settings(settings)
        assert self.ari is not None
        media = await CallMedia.attach(self.ari, call.channel, live.record.confbridge_id, self.media_settings, vad)
        live.media = media
        live.room = Room(media, functools.partial(self._takeover_note, live))
        try:
            record = live.record
            conversation = Conversation(
                inbox=media.inbox, output=media.session.output, stt=stt, llm=llm, tts=tts, messages=list(system),
                settings=settings, tools=tools, on_tool=lambda c: self._tool(live, c),
                on_message=lambda m, extra: self._store_message(live, m, extra),
                fallback_stt=self.pool.fallback_stt(record.ai_stt_type),
                fallback_tts=self.pool.fallback_tts(record.ai_tts_type),
                apology_tts=self.pool.apology_voice(record.ai_tts_type))
            assert live.toolbox is not None
            conversation.after_tools = live.toolbox.after_tools
            conversation.on_speech = lambda who, started, text: self.events.speech(live.record, who, started, text)
            conversation.on_turn = lambda turn, said, cut: self.events.turn(live.record, turn.report(), said, cut)
            conversation.on_barge_in = lambda dropped_ms: self.events.barge_in(live.record, dropped_ms)
            analyzer = media.session.vad
            if analyzer is not None:  # a held turn waits out the caller's voice starting again
                conversation.speech_onset = lambda: analyzer.starting
            live.conversation = conversation
            rules.attach(conversation)
            dtmf = DtmfFeed(self.ari, call.channel.id, conversation.send_user_text, wants_digits=lambda: expectation(
                last_question(conversation.messages)).expect == "digits")
            try:
                await self._set_status(live, "progressing")
                reason = await rules.converse(
                    conversation=conversation, media=media, tts=tts, call=call, ari=self.ari,
                    run=functools.partial(self._converse, live, call, conversation, max_duration_s))
                live.end_kind = "hard" if rules.hard_end else live.end_kind
            finally:
                await dtmf.aclose()
            live.ended_reason = live.ended_reason or reason
        finally:
            await self._set_status(live, "terminating")
            await live.room.aclose()
            await media.aclose()
            live.media = None
            if live.ended_reason in ("", "ended") and call.ended.is_set():  # e.g. the flow cancelled it on the hangup
                live.ended_reason = CUSTOMER_ENDED
            await self._set_status(live, "terminated", ended_reason=live.ended_reason or "ended")

    async def _converse(self, live: LiveAICall, call: Call, conversation: Conversation, max_s: int) -> str:
        talk = asyncio.ensure_future(conversation.run())
        hangup = asyncio.ensure_future(call.ended.wait())
        waiters: set[asyncio.Future[Any]] = {talk, hangup}
        try:
            done, _ = await asyncio.wait(waiters, timeout=max_s or None, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # cancelled: the conversation goes with the call's task
            talk.cancel()
            await asyncio.gather(talk, return_exceptions=True)
            raise
        finally:
            hangup.cancel()
        if talk in done:
            return talk.result()
        conversation.end(CUSTOMER_ENDED if hangup in done else EXCEEDED_MAX_DURATION)
        if hangup in done:
            live.end_kind = "hard"
        return await talk

    async def _tool(self, live: LiveAICall, call: ToolCall) -> tuple[str, str | None]:
        """Tool calls go to the AI call's toolbox (flowengine.ai.tools)."""
        if live.toolbox is not None:
            return await live.toolbox.run(call)
        if call.name == "stop_service":
            live.end_kind = "soft"
            return '{"result": "ending the conversation"}', "assistant-ended-call"
        if call.name == "stop_flow":
            live.end_kind = "hard"
            return '{"result": "ending the call"}', "assistant-ended-call"
        if call.name in ("set_variables", "get_variables"):
            return run_variable_tool(call, live.variables), None
        return json.dumps({"error": f"tool {call.name} is not available"}), None

    # -- text-only AI calls (no media) --------------------------------------------------------
    def _text_record(self, config: AIConfig, reference_type: Literal["task", "conversation"], reference_id: str,
                     activeflow_id: str, prompt: str, parameter: dict[str, Any]) -> AIcall:
        ai = config.ai
        return AIcall(
            id=str(uuid.uuid4()), customer_id=ai.customer_id or ENGINE_CUSTOMER_ID, assistance_type="ai",
            assistance_id=ai.id, ai_engine_model=ai.engine_model, parameter=parameter,
            activeflow_id=activeflow_id or NIL, reference_type=reference_type, reference_id=reference_id or NIL,
            status="initiating", metadata={"prompt_snapshots": [{"ai_id": ai.id, "prompt": prompt}]})

    async def _text_call(self, config: AIConfig, variables: Variables, reference_type: Literal["task", "conversation"],
                         reference_id: str, activeflow_id: str, first_prompt: str) -> tuple[LiveAICall, TextConversation]:
        ai = config.ai
        tools = tools_for(ai.tool_names)
        parameter = variables.substitute(ai.parameter)
        prompt = variables.substitute(ai.init_prompt)
        llm = self.pool.llm(ai.engine_model, config.engine_key.get_secret_value(), parameter)
        record = self._text_record(config, reference_type, reference_id, activeflow_id, prompt, parameter)
        if self.store is not None:
            record = await self.store.aicalls.create(record)
        live = LiveAICall(record, variables, llm=llm)
        live.toolbox = CallToolbox(self, live, config)
        tools = live.toolbox.specs()
        system = [ChatMessage("system", first_prompt)] + ([ChatMessage("system", prompt)] if prompt else [])
        if parameter:
            system.append(ChatMessage("system", json.dumps(parameter)))
        for message in system:
            await self._store_message(live, message, {})
        text = TextConversation(llm, list(system), tools, on_tool=lambda c: self._tool(live, c),
                                on_message=lambda m: self._store_message(live, m, {}))
        live.text = text
        self.live[record.id] = live
        await self._set_status(live, "initiating")
        return live, text

    async def task(self, *, config: AIConfig, variables: Variables, activeflow_id: str,
                   timeout_s: float = TASK_TIMEOUT_S) -> LiveAICall:
        """`ai_task`: the model acts headless through its tools until stop_service (or the timeout)."""
        live, text = await self._text_call(config, variables, "task", "", activeflow_id, TASK_PROMPT)
        with log_context(aicall_id=live.record.id):
            try:
                reason = await text.run_task(timeout_s)
                live.ended_reason = live.ended_reason or reason
            finally:
                await self._finish_text(live)
        return live

    async def start_conversation(self, *, config: AIConfig, variables: Variables, reference_id: str = "",
                                 activeflow_id: str = "") -> LiveAICall:
        """A text conversation AI call; talk to it with `send()`, end it with `terminate()`."""
        live, _ = await self._text_call(config, variables, "conversation", reference_id, activeflow_id,
                                        VOICE_AGENT_PROMPT.replace("spoken aloud", "read as chat messages"))
        await self._set_status(live, "progressing")
        return live

    async def send(self, aicall_id: str, message: str) -> str:
        """Post a user message into a live text AI call; returns the AI's answer."""
        live = self.get(aicall_id)
        if live.text is None:
            raise AICallError(f"AI call {aicall_id!r} is a voice call: messages go through its audio")
        answer = await live.text.send(message)
        if live.text.ended:
            live.ended_reason = live.text.ended
            await self._finish_text(live)
        return answer

    async def _finish_text(self, live: LiveAICall) -> None:
        if live.record.status == "terminated":
            return
        self.live.pop(live.record.id, None)
        if live.llm is not None:
            await live.llm.aclose()
        await self._set_status(live, "terminated", ended_reason=live.ended_reason or "ended")
        self.recent.append(live)
        live.done.set()

    # -- control ------------------------------------------------------------------------------
    def get(self, aicall_id: str) -> LiveAICall:
        live = self.live.get(aicall_id)
        if live is None:
            raise AICallError(f"AI call {aicall_id!r} is not live")
        return live

    async def pause(self, aicall_id: str) -> None:
        live = self.get(aicall_id)
        if live.media is None or live.conversation is None or live.media.closed:
            raise AICallError(f"AI call {aicall_id!r} has no media any more: it cannot be paused")
        if live.record.status != "progressing":
            raise AICallError(f"AI call {aicall_id!r} is {live.record.status}, not progressing")
        await live.conversation.pause()
        assert live.room is not None
        await live.room.pause(music=bool(live.record.parameter.get("pause_music", True)))
        await self._set_status(live, "pausing")

    async def resume(self, aicall_id: str, line: str = "") -> None:
        live = self.get(aicall_id)
        if live.media is None or live.conversation is None or live.media.closed:
            raise AICallError(f"AI call {aicall_id!r} has no media any more: it cannot be resumed")
        if live.record.status != "pausing":
            raise AICallError(f"AI call {aicall_id!r} is {live.record.status}, not paused")
        assert live.room is not None
        try:
            await live.room.resume()
        except AriError as exc:
            raise AICallError(f"AI call {aicall_id!r} could not be resumed: {exc}") from exc
        await self._set_status(live, "resuming")
        if live.media.session.vad is not None:  # the hold music kept the VAD in "speech": listen afresh,
            live.media.session.vad.reset()  # else the caller's first words after the pause are never a turn
        live.conversation.resume(line)
        await self._set_status(live, "progressing")

    async def _takeover_note(self, live: LiveAICall, text: str) -> None:
        """A human agent joined or left the AI call's room: a system note in its transcript, stored like
        its other messages, and in the model's context unless a reply is under way (a note between a tool
        call and its result would break that exchange)."""
        message = ChatMessage("system", text)
        conversation = live.conversation
        if conversation is not None and not conversation.speaking:
            conversation.messages.append(message)
        await self._store_message(live, message, {})

    async def terminate(self, aicall_id: str, reason: str = "manually-canceled", hard: bool = False) -> None:
        live = self.get(aicall_id)
        live.end_kind = "hard" if hard else "soft"
        live.ended_reason = reason
        if live.conversation is not None:
            live.conversation.end(reason)
        elif live.text is not None:
            await self._finish_text(live)
