"""CEL's quantity functions with hostile magnitudes (see tests/api/test_quantity_limits.py)."""

from __future__ import annotations

import math

import pytest

from dra_core.api.quantity import Quantity
from dra_core.cel import CelDevice, compile_selector
from dra_core.cel._program import evaluate_value
from dra_core.errors import CELRuntimeError

DRIVER = "dra.example.com"


def test_quantity_of_a_huge_magnitude_is_a_runtime_error() -> None:
    with pytest.raises(CELRuntimeError, match="CEL runtime error: quantity too large: "):
        evaluate_value('quantity("1e999999999")')
    # Kubernetes says true here; dra-core cannot hold the value (documented difference).
    assert evaluate_value('isQuantity("1e999999999")') is False
    assert evaluate_value('isQuantity("9e999")') is True


def test_largest_accepted_magnitudes_compute() -> None:
    assert evaluate_value('quantity("9e999").isGreaterThan(quantity("1Ei"))') is True
    assert evaluate_value('quantity("9e999").add(quantity("9e999")).asApproximateFloat()') == (
        math.inf
    )
    assert evaluate_value('quantity("1e-999999999").compareTo(quantity("1n"))') == 0
    assert evaluate_value('quantity("9e999").isInteger()') is False  # does not fit int64


def test_selector_on_a_large_capacity() -> None:
    program = compile_selector(
        f'device.capacity["{DRIVER}"].memory.isGreaterThan(quantity("40Gi"))'
    )
    device = CelDevice(driver=DRIVER, capacity={"memory": Quantity.parse("9e999")})
    assert program.matches(device) is True
