"""Campaign calls that run `ai_talk` with an AI detecting voicemail, on the real Asterisk: a machine (the test
context's `robot`: Asterisk's "leave your message after the tone" prompt, then its beep) is recorded as a machine
answer; an AI with a voicemail message leaves it once and the target is settled, one without hangs up and the
target is retried per the plan."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flowengine.ai import talk  # noqa: F401  (registers ai_talk)
from flowengine.ai.aicall import AICallService
from flowengine.ai.definitions import AIConfig
from flowengine.ai.voice.media import MediaSettings
from flowengine.asterisk.ari.client import AriClient
from flowengine.campaign.results import tally
from flowengine.events import EventBus
from flowengine.flow.context import ServicesLink
from flowengine.flow.persistence import ENGINE_CUSTOMER_ID
from flowengine.store import AI
from tests.ai.fakes import ScriptedSTT, ScriptedToolLLM
from tests.ai.test_ai_talk import Pool
from tests.campaign.harness import CUSTOMER, campaign_harness
from tests.conftest import Asterisk
from tests.support import eventually

LEAVES = "8a0e5c1e-0000-4000-8000-0000000000a1"
HANGS_UP = "8a0e5c1e-0000-4000-8000-0000000000a2"
MESSAGE = "Hello, this is Bright Smile Dental. Please call us back about your appointment."


class VoicemailAIs:
    """Two AIs screening for machines with the audio classifier: one leaves a message, one just hangs up."""

    def __init__(self) -> None:
        common: dict[str, Any] = {"customer_id": ENGINE_CUSTOMER_ID, "engine_model": "scripted.test",
                                  "tool_names": ["stop_service"], "first_message": "Hello, this is Bright Smile.",
                                  "voicemail_detection": {"provider": "audio"}, "end_call_message": "Not for machines."}
        self.configs = {LEAVES: AIConfig(AI(id=LEAVES, name="leaves", voicemail_message=MESSAGE, **common)),
                        HANGS_UP: AIConfig(AI(id=HANGS_UP, name="hangs up", **common))}

    def get(self, ai_id: str) -> AIConfig | None:
        return self.configs.get(ai_id)


async def test_machine_answers_of_ai_calls_leave_one_message_or_are_retried(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    bus, link = EventBus(), ServicesLink()
    service = AICallService(VoicemailAIs(), Pool(ScriptedSTT([]), ScriptedToolLLM([])), ari, MediaSettings(),
                            events=bus, flow_services=link)
    async with campaign_harness(asterisk, ari, tmp_path / "c.db", ai=service, link=link, events=bus) as h:
        leave = await h.make(["robot61"], max_try_count_0=2, try_interval=100, calls_per_second=20,
                             actions=[{"type": "ai_talk", "option": {"assistance_id": LEAVES}}])
        hang = await h.make(["robot62"], max_try_count_0=2, try_interval=100, calls_per_second=20,
                            actions=[{"type": "ai_talk", "option": {"assistance_id": HANGS_UP}}])
        await h.service.set_status(CUSTOMER, hang.id, "run")
        await h.run_to_end(leave, timeout=120)
        await h.service.wait_stopped(hang.id)

        left = await h.store.campaigncalls.of_campaign(CUSTOMER, leave.id)
        # the machine got the message once: the target is reached and never dialed again
        assert [(c.result, c.hangup_reason, c.amd_status, c.try_count) for c in left] == [
            ("success", "normal", "MACHINE", 1)]
        assert h.channels.dialed("robot61") == 1
        hung = await h.store.campaigncalls.of_campaign(CUSTOMER, hang.id)
        assert [(c.result, c.hangup_reason, c.amd_status, c.try_count) for c in hung] == [
            ("fail", "amd", "MACHINE", 1), ("fail", "amd", "MACHINE", 2)]
        assert h.channels.dialed("robot62") == 2
        assert {t.status for t in (await h.targets(leave)).values()} == {"done"}
        assert {(t.status, t.try_count_0) for t in (await h.targets(hang)).values()} == {("done", 2)}
        # reports count every one of them as a machine
        assert tally(left) == {"calls": 1, "success": 1, "reason:normal": 1, "machine": 1}
        assert tally(hung) == {"calls": 2, "fail": 2, "reason:amd": 2, "machine": 2}

        by_ai = {LEAVES: [], HANGS_UP: []}  # type: dict[str, list[str]]
        for live in service.recent:
            assert live.record.ended_reason == "voicemail"
            by_ai[live.record.assistance_id].append(live.record.id)
        assert len(by_ai[LEAVES]) == 1 and len(by_ai[HANGS_UP]) == 2
        said = [(m.role, m.content) for m in service.messages[by_ai[LEAVES][0]] if m.role in ("user", "assistant")]
        assert said == [("assistant", MESSAGE)]  # no greeting to the machine, only the message
        for aicall_id in by_ai[HANGS_UP]:
            assert [m for m in service.messages[aicall_id] if m.role == "assistant"] == []
        await eventually(lambda: asterisk.channels() == [], timeout=30, what="all channels gone")
