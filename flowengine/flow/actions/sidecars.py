"""Executors that work beside the call through snoop channels: recording, external media, AMD."""
from __future__ import annotations

import asyncio
import logging
import uuid

from flowengine.asterisk.ari.events import Event, RecordingFailed, RecordingFinished, StasisStart
from flowengine.asterisk.ari.handles import BridgeHandle, ChannelHandle
from flowengine.asterisk.ari.rest import AriNotFound, quietly
from flowengine.flow import varnames as v
from flowengine.flow.activeflow import ReferenceType
from flowengine.flow.context import ActionContext
from flowengine.flow.handlers import ActionFailed, executor
from flowengine.flow.options import call as opt
from flowengine.flow.options.common import NoOptions

log = logging.getLogger(__name__)

MAX_EXTERNAL_MEDIA = 5
AMD_CONTEXT = "flowengine-services"
AMD_TIMEOUT_S = 15.0
TERMINATE_ON = {"": "none", "none": "none", "any": "any", "*": "*", "#": "#"}


@executor("recording_start")
async def recording_start(ctx: ActionContext, opts: opt.RecordingStartOptions) -> None:
    call = ctx.call
    if "recording" in ctx.runner.resources:
        raise ActionFailed("a recording of this call is already running")
    recording_id = str(uuid.uuid4())
    fmt = opts.format or "wav"
    snoop = await call.until_hangup(call.channel.snoop(spy="both"))
    try:
        await snoop.record(recording_id, fmt=fmt, max_duration=opts.duration, max_silence=opts.end_of_silence,
                           beep=opts.beep_start, terminate_on=TERMINATE_ON[opts.end_of_key])
    except BaseException:
        await quietly(snoop.hangup())
        raise
    ctx.variables.update({
        v.RECORDING_ID: recording_id, v.RECORDING_REFERENCE_TYPE: "call", v.RECORDING_REFERENCE_ID: call.id,
        v.RECORDING_FORMAT: fmt, v.RECORDING_NAME: recording_id, v.RECORDING_FILENAMES: f"{recording_id}.{fmt}",
    })
    ended = asyncio.get_running_loop().create_future()

    def on_event(event: Event) -> None:
        mine = isinstance(event, (RecordingFinished, RecordingFailed)) and event.recording.name == recording_id
        if mine and not ended.done():
            ended.set_result(event)

    sub = ctx.services.need_ari().subscribe(on_event)

    async def stop() -> None:
        ctx.runner.resources.pop("recording", None)
        await quietly(ctx.services.need_ari().rest.post(f"/recordings/live/{recording_id}/stop"))
        try:
            await asyncio.wait_for(asyncio.shield(ended), 5)
        except TimeoutError:
            log.warning("recording %s did not report its end", recording_id)
        sub.close()
        await quietly(snoop.hangup())
        if opts.on_end_flow_id and ctx.services.start_flow is not None:
            # The parent's variables (recording ones included) are copied into the new activeflow.
            ctx.activeflow.variables = ctx.variables.snapshot()
            await ctx.services.start_flow(opts.on_end_flow_id, reference_type=ReferenceType.NONE,
                                          parent=ctx.activeflow)

    ctx.runner.resources["recording"] = stop
    ctx.runner.on_end(lambda: stop() if "recording" in ctx.runner.resources else _noop())
    log.info("recording %s started (%s)", recording_id, fmt)


async def _noop() -> None:
    return None


@executor("recording_stop")
async def recording_stop(ctx: ActionContext, opts: NoOptions) -> None:
    stop = ctx.runner.resources.get("recording")
    if stop is None:
        log.info("recording_stop: no recording is running")
        return
    await stop()


@executor("external_media_start")
async def external_media_start(ctx: ActionContext, opts: opt.ExternalMediaStartOptions) -> None:
    ari = ctx.services.need_ari()
    call = ctx.call
    medias: list[tuple[ChannelHandle, ChannelHandle, BridgeHandle]] = ctx.runner.resources.setdefault("external_media", [])
    if len(medias) >= MAX_EXTERNAL_MEDIA:
        raise ActionFailed(f"at most {MAX_EXTERNAL_MEDIA} external medias per call")
    listen = opts.direction_listen or "both"
    speak = opts.direction_speak or "both"
    snoop = await call.until_hangup(call.channel.snoop(spy=listen, whisper=speak))
    try:
        media = await ari.channels.external_media(
            opts.external_host, fmt=opts.format or "ulaw", encapsulation=opts.encapsulation or "rtp",
            transport=opts.transport or "udp")
        bridge = await ari.bridges.create("mixing", name=f"external-media-{ctx.action.id}")
        await bridge.add(snoop.id, media.id)
    except BaseException:
        await quietly(snoop.hangup())
        raise
    medias.append((snoop, media, bridge))
    if len(medias) == 1:
        ctx.runner.on_end(lambda: _stop_external(ctx))
    log.info("external media to %s started", opts.external_host)


async def _stop_external(ctx: ActionContext) -> None:
    for snoop, media, bridge in ctx.runner.resources.pop("external_media", []):
        await quietly(media.hangup())
        await quietly(snoop.hangup())
        await quietly(bridge.destroy())


@executor("external_media_stop")
async def external_media_stop(ctx: ActionContext, opts: NoOptions) -> None:
    await _stop_external(ctx)


@executor("amd")
async def amd(ctx: ActionContext, opts: opt.AmdOptions) -> None:
    """Asterisk's AMD() on a snoop of the caller; the result lands in `voipbin.amd.status`/`.cause`."""
    ari = ctx.services.need_ari()
    call = ctx.call
    snoop = await call.until_hangup(call.channel.snoop(spy="in", app_args="amd"))
    queue = ari.events(snoop.id)

    async def detect() -> None:
        try:
            await snoop.continue_in_dialplan(AMD_CONTEXT, "amd", 1)
            await queue.wait_for(StasisStart, timeout=AMD_TIMEOUT_S)  # AMD() done, back in our app
            status = await snoop.get_var("AMDSTATUS") or "NOTSURE"
            cause = await snoop.get_var("AMDCAUSE") or ""
        except (AriNotFound, TimeoutError):
            status, cause = "NOTSURE", "amd did not finish"
        finally:
            queue.close()
            await quietly(snoop.hangup())
        ctx.variables.update({"voipbin.amd.status": status, "voipbin.amd.cause": cause})
        log.info("AMD: %s (%s)", status, cause)
        if status == "MACHINE" and opts.machine_handle == "hangup":
            # the reason first: the hangup's event can end the call (and cancel us) before its DELETE returns
            ctx.services.hangup_reasons[call.id] = "amd"
            ctx.stop("amd: answering machine")
            await quietly(call.channel.hangup("normal"))

    if opts.async_:
        ctx.runner.spawn(detect())
    else:
        await call.until_hangup(detect())


SERVICES_CONTEXT = "flowengine-services"


async def _errand(ctx: ActionContext, exten: str, duration_ms: int) -> None:
    """Send the call through the dialplan (`flowengine-services,exten`) for `duration_ms`, then
    bring it back into the app with an AMI Redirect (ARI 16 cannot pull a channel back)."""
    ami = ctx.services.ami
    if ami is None:
        raise ActionFailed(f"{exten} needs AMI (asterisk.ami_secret) to bring the call back")
    ari = ctx.services.need_ari()
    call = ctx.call
    name = (await call.channel.refresh()).name
    queue = ari.events(call.channel.id)
    call.away = True
    try:
        await call.channel.continue_in_dialplan(SERVICES_CONTEXT, exten, 1)
        try:
            await asyncio.wait_for(call.ended.wait(), duration_ms / 1000)
            return
        except TimeoutError:
            pass
        await ami.action({"Action": "Redirect", "Channel": name, "Context": SERVICES_CONTEXT,
                          "Exten": "return", "Priority": "1"})
        await call.until_hangup(queue.wait_for(StasisStart, timeout=10))
    finally:
        call.away = False
        queue.close()


@executor("echo")
async def echo(ctx: ActionContext, opts: opt.EchoOptions) -> None:
    await _errand(ctx, "echo", opts.duration)


@executor("stream_echo")
async def stream_echo(ctx: ActionContext, opts: opt.EchoOptions) -> None:
    await _errand(ctx, "stream_echo", opts.duration)
