"""Consumable capacity: request-policy rounding and the fit check (Kubernetes' rules)."""

from __future__ import annotations

from typing import Any

import pytest

from dra_core.allocator.capacity import consumed_capacity, request_fits_capacity
from dra_core.api import DeviceCapacity
from dra_core.api.quantity import Quantity


def cap(value: str, **policy: Any) -> dict[str, DeviceCapacity]:
    raw: dict[str, Any] = {"value": value}
    if policy:
        raw["requestPolicy"] = policy
    return {"mem": DeviceCapacity.model_validate(raw)}


Q = Quantity.parse


@pytest.mark.parametrize(
    ("capacity", "asked", "consumed"),
    [
        (cap("10Gi"), None, "10Gi"),  # no request: the whole capacity
        (cap("10Gi", default="1Gi"), None, "1Gi"),
        (cap("10Gi"), "3Gi", "3Gi"),
        (cap("10Gi", validRange={"min": "2Gi"}), "1Gi", "2Gi"),
        (cap("10Gi", validRange={"min": "1Gi", "step": "1Gi"}), "1.5Gi", "2Gi"),
        (cap("10Gi", validValues=["1Gi", "4Gi"]), "2Gi", "4Gi"),
        (cap("10Gi", validValues=["1Gi", "4Gi"]), "5Gi", "5Gi"),
    ],
)
def test_consumed_capacity_rounds_by_policy(
    capacity: dict[str, DeviceCapacity], asked: str | None, consumed: str
) -> None:
    requests = {"mem": Q(asked)} if asked else None
    assert consumed_capacity(requests, capacity)["mem"] == Q(consumed)


@pytest.mark.parametrize(
    ("capacity", "asked", "used", "fits"),
    [
        (cap("10Gi"), "4Gi", "6Gi", True),
        (cap("10Gi"), "4Gi", "7Gi", False),
        (cap("10Gi", validRange={"min": "1Gi", "max": "4Gi"}), "5Gi", None, False),
        (cap("10Gi", validValues=["1Gi", "4Gi"]), "5Gi", None, False),
        (cap("10Gi"), None, "1Gi", False),  # the whole capacity no longer fits
    ],
)
def test_request_fits_capacity(
    capacity: dict[str, DeviceCapacity], asked: str | None, used: str | None, fits: bool
) -> None:
    requests = {"mem": Q(asked)} if asked else None
    already = {"mem": Q(used)} if used else None
    assert request_fits_capacity(requests, capacity, already) is fits


def test_request_for_an_unknown_capacity_skips_the_device() -> None:
    assert request_fits_capacity({"other": Q("1")}, cap("10Gi"), None) is None
