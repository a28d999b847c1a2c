"""Services are built once and frozen; ServicesLink hands them to the parts they hold, bound once."""
from __future__ import annotations

import dataclasses

import pytest

from flowengine.flow.context import Services, ServicesLink
from flowengine.flow.service import FlowService
from tests.support import Flows


def test_services_are_frozen() -> None:
    services = Services(recordings_dir="/tmp")
    with pytest.raises(dataclasses.FrozenInstanceError):
        services.recordings_dir = "/elsewhere"  # type: ignore[misc]


def test_a_link_is_bound_once_and_refuses_use_before() -> None:
    link = ServicesLink()
    service = FlowService(link)
    with pytest.raises(RuntimeError, match="not built yet"):
        _ = service.services
    services = link.bind(Services(flows=Flows(), start_flow=service.start_flow))
    assert service.services is services and link.bound
    with pytest.raises(RuntimeError, match="built once"):
        link.bind(Services())


def test_a_flow_service_on_plain_services_uses_them_as_given() -> None:
    services = Services(flows=Flows())
    assert FlowService(services).services is services
