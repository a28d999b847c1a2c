"""AMI client on panoramisk: login, ping, event subscriptions, Originate; reconnects by itself."""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

log = logging.getLogger(__name__)

AmiHandler = Callable[[Message], None]

# OriginateResponse `Reason` codes (Asterisk's AST_CONTROL_* values) as words.
ORIGINATE_REASONS = {
    "0": "failed",
    "1": "hangup",
    "3": "no_answer",
    "4": "answered",
    "5": "busy",
    "8": "congestion",
}


class AmiError(Exception):
    """An AMI action failed or AMI is unreachable."""


class AmiAuthError(AmiError):
    """Asterisk refused the AMI username/secret."""


@dataclass(frozen=True)
class OriginateResult:
    """The outcome of an asynchronous Originate (its OriginateResponse event)."""

    success: bool
    reason: str
    channel: str
    unique_id: str
    raw: Mapping[str, str]


class _Protocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol; tolerates a connection that drops before the manager adopts it
    (Asterisk restarting accepts and resets at once; panoramisk 1.4 then raises AttributeError)."""

    def connection_lost(self, exc: Exception | None) -> None:
        if self.factory is None:
            self.closed = True
            return
        super().connection_lost(exc)


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager, with `authenticated` reset on disconnect (panoramisk 1.4 keeps it
    True) and no reconnect after an intentional close."""

    closing = False

    def connection_lost(self, exc: Exception | None) -> None:
        self.authenticated = False
        if self.closing:
            self._connected = False
            return
        super().connection_lost(exc)

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if self.closing:  # a reconnect scheduled before close() fires after it
            return None
        return super().connect(*args, **kwargs)

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if self.closing:
            if not f.cancelled() and f.exception() is None:
                transport, _protocol = f.result()
                transport.close()
            return
        super().connection_made(f)


class AmiSubscription:
    def __init__(self, manager: Manager, pattern: str, callback: Callable[..., None]) -> None:
        self._manager = manager
        self._pattern = pattern
        self._callback = callback

    def close(self) -> None:
        callbacks = self._manager.callbacks.get(self._pattern, [])
        if self._callback in callbacks:
            callbacks.remove(self._callback)


class AmiClient:
    """One AMI login. `connect()` raises AmiAuthError on bad credentials; later drops reconnect."""

    def __init__(self, host: str, port: int, username: str, secret: str, *, reconnect_timeout: int = 1) -> None:
        self.host = host
        self.port = port
        self.username = username
        self._secret = secret
        self._reconnect_timeout = reconnect_timeout
        self._manager: _Manager | None = None
        self.logins = 0
        self._login_waiter: asyncio.Future[bool] | None = None

    @property
    def manager(self) -> _Manager:
        if self._manager is None:
            raise AmiError("AMI client is not connected; call connect() first")
        return self._manager

    @property
    def authenticated(self) -> bool:
        return self._manager is not None and bool(self._manager.authenticated)

    async def connect(self, timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        self._login_waiter = loop.create_future()
        self._manager = _Manager(
            host=self.host, port=self.port, username=self.username, secret=self._secret,
            loop=loop, protocol_factory=_Protocol, reconnect_timeout=self._reconnect_timeout, ping_delay=5, ping_interval=5,
            on_login=self._on_login, on_connect=self._on_connect, on_disconnect=self._on_disconnect,
            log=logging.getLogger("flowengine.asterisk.ami.panoramisk"),
        )
        self._manager.connect()
        try:
            ok = await asyncio.wait_for(self._login_waiter, timeout)
        except TimeoutError:
            await self.aclose()
            raise AmiError(f"AMI at {self.host}:{self.port} did not answer within {timeout:.0f}s") from None
        if not ok:
            await self.aclose()
            raise AmiAuthError(f"AMI refused login for user {self.username!r}: check the AMI username and secret")

    def _on_connect(self, manager: Manager) -> None:
        fut = manager.authenticated_future
        if fut is not None:
            fut.add_done_callback(self._login_done)

    def _login_done(self, fut: asyncio.Future[Any]) -> None:
        ok = not fut.cancelled() and fut.exception() is None and bool(fut.result().success)
        if self._login_waiter is not None and not self._login_waiter.done():
            self._login_waiter.set_result(ok)
        elif not ok:
            log.error("AMI re-login refused for user %r", self.username)

    def _on_login(self, manager: Manager) -> None:
        self.logins += 1
        if self.logins > 1:
            log.info("AMI reconnected to %s:%s", self.host, self.port)

    def _on_disconnect(self, manager: Manager, exc: Exception | None) -> None:
        if not manager.closing:
            log.warning("AMI connection to %s:%s lost; reconnecting", self.host, self.port)

    async def aclose(self) -> None:
        if self._manager is not None:
            self._manager.closing = True
            self._manager.close()
            self._manager = None

    async def wait_authenticated(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.authenticated:
            if time.monotonic() > deadline:
                raise AmiError(f"AMI not logged in again within {timeout:.0f}s")
            await asyncio.sleep(0.05)

    async def action(self, action: Mapping[str, str], timeout: float = 10.0) -> Message:
        """Send one action; raise AmiError when Asterisk answers `Response: Error`."""
        try:
            response = await asyncio.wait_for(self.manager.send_action(dict(action)), timeout)
        except TimeoutError:
            raise AmiError(f"AMI action {action.get('Action')} got no answer in {timeout:.0f}s") from None
        if isinstance(response, list):
            response = response[0]
        if not response.success:
            raise AmiError(f"AMI action {action.get('Action')} failed: {response.get('Message', '')}")
        return response

    async def ping(self) -> float:
        """Round trip of an AMI Ping, in seconds."""
        start = time.perf_counter()
        await self.action({"Action": "Ping"})
        return time.perf_counter() - start

    def subscribe(self, pattern: str, handler: AmiHandler) -> AmiSubscription:
        """Call `handler(message)` for events whose name matches `pattern` (`*` wildcards)."""

        def callback(manager: Manager, message: Message) -> None:
            handler(message)

        self.manager.register_event(pattern, callback)
        return AmiSubscription(self.manager, pattern, callback)

    async def originate(
        self,
        channel: str,
        *,
        context: str = "",
        exten: str = "",
        priority: int = 1,
        application: str = "",
        data: str = "",
        caller_id: str = "",
        timeout_ms: int = 30000,
        variables: Mapping[str, str] | None = None,
        codecs: str = "",
        wait: float | None = None,
    ) -> OriginateResult:
        """Asynchronous Originate; waits for its OriginateResponse (`wait` bounds that)."""
        fields: dict[str, str] = {"Action": "Originate", "Channel": channel, "Async": "true",
                                  "ActionID": f"fe-orig-{uuid.uuid4()}", "Timeout": str(timeout_ms)}
        if application:
            fields.update(Application=application, Data=data)
        else:
            fields.update(Context=context, Exten=exten, Priority=str(priority))
        if caller_id:
            fields["CallerID"] = caller_id
        if codecs:
            fields["Codecs"] = codecs
        if variables:
            fields["Variable"] = ",".join(f"{k}={v}" for k, v in variables.items())
        # panoramisk keeps an async Originate open until its OriginateResponse event arrives
        # and then returns [queued-response, OriginateResponse].
        limit = wait if wait is not None else timeout_ms / 1000 + 10
        try:
            responses = await asyncio.wait_for(self.manager.send_action(fields), limit)
        except TimeoutError:
            raise AmiError(f"no OriginateResponse for {channel} within {limit:.0f}s") from None
        if not isinstance(responses, list):
            raise AmiError(f"AMI Originate of {channel} refused: {responses.get('Message', '')}")
        message = responses[-1]
        reason = ORIGINATE_REASONS.get(str(message.get("Reason", "")), str(message.get("Reason", "")))
        return OriginateResult(
            success=message.get("Response") == "Success",
            reason=reason,
            channel=str(message.get("Channel", "")),
            unique_id=str(message.get("Uniqueid", "")),
            raw={str(k): str(v) for k, v in message.items()},
        )
