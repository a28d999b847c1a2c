"""Notification executors: webhook_send (HTTP) and email_send (SMTP from the config)."""
from __future__ import annotations

import asyncio
import json
import logging
import smtplib
from email.message import EmailMessage
from pathlib import Path

import aiohttp

from flowengine.flow.context import ActionContext, SmtpSettings
from flowengine.flow.handlers import ActionFailed, executor
from flowengine.flow.options import notify

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_S = 10.0


async def _deliver(http: aiohttp.ClientSession, opts: notify.WebhookSendOptions) -> int:
    data = opts.data
    headers: dict[str, str] = {}
    if isinstance(data, (dict, list)):
        body = json.dumps(data).encode()
        headers["Content-Type"] = opts.data_type or "application/json"
    else:
        body = data.encode()
        if opts.data_type:
            headers["Content-Type"] = opts.data_type
    async with http.request(opts.method or "POST", opts.uri, data=body, headers=headers,
                            timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S)) as resp:
        await resp.read()
        return resp.status


@executor("webhook_send")
async def webhook_send(ctx: ActionContext, opts: notify.WebhookSendOptions) -> None:
    http = ctx.services.http
    if http is None:
        raise ActionFailed("webhook_send needs an HTTP client and the engine has none")

    async def send() -> None:
        try:
            status = await _deliver(http, opts)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("webhook_send to %s failed: %s", opts.uri, exc or type(exc).__name__)
            return
        if status >= 300:
            log.warning("webhook_send to %s answered HTTP %d", opts.uri, status)

    if opts.sync:
        await send()
    else:
        ctx.runner.spawn(send())


def _message(settings: SmtpSettings, opts: notify.EmailSendOptions, attachments: list[Path]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = ", ".join(d.target for d in opts.destinations)
    msg["Subject"] = opts.subject
    if "<" in opts.content and ">" in opts.content:
        msg.set_content("This message is HTML.")
        msg.add_alternative(opts.content, subtype="html")
    else:
        msg.set_content(opts.content)
    for path in attachments:
        msg.add_attachment(path.read_bytes(), maintype="audio", subtype=path.suffix.lstrip(".") or "wav",
                           filename=path.name)
    return msg


def _send_smtp(settings: SmtpSettings, msg: EmailMessage) -> None:
    with smtplib.SMTP(settings.host, settings.port, timeout=WEBHOOK_TIMEOUT_S) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.username:
            smtp.login(settings.username, settings.password)
        smtp.send_message(msg)


@executor("email_send")
async def email_send(ctx: ActionContext, opts: notify.EmailSendOptions) -> None:
    settings = ctx.services.smtp
    if not settings.host:
        raise ActionFailed("email_send needs smtp.host in the configuration")
    bad = [d.target for d in opts.destinations if d.type not in ("email", "") or "@" not in d.target]
    if bad:
        raise ActionFailed(f"not email addresses: {', '.join(bad)}")
    attachments = []
    for item in opts.attachments:
        path = ctx.runner.recording_file(item.reference_id)
        if path is None:
            raise ActionFailed(f"recording {item.reference_id!r} not found for the attachment")
        attachments.append(path)
    msg = _message(settings, opts, attachments)
    await asyncio.to_thread(_send_smtp, settings, msg)
    log.info("email sent to %s", msg["To"])
