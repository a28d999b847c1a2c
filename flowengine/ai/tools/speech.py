"""Says a fixed line on a live conversation's voice, outside any model turn (tool messages, transfers)."""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowengine.ai.voice.conversation import Conversation

DRAIN_LIMIT_S = 30.0


async def say(conversation: Conversation, text: str, *, wait: bool = False) -> None:
    """Queue `text` through the conversation's TTS; with `wait`, return once it has been played out."""
    tts = conversation.tts
    async for chunk in tts.stream(text, voice_id=conversation.settings.voice_id,
                                  language=conversation.settings.language):
        conversation.play(chunk, tts.sample_rate)
    conversation.flush()
    if wait:
        async with asyncio.timeout(DRAIN_LIMIT_S):
            while conversation.queued_ms() > 0:
                await asyncio.sleep(0.02)
