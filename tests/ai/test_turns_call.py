"""Turn-taking on real calls through the private Asterisk: real RTP, VAD and recogniser (Whisper), smart turn on
by default. A caller who pauses mid-thought is one turn; "okay, yeah, right" over the agent does not cut it."""
from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from flowengine.asterisk.ari.client import AriClient
from flowengine.providers.stt.whisper import WhisperSTT
from tests.ai.fakes import ScriptedToolLLM
from tests.ai.test_ai_talk import FLOW, ai_harness, speech_file
from tests.conftest import Asterisk
from tests.flow.calls import place_call
from tests.support import eventually


def paused_speech_file(folder: Path, name: str, parts: list[str], pause_s: float) -> str:
    """Parts said by espeak-ng with `pause_s` of silence between them, as one 8 kHz prompt the caller plays."""
    silence = folder / f"{name}-pause.wav"
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(silence), "trim", "0", str(pause_s)],
                   check=True)
    files: list[str] = []
    for index, part in enumerate(parts):
        speech_file(folder, f"{name}-{index}", part)
        files += [str(silence)] if index else []
        files.append(str(folder / f"{name}-{index}.wav"))
    subprocess.run(["sox", *files, str(folder / f"{name}.wav")], check=True)
    return f"sound:{folder / name}"


async def test_a_caller_who_pauses_mid_thought_is_one_turn(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    llm = ScriptedToolLLM([("Thank you, goodbye.", ["stop_service"])])
    prompt = paused_speech_file(tmp_path, "name", ["My name is", "Sam Taylor."], 0.7)
    async with ai_harness(asterisk, ari, tmp_path, llm, WhisperSTT(),
                          first_message="May I have your name, please?") as (h, service, _):
        h.flows.add(FLOW)
        caller = await place_call(ari)
        await eventually(lambda: bool(service.live), what="AI call started")
        live = next(iter(service.live.values()))
        await eventually(lambda: live.conversation is not None and any(
            m.role == "assistant" for m in live.conversation.messages), timeout=20, what="the question asked")
        await eventually(lambda: live.conversation is not None and not live.conversation.speaking, timeout=15,
                         what="the question played out")
        playback = await caller.leg.play(prompt)
        await playback.wait(15)
        await h.wait_ended(timeout=30)
        conversation = live.conversation
        assert conversation is not None
        users = [m.content for m in conversation.messages if m.role == "user"]
        assert conversation.caller_utterances >= 2  # the VAD heard the pause as the end of an utterance...
        assert len(users) == 1 and users[0].lower().startswith("my name is")  # ...and still one turn
        assert len(users[0].split()) > 3, users  # held "my name is" went on with the name
        assert len(llm.requests) == 1  # one reply, nothing said into the pause


async def test_backchannels_over_the_agent_do_not_cut_it_and_a_real_barge_in_does(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    long = ("We are open Monday to Friday from eight in the morning until six in the evening, "
            "and on Saturday from nine until one. ") * 4
    listening = speech_file(tmp_path, "listening", "Okay, yeah, right.")  # ~1.6 s: long, but only listening
    stop = speech_file(tmp_path, "stop", "Sorry, stop, I have to go now, goodbye.")
    llm = ScriptedToolLLM([("Okay.", ["stop_service"])])
    async with ai_harness(asterisk, ari, tmp_path, llm, WhisperSTT(), first_message=long) as (h, service, _):
        h.flows.add(FLOW)
        caller = await place_call(ari)
        await eventually(lambda: bool(service.live), what="AI call started")
        live = next(iter(service.live.values()))
        await eventually(lambda: live.conversation is not None and live.conversation.speaking, timeout=20,
                         what="the agent speaking")
        conversation = live.conversation
        assert conversation is not None
        await asyncio.sleep(1.5)
        playback = await caller.leg.play(listening)
        await playback.wait(15)
        await eventually(lambda: conversation.false_interruptions >= 1, timeout=10, what="the backchannel judged")
        await asyncio.sleep(0.5)
        assert conversation.interruptions == 0 and conversation.speaking  # the agent went on
        assert not any(m.role == "user" for m in conversation.messages)
        playback = await caller.leg.play(stop)
        await playback.wait(15)
        await h.wait_ended(timeout=30)
        assert conversation.interruptions == 1
        opening = next(m for m in conversation.messages if m.role == "assistant")
        assert opening.content.endswith("...") and len(opening.content) < len(long)  # cut by the real barge-in
        assert len([m for m in conversation.messages if m.role == "user"]) == 1
