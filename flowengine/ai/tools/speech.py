"""Says a fixed line on a live conversation's voice, outside any model turn (tool messages, transfers)."""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowengine.ai.voice.conversation import Conversation
    from flowengine.ai.voice.speech_handle import SpeechHandle

DRAIN_LIMIT_S = 30.0


async def say(conversation: Conversation, text: str, *, wait: bool = False) -> SpeechHandle:
    """Queue `text` through the conversation's TTS; with `wait`, return once it has been played out
    (or interrupted). The handle tells what the caller heard of it."""
    handle = await conversation.say_line(text)
    if wait:
        async with asyncio.timeout(DRAIN_LIMIT_S):
            await handle.wait_for_playout()
    return handle
