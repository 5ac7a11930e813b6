"""Fixtures shared by the benchmarks (run them explicitly: ``pytest benchmarks/<file>``)."""

from __future__ import annotations

from typing import Any

import pytest

from dra_core.api.quantity import Quantity
from dra_core.cel import CelDevice, Semver

NVIDIA = "gpu.nvidia.com"

# 8-GPU node types, NVIDIA-like: what the NVIDIA DRA driver publishes per GPU (productName,
# architecture, brand, type, uuid, index, minor, driverVersion, cudaDriverVersion,
# cudaComputeCapability, pcieBusID, resource.kubernetes.io/pcieRoot; capacity memory and
# multiprocessors). Weights are the share of nodes of each type.
NODE_TYPES: tuple[tuple[str, str, str, str, int, int], ...] = (
    # productName, architecture, compute capability, memory, multiprocessors, weight
    ("NVIDIA A100-SXM4-80GB", "Ampere", "8.0.0", "81920Mi", 108, 30),
    ("NVIDIA A100-SXM4-40GB", "Ampere", "8.0.0", "40960Mi", 108, 15),
    ("NVIDIA H100 80GB HBM3", "Hopper", "9.0.0", "81559Mi", 132, 30),
    ("NVIDIA H200", "Hopper", "9.0.0", "143771Mi", 132, 10),
    ("NVIDIA L40S", "Ada Lovelace", "8.9.0", "46068Mi", 142, 15),
)
DRIVER_VERSIONS = ("535.183.1", "550.54.15", "560.35.3")  # as the driver publishes them
CUDA_VERSIONS = ("12.2.0", "12.4.0", "12.6.0")


def nvidia_gpu(node: int, index: int) -> tuple[dict[str, Any], dict[str, Quantity]]:
    """Attributes and capacity of GPU ``index`` on node ``node`` (deterministic)."""
    total = sum(t[-1] for t in NODE_TYPES)
    slot = (node * 7919) % total
    chosen = NODE_TYPES[-1]
    for node_type in NODE_TYPES:
        if slot < node_type[-1]:
            chosen = node_type
            break
        slot -= node_type[-1]
    product, arch, compute, memory, sms, _ = chosen
    release = node % len(DRIVER_VERSIONS)
    attributes: dict[str, Any] = {
        "type": "gpu",
        "productName": product,
        "brand": "Nvidia",
        "architecture": arch,
        "uuid": f"GPU-{node:08x}-{index:04x}-4a5b-8c9d-0123456789ab",
        "index": index,
        "minor": index,
        "driverVersion": Semver.parse(DRIVER_VERSIONS[release]),
        "cudaDriverVersion": Semver.parse(CUDA_VERSIONS[release]),
        "cudaComputeCapability": Semver.parse(compute),
        "pcieBusID": f"0000:{0x18 + 0x10 * index:02x}:00.0",
        "resource.kubernetes.io/pcieRoot": f"pci0000:{index // 2:02x}",
    }
    capacity = {
        "memory": Quantity.parse(memory),
        "multiprocessors": Quantity.parse(str(sms)),
    }
    return attributes, capacity


def build_inventory(devices: int) -> list[CelDevice]:
    """``devices`` GPUs on 8-GPU nodes, as the allocator would prepare them for CEL."""
    out: list[CelDevice] = []
    for i in range(devices):
        node, index = divmod(i, 8)
        attributes, capacity = nvidia_gpu(node, index)
        out.append(
            CelDevice(
                driver=NVIDIA,
                attributes=attributes,
                capacity=capacity,
                name=f"{NVIDIA}/node-{node}/gpu-{index}",
            )
        )
    return out


@pytest.fixture(scope="session")
def nvidia_inventory() -> list[CelDevice]:
    """100,000 NVIDIA-like GPUs on 12,500 nodes of 8."""
    return build_inventory(100_000)
