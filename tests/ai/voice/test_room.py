"""Human takeover on the real private Asterisk: a paused AI call's room, a human agent who joins and leaves it."""
from __future__ import annotations

import subprocess
from pathlib import Path

from flowengine.ai.voice.room import joined_note, left_note
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.events import RecordingFinished
from flowengine.asterisk.ari.handles import ChannelHandle
from tests.ai.fakes import ScriptedSTT, ScriptedToolLLM
from tests.ai.test_ai_talk import FLOW, ai_harness, speech_file
from tests.api.voipbin.test_aicalls_live import on_hold
from tests.conftest import Asterisk
from tests.flow.calls import place_call, tone_seconds
from tests.support import eventually

GREETING = "Hello, this is the dental office."
AGENT_HZ, CALLER_HZ = 440, 1000  # each side plays its own tone: what a side heard says who it heard


def tone_file(folder: Path, hz: int, seconds: float) -> str:
    """A tone a leg plays as a sound file (with an ARI `tone:` playback, the snoop of the playing leg heard nothing)."""
    path = folder / f"tone-{hz}.wav"
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(path), "synth", str(seconds), "sine",
                    str(hz), "vol", "0.5"], check=True)
    return f"sound:{path.with_suffix('')}"


async def heard_meanwhile(ari: AriClient, legs: dict[str, tuple[ChannelHandle, str]], spool: Path) -> dict[str, Path]:
    """Record what each leg hears while each plays its sound; the recordings by leg name."""
    snoops = {name: await leg.snoop(spy="in") for name, (leg, _) in legs.items()}
    finished = ari.events()
    try:
        for name, snoop in snoops.items():
            await snoop.record(f"takeover-{name}", fmt="wav", if_exists="overwrite")
        playbacks = [await leg.play(sound) for leg, sound in legs.values()]
        for playback in playbacks:
            await playback.wait(15)
        for name in snoops:
            await ari.rest.post(f"/recordings/live/takeover-{name}/stop")
        for _ in snoops:
            await finished.wait_for(RecordingFinished, timeout=10)
    finally:
        finished.close()
        for snoop in snoops.values():
            await snoop.hangup()
    return {name: spool / f"takeover-{name}.wav" for name in legs}


async def test_a_human_agent_takes_over_a_paused_ai_call_and_hands_it_back(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    llm = ScriptedToolLLM([("We open at nine.", [])])
    stt = ScriptedSTT(["When do you open?"])
    question = speech_file(tmp_path, "question", "When do you open?")
    async with ai_harness(asterisk, ari, tmp_path, llm, stt, first_message=GREETING) as (h, service, statuses):
        h.flows.add(FLOW)
        caller = (await place_call(ari, "1000")).leg
        await eventually(lambda: "aicall_status_progressing" in statuses, what="AI call progressing")
        aid, live = next(iter(service.live.items()))
        room, conversation, media = live.record.confbridge_id, live.conversation, live.media
        assert conversation is not None and media is not None and media.external is not None
        await eventually(lambda: any(m.content == GREETING for m in conversation.messages), timeout=15,
                         what="greeting said")
        await eventually(lambda: not conversation.speaking, timeout=15, what="greeting played")

        async def in_room() -> set[str]:
            return set((await ari.bridges.get(room)).snapshot.channels)

        # paused: the caller hears music on hold, the AI is out of its room
        await service.pause(aid)
        assert await on_hold(asterisk, room)
        assert media.external.id not in await in_room()

        # the agent's call runs confbridge_join with the AI call's confbridge id: music stops, they talk
        h.flows.add({"id": "agent", "actions": [
            {"type": "answer"},
            {"id": "join", "type": "confbridge_join", "option": {"confbridge_id": "${room}"}},
            {"id": "after", "type": "variable_set", "option": {"key": "left_room", "value": "yes"}}],
            "variables": {"room": room}})
        h.app.routes.numbers["2000"] = "agent"
        agent = (await place_call(ari, "2000")).leg
        await h.wait_action("join")
        assert live.room is not None and live.call is not None
        await eventually(lambda: len(live.room.humans) == 1, what="the agent in the room")  # type: ignore[union-attr]
        human = next(iter(live.room.humans))  # the agent's call, as the engine knows it
        notes = [joined_note(human), left_note(human)]
        await eventually(lambda: members(ari, room, {live.call.channel.id, human}),  # type: ignore[union-attr]
                         what="caller and agent bridged")
        await eventually(lambda: not_on_hold(asterisk, room), what="music stopped for the agent")
        transcribed, asked = stt.calls, len(llm.requests)
        spool = asterisk.instance.directory / "spool" / "recording"
        heard = await heard_meanwhile(ari, {"caller": (caller, tone_file(tmp_path, CALLER_HZ, 2.5)),
                                            "agent": (agent, tone_file(tmp_path, AGENT_HZ, 2.5))}, spool)
        assert tone_seconds(heard["caller"], AGENT_HZ) > 1.5  # the caller hears the agent
        assert tone_seconds(heard["agent"], CALLER_HZ) > 1.5  # the agent hears the caller
        assert tone_seconds(heard["caller"], CALLER_HZ) < 0.2 and tone_seconds(heard["agent"], AGENT_HZ) < 0.2
        # the paused AI neither listened nor spoke meanwhile, and is still out of the room
        assert (stt.calls, len(llm.requests)) == (transcribed, asked) and not conversation.speaking
        assert media.external.id not in await in_room()
        assert live.record.status == "pausing"

        # the agent leaves: music on hold again until the AI resumes
        await agent.hangup()
        agent_flow = await h.wait_ended(timeout=15)
        assert agent_flow.ended_reason == "hangup"
        await eventually(lambda: on_hold(asterisk, room), what="music on hold after the agent left")
        await service.resume(aid, "Thanks for waiting.")
        assert not await on_hold(asterisk, room) and media.external.id in await in_room()

        # the AI goes on with its context: its greeting, the takeover notes, then the caller's question
        await eventually(lambda: not conversation.speaking and len(llm.requests) == asked, timeout=15,
                         what="resume line said")
        await (await caller.play(question)).wait(15)
        await eventually(lambda: len(llm.requests) == asked + 1, timeout=20, what="the question answered")
        context = [(m.role, m.content) for m in llm.requests[-1] if m.role != "system" or m.content in notes]
        assert context == [("assistant", GREETING), ("system", notes[0]), ("system", notes[1]),
                           ("assistant", "Thanks for waiting."), ("user", "When do you open?")]
        stored = [(m.role, m.content) for m in service.messages[aid] if m.content in notes]
        assert stored == [("system", notes[0]), ("system", notes[1])]  # the transcript says so too
        await caller.hangup()
        await h.wait_ended(2, timeout=20)
        await eventually(lambda: not service.live and asterisk.channels() == [], what="all released")
        assert await ari.bridges.list() == []


async def members(ari: AriClient, room: str, expected: set[str]) -> bool:
    return expected <= set((await ari.bridges.get(room)).snapshot.channels)


async def not_on_hold(asterisk: Asterisk, room: str) -> bool:
    return not await on_hold(asterisk, room)
