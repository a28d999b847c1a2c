"""Call-control executors that talk to the caller: answer, hangup, talk, play, beep, sleep, digits."""
from __future__ import annotations

import asyncio
import logging
import uuid

from flowengine.flow.context import ActionContext
from flowengine.flow.handlers import ActionFailed, cleanup, executor
from flowengine.flow.options import call as opt
from flowengine.flow.options.common import NoOptions

log = logging.getLogger(__name__)

# VoIPBIN call hangup_reason -> ARI hangup reason
HANGUP_REASONS = {
    "": "normal", "normal": "normal", "busy": "busy", "noanswer": "no_answer", "no_answer": "no_answer",
    "timeout": "timeout", "failed": "failure", "failure": "failure", "cancel": "normal",
    "congestion": "congestion", "rejected": "rejected", "amd": "normal", "dialout": "normal",
}
MEDIA_SCHEMES = ("sound:", "tone:", "digits:", "number:", "characters:", "recording:")


def media_uri(url: str) -> str:
    """What ARI plays for a `stream_urls` entry: http(s) through the media cache, sound names as is."""
    if url.startswith(("http://", "https://")):
        return "sound:" + url
    if url.startswith(MEDIA_SCHEMES):
        return url
    return "sound:" + url


async def answer_if_needed(ctx: ActionContext) -> None:
    call = ctx.call
    if call.channel.snapshot.state != "Up":
        await call.until_hangup(call.channel.answer())
        call.channel.snapshot = await call.channel.refresh()


async def play_and_wait(ctx: ActionContext, media: str, *, stop_on_digit: bool = False) -> None:
    """Play `media` to the caller until it ends; with `stop_on_digit`, a DTMF digit stops it.
    If the action is cancelled (pause, hangup), the playback is stopped too."""
    call = ctx.call
    playback = await call.until_hangup(call.channel.play(media, playback_id=f"call-{uuid.uuid4()}"))
    waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(playback.wait())]
    if stop_on_digit:
        waiters.append(asyncio.ensure_future(ctx.digits.next_digit()))
    try:
        await call.until_hangup(asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED))
    finally:
        finished = waiters[0].done() and not waiters[0].cancelled()
        for waiter in waiters:
            waiter.cancel()
        playback.close()
        if not finished and not call.ended.is_set():
            await cleanup(playback.stop())


@executor("answer")
async def answer(ctx: ActionContext, opts: NoOptions) -> None:
    await answer_if_needed(ctx)


@executor("hangup", ends_call=True)
async def hangup(ctx: ActionContext, opts: opt.HangupOptions) -> None:
    reason = opts.reason
    if opts.reference_id:
        reason = ctx.services.hangup_reasons.get(opts.reference_id, reason)
    ari_reason = HANGUP_REASONS.get(reason)
    if ari_reason is None:
        log.warning("unknown hangup reason %r; hanging up as normal", reason)
        ari_reason = "normal"
    await ctx.call.channel.hangup(ari_reason)
    ctx.stop(f"hangup action ({reason or 'normal'})")


@executor("talk", restartable=True)
async def talk(ctx: ActionContext, opts: opt.TalkOptions) -> None:
    speech = ctx.services.speech
    if speech is None:
        raise ActionFailed("talk needs a TTS voice and the engine has none configured")
    await answer_if_needed(ctx)
    media = await speech.render(opts.text, language=opts.language, voice_id=opts.voice_id)
    if opts.async_:
        await ctx.call.channel.play(media, playback_id=f"call-{uuid.uuid4()}")
        return
    await play_and_wait(ctx, media, stop_on_digit=opts.digits_handle == "next")


@executor("play", restartable=True)
async def play(ctx: ActionContext, opts: opt.PlayOptions) -> None:
    for url in opts.stream_urls:
        await play_and_wait(ctx, media_uri(url))


@executor("beep", restartable=True)
async def beep(ctx: ActionContext, opts: NoOptions) -> None:
    await play_and_wait(ctx, "sound:beep")


@executor("sleep", restartable=True)
async def sleep(ctx: ActionContext, opts: opt.SleepOptions) -> None:
    await asyncio.sleep(opts.duration / 1000)


def _digits_done(digits: str, opts: opt.DigitsReceiveOptions) -> bool:
    return (opts.length > 0 and len(digits) >= opts.length) or any(k in digits for k in opts.key)


@executor("digits_receive", restartable=True)
async def digits_receive(ctx: ActionContext, opts: opt.DigitsReceiveOptions) -> None:
    if _digits_done(ctx.digits.value, opts):
        return
    deadline = asyncio.get_running_loop().time() + opts.duration / 1000
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return
        try:
            await asyncio.wait_for(ctx.digits.next_digit(), left)
        except TimeoutError:
            return
        if _digits_done(ctx.digits.value, opts):
            return


@executor("digits_send")
async def digits_send(ctx: ActionContext, opts: opt.DigitsSendOptions) -> None:
    duration = opts.duration or 100
    interval = opts.interval if opts.interval is not None else 100
    if not opts.digits:
        return
    await ctx.call.channel.send_dtmf(opts.digits, between_ms=interval, duration_ms=duration)
    # Asterisk reports nothing when the digits are out: wait as long as they take to send.
    n = len(opts.digits)
    await asyncio.sleep((duration * n + interval * (n - 1)) / 1000)
