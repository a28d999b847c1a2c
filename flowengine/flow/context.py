"""What an executing action sees: its options, the activeflow, the call, and the engine's services."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from flowengine.events import EventBus
from flowengine.flow import stackmap
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


@dataclass
class Services:
    """The engine's parts actions use. Absent ones make the actions needing them fail clearly."""

    ari: AriClient | None = None
    ami: AmiClient | None = None
    flows: FlowSource | None = None
    speech: SpeechRenderer | None = None
    http: aiohttp.ClientSession | None = None
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    recordings_dir: str = ""
    observers: list[Observer] = field(default_factory=list)
    start_flow: StartFlow | None = None
    dial_flow: DialFlow | None = None
    dial_timeout_s: int = 30
    ai: Any = None  # flowengine.ai.aicall.AICallService when AI calls are configured
    calls: CallRegistry | None = None  # the engine's call records (campaign calls are recorded through it)
    endpoints: dict[str, str] = field(default_factory=dict)
    hangup_reasons: dict[str, str] = field(default_factory=dict)
    events: EventBus = field(default_factory=EventBus)

    def need_ari(self) -> AriClient:
        if self.ari is None:
            raise ActionFailed("this action needs Asterisk (ARI) and the engine has none")
        return self.ari


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
