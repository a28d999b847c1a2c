"""Executors of the action types, one module per group; importing this registers them all."""
from flowengine.flow.actions import bridging, calls, control, fetch, notify, sidecars  # noqa: F401
