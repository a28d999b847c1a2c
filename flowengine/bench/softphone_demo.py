"""The demo with a person on the line: the AI receptionist waits for a softphone to call it over SIP."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from flowengine.asterisk.sip_accounts import SipAccounts, SipBind, dial_help
from flowengine.bench.demo import DemoReport, demo_engine, report_of, say_transcript, wait_ai_call
from flowengine.events import Event

STARTED, ENDED = "aicall_status_initializing", "aicall_status_terminated"
MAX_CALL_S = 1800.0  # a call left open longer than this ends the demo anyway


async def run_softphone_demo(folder: Path, accounts: SipAccounts, *, bind: SipBind | None = None,
                             call_timeout: float = 300.0, engine_model: str = "",
                             on_line: Callable[[str], None] | None = None,
                             on_ready: Callable[[str], None] | None = None) -> DemoReport:
    """Start the demo's engine with these SIP accounts, say how to dial (`on_ready`), wait up to
    `call_timeout` seconds for a call, and report that conversation once the call has ended."""
    say = on_line or (lambda line: None)
    statuses: asyncio.Queue[str] = asyncio.Queue()

    def on_event(event: Event) -> None:
        if event.type in (STARTED, ENDED):
            statuses.put_nowait(event.type)

    async with demo_engine(folder, engine_model, sip_accounts=accounts, sip_bind=bind) as engine:
        assert engine.aicalls is not None and engine.private is not None
        unsubscribe = engine.events.subscribe(on_event)
        try:
            info = engine.private
            host, port = str(info.sip_info(accounts)["server"]).rsplit(":", 1)
            (on_ready or say)("\n".join([dial_help(host, int(port), accounts)]
                                        + [f"warning: {w}" for w in accounts.warnings(info.sip_bind_host)]))
            say(f"Asterisk {info.version} up; waiting up to {call_timeout:.0f} s for a call")
            try:
                async with asyncio.timeout(call_timeout):
                    while await statuses.get() != STARTED:
                        pass
            except TimeoutError:
                say(f"no call within {call_timeout:.0f} s")
                return DemoReport(ended_reason="no call")
            t0 = time.perf_counter()
            say("a caller is talking with the AI receptionist")
            async with asyncio.timeout(MAX_CALL_S):
                while await statuses.get() != ENDED:
                    pass
            report = report_of(await wait_ai_call(engine.aicalls), [], t0)
            say_transcript(report, say)
            return report
        finally:
            unsubscribe()
