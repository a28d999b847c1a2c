"""Which customer the running code acts for: a context variable the API sets before it starts work."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

ENGINE_CUSTOMER_ID = "6f1c0e55-0000-4000-8000-00000000f10e"
"""The customer that owns what operators configure in files (flow directory, AI files, routes)."""

_current: ContextVar[str] = ContextVar("flowengine_customer", default=ENGINE_CUSTOMER_ID)


def current_customer() -> str:
    """The customer of the task running now; tasks started without one act for the engine's own
    customer (inbound calls routed by the config, flows from the flow directory)."""
    return _current.get()


@contextmanager
def acting_for(customer_id: str) -> Iterator[None]:
    """Within the block, and in every task started inside it (tasks copy the context when created),
    flows, AIs and records are looked up and written for `customer_id`."""
    token = _current.set(customer_id)
    try:
        yield
    finally:
        _current.reset(token)
