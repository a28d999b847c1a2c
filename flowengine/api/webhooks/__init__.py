"""Webhooks: the bus's events written to the store's outbox and delivered from it to each customer's URL, signed.

`signing` (the X-VoIPBIN-Signature scheme), `sender` (one HTTP attempt, or a few quick retries for the
Vapi and VoiceOS hooks), `dispatcher` (bus -> outbox), `worker` (outbox -> receivers: leases, backoff,
order per customer, give-up after the horizon)."""
from flowengine.api.webhooks.dispatcher import DELIVERED_TYPES, WebhookDispatcher
from flowengine.api.webhooks.sender import Answer, WebhookSender
from flowengine.api.webhooks.signing import SIGNATURE_HEADER, sign
from flowengine.api.webhooks.worker import DeliveryPolicy, OutboxWorker

__all__ = ["DELIVERED_TYPES", "SIGNATURE_HEADER", "Answer", "DeliveryPolicy", "OutboxWorker", "WebhookDispatcher",
           "WebhookSender", "sign"]
