"""Session fixtures: one private Asterisk for the whole run (never skipped: a missing Asterisk fails)."""
from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.instance import InstanceInfo, PrivateAsterisk
from tests.ai.dialplan import AI_TEST_DIALPLAN
from tests.api.frontdoor_dialplan import FRONTDOOR_TEST_DIALPLAN
from tests.campaign.dialplan import CAMPAIGN_TEST_DIALPLAN
from tests.flow.dialplan import FLOW_TEST_DIALPLAN

# Contexts the tests dial: the calling side of test calls.
TEST_DIALPLAN = """
[flowengine-test]
; answers and waits: a caller that stays on the line until hung up
exten => wait,1,Answer()
 same => n,Wait(60)
 same => n,Hangup()
; answers and plays a known file
exten => monkeys,1,Answer()
 same => n,Playback(tt-monkeys)
 same => n,Hangup()
exten => busy,1,Busy(5)
exten => noanswer,1,Wait(60)
; media-<name>: plays tt-monkeys into the bridge and records what it receives from it
; (spool/recording/media-<name>-rx.wav) until hung up
exten => _media-.,1,Answer()
 same => n,MixMonitor(${ASTSPOOLDIR}/recording/${EXTEN}.wav,r(${ASTSPOOLDIR}/recording/${EXTEN}-rx.wav))
 same => n,Playback(tt-monkeys)
 same => n,Wait(30)
 same => n,Hangup()
"""


@dataclass
class Asterisk:
    instance: PrivateAsterisk
    info: InstanceInfo

    def client(self, **kwargs: float) -> AriClient:
        i = self.info
        return AriClient(i.ari_url, i.ari_username, i.ari_password, i.app, **kwargs)

    def channels(self) -> list[str]:
        """Channel names from the Asterisk CLI (independent of ARI)."""
        out = self.instance.cli("core show channels concise")
        return [line.split("!")[0] for line in out.splitlines() if "!" in line]


@pytest.fixture(scope="session")
def asterisk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Asterisk]:
    dialplan = TEST_DIALPLAN + FLOW_TEST_DIALPLAN + CAMPAIGN_TEST_DIALPLAN + AI_TEST_DIALPLAN
    dialplan += FRONTDOOR_TEST_DIALPLAN
    instance = PrivateAsterisk(tmp_path_factory.mktemp("asterisk"), extra_dialplan=dialplan)
    info = instance.start()
    try:
        yield Asterisk(instance, info)
    finally:
        instance.stop()


@pytest.fixture
async def ari(asterisk: Asterisk) -> AsyncIterator[AriClient]:
    client = asterisk.client()
    await client.start()
    try:
        yield client
    finally:
        await client.aclose()
