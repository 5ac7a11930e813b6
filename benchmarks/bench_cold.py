"""Benchmarks of the cold path: the CEL view of new devices (``CelDevice.from_device``).

Run: ``pytest benchmarks/bench_cold.py --benchmark-only``. Each round builds the CEL
view of 10 devices from their API models (the models themselves are parsed once,
outside the timed function): the scheduler-benchmark GPU of
``bench_allocate.py`` (model, family, driverVersion, pciRoot; capacity memory) and
an NVIDIA-like GPU (12 attributes, 2 capacities, see ``conftest.nvidia_gpu``).
Divide the time by 10 for the cost per device.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import NVIDIA, nvidia_gpu
from dra_core.api import Device
from dra_core.cel import CelDevice, Semver


def _scheduler_devices() -> list[Device]:
    return [
        Device.model_validate(
            {
                "name": f"device-{i}",
                "attributes": {
                    "model": {"string": "model-a"},
                    "family": {"string": "family-a"},
                    "driverVersion": {"version": "1.2.3"},
                    "pciRoot": {"string": f"root-{i // 5}"},
                },
                "capacity": {"memory": {"value": "80Gi"}},
            }
        )
        for i in range(10)
    ]


def _nvidia_devices() -> list[Device]:
    out = []
    for i in range(10):
        attributes, capacity = nvidia_gpu(i // 8, i % 8)
        attrs: dict[str, Any] = {}
        for name, value in attributes.items():
            if isinstance(value, Semver):
                attrs[name] = {"version": value.text}
            elif isinstance(value, bool):
                attrs[name] = {"bool": value}
            elif isinstance(value, int):
                attrs[name] = {"int": value}
            else:
                attrs[name] = {"string": value}
        caps = {name: {"value": str(q)} for name, q in capacity.items()}
        out.append(
            Device.model_validate({"name": f"gpu-{i}", "attributes": attrs, "capacity": caps})
        )
    return out


@pytest.mark.parametrize("kind", ["scheduler", "nvidia"])
def test_from_device(benchmark: Any, kind: str) -> None:
    """10 devices per round: the CEL view a cold allocator call builds per device."""
    devices = _scheduler_devices() if kind == "scheduler" else _nvidia_devices()
    driver = "d" if kind == "scheduler" else NVIDIA

    def run() -> list[CelDevice]:
        return [CelDevice.from_device(driver, d, name=f"{driver}/pool/{d.name}") for d in devices]

    built = run()
    assert len(built) == 10 and all(d.error is None for d in built)
    benchmark(run)
