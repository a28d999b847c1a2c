"""What an executing action sees: its options, the activeflow, the call, and the engine's services."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from flowengine.events import EventBus
from flowengine.flow import stackmap
from flowengine.flow.aiport import AICalls
from flowengine.flow.handlers import ActionFailed
from flowengine.flow.model import Action, Flow

if TYPE_CHECKING:
    import aiohttp

    from flowengine.asterisk.ami import AmiClient
    from flowengine.asterisk.app import Call
    from flowengine.asterisk.ari.client import AriClient
    from flowengine.flow.activeflow import Activeflow
    from flowengine.flow.callregistry import CallRegistry
    from flowengine.flow.dtmf import DigitBuffer
    from flowengine.flow.runner import Runner
    from flowengine.flow.variables import Variables


class FlowSource(Protocol):
    """Where flows are found by id (the flow directory, the store)."""

    def get_flow(self, flow_id: str) -> Flow | None: ...


class SpeechRenderer(Protocol):
    """Turns text into a media URI Asterisk can play (`talk`)."""

    async def render(self, text: str, *, language: str = "", voice_id: str = "") -> str: ...


@dataclass
class SmtpSettings:
    host: str = ""
    port: int = 25
    username: str = ""
    password: str = ""
    sender: str = "flowengine@localhost"
    starttls: bool = False


Observer = Callable[["Activeflow", str], Awaitable[None]]
StartFlow = Callable[..., Awaitable["Runner"]]
DialFlow = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class Services:
    """The engine's parts actions use, built once with all of them. Absent ones make the actions needing
    them fail clearly. Parts that need the services back (the flow service's runners, AI tools) reach
    them through a `ServicesLink` bound once this is built."""

    ari: AriClient | None = None
    ami: AmiClient | None = None
    flows: FlowSource | None = None
    speech: SpeechRenderer | None = None
    http: aiohttp.ClientSession | None = None
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    recordings_dir: str = ""
    observers: Sequence[Observer] = ()
    start_flow: StartFlow | None = None  # flowengine.flow.service.FlowService's
    dial_flow: DialFlow | None = None
    dial_timeout_s: int = 30
    ai: AICalls | None = None  # flowengine.ai.aicall.AICallService when AI calls are configured
    calls: CallRegistry | None = None  # the engine's call records (campaign calls are recorded through it)
    endpoints: Mapping[str, str] = field(default_factory=dict)
    hangup_reasons: dict[str, str] = field(default_factory=dict)
    """Why each call of the engine ended, by call id: a shared record, written by what ends a call."""
    events: EventBus = field(default_factory=EventBus)

    def need_ari(self) -> AriClient:
        if self.ari is None:
            raise ActionFailed("this action needs Asterisk (ARI) and the engine has none")
        return self.ari


class ServicesLink:
    """The engine's `Services` for the parts Services holds that need them back at run time (the flow
    service that starts runners with them, the tools of AI calls): the one late-bound edge of the engine's
    wiring, bound once, when Services is built, before any of those parts runs."""

    def __init__(self, services: Services | None = None) -> None:
        self._services = services

    def bind(self, services: Services) -> Services:
        if self._services is not None:
            raise RuntimeError("the services are bound already: they are built once")
        self._services = services
        return services

    @property
    def bound(self) -> bool:
        return self._services is not None

    def get(self) -> Services:
        if self._services is None:
            raise RuntimeError("the engine's services are not built yet")
        return self._services


@dataclass
class ActionContext:
    runner: Runner
    action: Action
    stack_id: str
    blocked: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def activeflow(self) -> Activeflow:
        return self.runner.activeflow

    @property
    def variables(self) -> Variables:
        return self.runner.variables

    @property
    def services(self) -> Services:
        return self.runner.services

    @property
    def digits(self) -> DigitBuffer:
        return self.runner.digits

    @property
    def call(self) -> Call:
        if self.runner.call is None:
            raise ActionFailed(f"action {self.action.type!r} needs a call")
        return self.runner.call

    def stored_action(self) -> Action:
        """The action as kept in its stack (goto counts its loops there)."""
        stack = self.activeflow.stack_map.get(self.stack_id)
        for action in stack.actions if stack else ():
            if action.id == self.action.id:
                return action
        raise ActionFailed(f"action {self.action.id!r} is no longer in its stack")

    def forward(self, action_id: str) -> None:
        """Continue at `action_id` (searched from this action's stack upward)."""
        try:
            stack_id, _ = stackmap.find_action(self.activeflow, self.stack_id, action_id)
        except stackmap.CursorError as exc:
            raise ActionFailed(str(exc)) from None
        self.activeflow.set_forward(stack_id, action_id)

    def push(self, actions: Sequence[Action], stack_id: str | None = None) -> None:
        """Run `actions` next, then come back after this action."""
        stackmap.push(self.activeflow, actions, stack_id)

    def stop(self, reason: str) -> None:
        """End the activeflow after this action."""
        self.runner.request_stop(reason)

    def block(self) -> None:
        """Halt after this action until the activeflow is continued."""
        self.blocked = True
