"""The delivery policy: exponential backoff capped at its maximum, built from the config's webhooks section."""
from __future__ import annotations

import dataclasses

from flowengine.api.webhooks import Answer, DeliveryPolicy
from flowengine.config import WebhooksConfig


def test_backoff_doubles_up_to_its_maximum() -> None:
    policy = DeliveryPolicy(backoff_min_s=1.0, backoff_max_s=300.0)
    assert [policy.delay(n) for n in range(1, 12)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert policy.delay(10_000) == 300  # hours of attempts never overflow
    assert policy.lease_s > policy.timeout_s


def test_the_config_section_is_the_policy() -> None:
    section = WebhooksConfig(max_age_s=7200, backoff_min_s=0.5, backoff_max_s=60, timeout_s=3, concurrency=4)
    policy = DeliveryPolicy(**section.model_dump())  # what the runtime builds
    assert dataclasses.asdict(policy) | section.model_dump() == dataclasses.asdict(policy)


def test_which_answers_are_retried() -> None:
    assert [Answer(s).retryable for s in (None, 500, 503, 408, 429)] == [True] * 5
    assert [Answer(s).retryable for s in (200, 204, 400, 404, 410)] == [False] * 5
    assert Answer(204).ok and not Answer(404).ok
