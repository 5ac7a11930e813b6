"""Generators of hard allocation instances (issue 4), in the conformance case format.

Every generator returns a :class:`Shape`: a name, the parameters, the expected
feasibility with the argument that proves it, and ``case``, a plain dict with the keys of
a conformance case (``name``, ``features``, ``node``, ``slices``, ``classes``, ``claims``,
``allocatedClaims``). That dict is neutral: every engine, the CLI (write it out as JSON)
and the tests can load it. ``expect`` is left out on purpose: the exact devices of a
feasible shape are whatever Kubernetes' order yields, which the engines compute; only the
feasibility is known in advance, in ``Shape.fits``.

Device order (Kubernetes order): pools sorted by ``driver/pool``, slices by name, devices
in slice order. Names are zero-padded so that this order is also the reading order.

The six shapes:

1. ``count_exceeds(n)``: n+1 devices wanted, n match. Spread over several pools and slices.
   Because a claim holds at most 32 devices, the n+1 devices are asked for by
   ceil((n+1)/32) claims with one request each, sizes as even as possible (for n = 16 it is
   one request for 17). Infeasible by counting; backtracking explores every combination
   of the earlier claims before it gives up.
2. ``match_groups(g, k, groups)``: k count-1 requests joined by ``matchAttribute`` over
   devices in groups of g sharing the attribute. With g < k no group can hold all k
   requests, so it does not fit; the search tries every ordering of every group first
   (10!/0! ~ 3.6 million steps per group for g = 10, k = 11).
3. ``distinct_pigeonhole(k, values)``: k count-1 requests under ``distinctAttribute`` over
   devices that carry only ``values`` < k distinct values. Pigeonhole: does not fit.
4. ``first_available_limit(island, islands)``: two ``firstAvailable`` requests whose first
   subrequests ask for 32 and 16 devices (near and over the 32-device claim limit) joined
   by ``matchAttribute`` over islands of ``island`` devices. Every pair of subrequest
   counts needs at least 16 devices in one island, so with islands of 15 it does not fit.
5. MIG-like partitionable GPUs with shared counters (compute 7, memory 8 per GPU):
   ``mig_seven_of_eight(gpus)``: per GPU a 4g, a 3g and seven 1g partitions, in that order;
   each claim asks for 7 devices. A GPU holds at most 7 partitions (compute 7, each uses
   at least 1), and 7 only as its seven 1g partitions (a 4g or 3g leaves room for at most
   3 or 4 more), so the first device tried (the 4g) must be abandoned. Fits with one claim
   per GPU (every 1g partition is used); one claim more does not fit.
   ``mig_mixed(gpus)``: per GPU 7g, 4g, 3g, three 2g and seven 1g partitions; one claim
   asks for 9 large partitions (7g/4g/3g), another for small ones (2g/1g). Proof of the
   bound: with x GPUs holding two large partitions (4g+3g, full), y holding one and z none,
   2x+y = 9 and x+y+z = 8, so z = x-1; a GPU with one large partition has at most 4
   compute left (3g), an empty one 7, so small <= 4y + 7z = 29 - x <= 28 (x >= 1).
   28 small partitions fit, 29 do not.
6. ``shared_capacity(devices, claims)``: devices that allow multiple allocations with 100G
   of bandwidth each, and many one-device claims asking for 34G each. Only two fit on a
   device (3 x 34 > 100), so 2 x devices claims fit and one more does not; the search
   tries every assignment of the earlier claims first.

Each generator takes ``fits=`` to produce the feasible twin of the shape (the smallest
change that makes it fit), so that benchmarks and tests cover both answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DRIVER",
    "Shape",
    "all_shapes",
    "count_exceeds",
    "distinct_pigeonhole",
    "first_available_limit",
    "match_groups",
    "mig_mixed",
    "mig_seven_of_eight",
    "shared_capacity",
]

DRIVER = "gpu.example.com"
NODE = "node-1"
CLAIM_LIMIT = 32  # resourceapi.AllocationResultsMaxSize

Json = dict[str, Any]


@dataclass(frozen=True)
class Shape:
    """One generated instance and what is known about it."""

    name: str
    params: dict[str, int]
    fits: bool
    why: str
    case: Json = field(repr=False)

    def case_copy(self) -> Json:
        """A deep copy of the case (engines must not mutate it, but tests check that)."""
        import copy

        return copy.deepcopy(self.case)


# --- small builders (conformance-format dicts) -------------------------------------------


def _node() -> Json:
    return {"metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}}}


def _all_features() -> Json:
    return {
        "adminAccess": True,
        "consumableCapacity": True,
        "deviceBindingAndStatus": True,
        "deviceTaints": True,
        "listTypeAttributes": True,
        "partitionableDevices": True,
        "prioritizedList": True,
    }


def _slice(name: str, pool: str, count: int, devices: list[Json], **spec: Any) -> Json:
    body: Json = {
        "driver": DRIVER,
        "pool": {"name": pool, "generation": 1, "resourceSliceCount": count},
        "nodeName": NODE,
    }
    if devices:
        body["devices"] = devices
    body.update(spec)
    return {"metadata": {"name": name}, "spec": body}


def _device(name: str, **attributes: Any) -> Json:
    device: Json = {"name": name}
    if attributes:
        device["attributes"] = {k: _attribute(v) for k, v in attributes.items()}
    return device


def _attribute(value: Any) -> Json:
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": value}
    return {"string": str(value)}


def _class(name: str, expression: str) -> Json:
    selectors = [{"cel": {"expression": expression}}]
    return {"metadata": {"name": name}, "spec": {"selectors": selectors}}


def _gpu_class() -> Json:
    return _class("gpu", f'device.driver == "{DRIVER}"')


def _exactly(count: int, selector: str | None = None, **extra: Any) -> Json:
    body: Json = {"deviceClassName": "gpu", "allocationMode": "ExactCount", "count": count}
    if selector is not None:
        body["selectors"] = [{"cel": {"expression": selector}}]
    body.update(extra)
    return body


def _claim(name: str, requests: list[Json], constraints: list[Json] | None = None) -> Json:
    devices: Json = {"requests": requests}
    if constraints:
        devices["constraints"] = constraints
    return {
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
        "spec": {"devices": devices},
    }


def _case(name: str, slices: list[Json], classes: list[Json], claims: list[Json]) -> Json:
    return {
        "name": name,
        "features": _all_features(),
        "node": _node(),
        "slices": slices,
        "classes": classes,
        "claims": claims,
        "allocatedClaims": [],
    }


def _split(total: int, limit: int = CLAIM_LIMIT) -> list[int]:
    """Split ``total`` into as few parts <= limit as possible, sizes as even as possible."""
    parts = -(-total // limit)
    base, extra = divmod(total, parts)
    return [base + 1 if i < extra else base for i in range(parts)]


def _attr_selector(name: str, values: list[str]) -> str:
    quoted = ", ".join(f'"{v}"' for v in values)
    return f'device.attributes["{DRIVER}"].{name} in [{quoted}]'


# --- 1. more devices wanted than match ----------------------------------------------------


def count_exceeds(n: int, *, fits: bool = False) -> Shape:
    """n matching devices over several pools and slices; n+1 (or, to fit, n) wanted."""
    pools = max(2, n // 16)
    per_pool = _split(n, -(-n // pools))
    slices: list[Json] = []
    index = 0
    for p, size in enumerate(per_pool):
        halves = [size - size // 2, size // 2]
        for s, half in enumerate(halves):
            devices = [_device(f"gpu-{index + i:03d}", model="A100") for i in range(half)]
            index += half
            slices.append(_slice(f"pool-{p:02d}-slice-{s}", f"pool-{p:02d}", 2, devices))
    wanted = n if fits else n + 1
    claims = [
        _claim(f"claim-{c:02d}", [{"name": "gpus", "exactly": _exactly(size)}])
        for c, size in enumerate(_split(wanted))
    ]
    why = f"{wanted} devices wanted, {n} match: " + (
        "every device is used once" if fits else "one device short (counting)"
    )
    name = f"count-exceeds-n{n}" + ("-fits" if fits else "")
    return Shape(name, {"n": n}, fits, why, _case(name, slices, [_gpu_class()], claims))


# --- 2. matchAttribute over groups that are all too small ---------------------------------


def match_groups(g: int = 10, k: int = 11, groups: int = 12, *, fits: bool = False) -> Shape:
    """k count-1 requests with one matchAttribute, devices in groups of g (last of k to fit)."""
    devices: list[Json] = []
    index = 0
    for grp in range(groups):
        size = k if fits and grp == groups - 1 else g
        for _ in range(size):
            devices.append(_device(f"gpu-{index:03d}", group=f"group-{grp:02d}"))
            index += 1
    slices = [_slice("slice-0", NODE, 1, devices)]
    requests = [{"name": f"r{i:02d}", "exactly": _exactly(1)} for i in range(k)]
    claims = [_claim("claim-0", requests, [{"matchAttribute": f"{DRIVER}/group"}])]
    fit = fits or g >= k
    why = (
        f"{k} requests must share one group; groups hold {g}"
        + (f", the last one {k}" if fits else "")
        + (": fits" if fit else ": no group is big enough")
    )
    name = f"match-groups-g{g}-k{k}-x{groups}" + ("-fits" if fits else "")
    return Shape(
        name,
        {"g": g, "k": k, "groups": groups},
        fit,
        why,
        _case(name, slices, [_gpu_class()], claims),
    )


# --- 3. distinctAttribute pigeonhole ------------------------------------------------------


def distinct_pigeonhole(
    k: int = 8, values: int = 7, per_value: int = 4, *, fits: bool = False
) -> Shape:
    """k count-1 requests with distinctAttribute over devices with ``values`` values."""
    distinct = k if fits else values
    devices = [
        _device(f"gpu-{v * per_value + i:03d}", numa=v)
        for v in range(distinct)
        for i in range(per_value)
    ]
    slices = [_slice("slice-0", NODE, 1, devices)]
    requests = [{"name": f"r{i:02d}", "exactly": _exactly(1)} for i in range(k)]
    claims = [_claim("claim-0", requests, [{"distinctAttribute": f"{DRIVER}/numa"}])]
    fit = distinct >= k
    why = f"{k} requests need pairwise distinct numa values; {distinct} values exist"
    name = f"distinct-pigeonhole-k{k}-v{distinct}" + ("-fits" if fits else "")
    return Shape(
        name,
        {"k": k, "values": distinct, "per_value": per_value},
        fit,
        why,
        _case(name, slices, [_gpu_class()], claims),
    )


# --- 4. firstAvailable near the claim limit -----------------------------------------------


def first_available_limit(island: int = 15, islands: int = 4, *, fits: bool = False) -> Shape:
    """Requests a: 32|16|8 and b: 16|8 devices, all in one island; islands of ``island``."""
    devices: list[Json] = []
    index = 0
    sizes = [island] * islands + ([16] if fits else [])
    for isl, size in enumerate(sizes):
        for _ in range(size):
            devices.append(_device(f"gpu-{index:03d}", island=f"island-{isl:02d}"))
            index += 1
    slices = [_slice("slice-0", NODE, 1, devices)]

    def sub(name: str, count: int) -> Json:
        return {
            "name": name,
            "deviceClassName": "gpu",
            "allocationMode": "ExactCount",
            "count": count,
        }

    requests = [
        {"name": "a", "firstAvailable": [sub("a32", 32), sub("a16", 16), sub("a8", 8)]},
        {"name": "b", "firstAvailable": [sub("b16", 16), sub("b8", 8)]},
    ]
    claims = [_claim("claim-0", requests, [{"matchAttribute": f"{DRIVER}/island"}])]
    fit = max(sizes) >= 16
    why = (
        "a and b together need >= 16 devices in one island (a32 exceeds the limit with any b); "
        f"the largest island has {max(sizes)}"
    )
    name = f"first-available-limit-i{island}-x{islands}" + ("-fits" if fits else "")
    return Shape(
        name,
        {"island": island, "islands": islands},
        fit,
        why,
        _case(name, slices, [_gpu_class()], claims),
    )


# --- 5. MIG-like partitionable devices ----------------------------------------------------

# profile -> (compute, memory) consumed from the GPU's counter set (compute 7, memory 8).
_PROFILES = {"7g": (7, 8), "4g": (4, 4), "3g": (3, 4), "2g": (2, 2), "1g": (1, 1)}


def _mig_slices(gpus: int, layout: list[tuple[str, int]]) -> list[Json]:
    counter_sets = [
        {"name": f"gpu-{gpu}", "counters": {"compute": {"value": "7"}, "memory": {"value": "8"}}}
        for gpu in range(gpus)
    ]
    devices: list[Json] = []
    for gpu in range(gpus):
        for profile, copies in layout:
            compute, memory = _PROFILES[profile]
            for copy in range(copies):
                device = _device(f"gpu-{gpu}-{profile}-{copy}", profile=profile, gpu=gpu)
                device["consumesCounters"] = [
                    {
                        "counterSet": f"gpu-{gpu}",
                        "counters": {
                            "compute": {"value": str(compute)},
                            "memory": {"value": str(memory)},
                        },
                    }
                ]
                devices.append(device)
    return [
        _slice("a-counters", NODE, 2, [], sharedCounters=counter_sets),
        _slice("b-partitions", NODE, 2, devices),
    ]


def mig_seven_of_eight(gpus: int = 1, *, fits: bool = True) -> Shape:
    """Per GPU: 4g, 3g, 7 x 1g; one claim per GPU (one more to not fit) asks for 7 devices."""
    slices = _mig_slices(gpus, [("4g", 1), ("3g", 1), ("1g", 7)])
    count = gpus if fits else gpus + 1
    claims = [
        _claim(f"claim-{c:02d}", [{"name": "parts", "exactly": _exactly(7)}]) for c in range(count)
    ]
    why = (
        "a GPU holds at most 7 partitions (compute 7, each uses >= 1), and 7 only as seven 1g "
        f"(a 4g or 3g leaves room for <= 4 more); {count} claim(s) x 7 on {gpus} GPU(s)"
    )
    name = f"mig-seven-of-eight-x{gpus}" + ("" if fits else "-one-too-many")
    return Shape(
        name,
        {"gpus": gpus, "claims": count},
        fits,
        why,
        _case(name, slices, [_gpu_class()], claims),
    )


def mig_mixed(gpus: int = 8, *, fits: bool = False) -> Shape:
    """Per GPU: 7g, 4g, 3g, 3 x 2g, 7 x 1g; claims for 9 large and 28 (fits) / 29 small."""
    if gpus != 8:
        raise ValueError("mig_mixed's feasibility argument is worked out for 8 GPUs")
    slices = _mig_slices(gpus, [("7g", 1), ("4g", 1), ("3g", 1), ("2g", 3), ("1g", 7)])
    small = 28 if fits else 29
    claims = [
        _claim(
            "large",
            [
                {
                    "name": "large",
                    "exactly": _exactly(9, _attr_selector("profile", ["7g", "4g", "3g"])),
                }
            ],
        ),
        _claim(
            "small",
            [
                {
                    "name": "small",
                    "exactly": _exactly(small, _attr_selector("profile", ["2g", "1g"])),
                }
            ],
        ),
    ]
    why = "9 large partitions leave room for at most 28 small ones (see module docstring)"
    name = f"mig-mixed-x{gpus}-small{small}"
    return Shape(
        name,
        {"gpus": gpus, "large": 9, "small": small},
        fits,
        why,
        _case(name, slices, [_gpu_class()], claims),
    )


# --- 6. consumable capacity shared by many claims -----------------------------------------


def shared_capacity(devices: int = 8, claims: int | None = None, *, fits: bool = False) -> Shape:
    """Shared NICs of 100G; one-device claims of 34G each (two per NIC fit, three do not)."""
    nics = []
    for d in range(devices):
        nic = _device(f"nic-{d:02d}", kind="nic")
        nic["allowMultipleAllocations"] = True
        nic["capacity"] = {
            "bandwidth": {
                "value": "100G",
                "requestPolicy": {
                    "default": "10G",
                    "validRange": {"min": "1G", "max": "100G", "step": "1G"},
                },
            }
        }
        nics.append(nic)
    slices = [_slice("slice-0", NODE, 1, nics)]
    count = claims if claims is not None else (2 * devices if fits else 2 * devices + 1)
    claim_list = [
        _claim(
            f"claim-{c:02d}",
            [
                {
                    "name": "nic",
                    "exactly": _exactly(1, capacity={"requests": {"bandwidth": "34G"}}),
                }
            ],
        )
        for c in range(count)
    ]
    fit = count <= 2 * devices
    why = f"{count} claims of 34G, {devices} devices of 100G hold two each"
    name = f"shared-capacity-d{devices}-c{count}"
    return Shape(
        name,
        {"devices": devices, "claims": count},
        fit,
        why,
        _case(name, slices, [_gpu_class()], claim_list),
    )


# --- the benchmark set --------------------------------------------------------------------


def all_shapes() -> Iterator[Shape]:
    """Every shape at the parameters of issue 4, each also in its feasible twin."""
    for n in (16, 32, 64, 128):
        yield count_exceeds(n)
    yield count_exceeds(32, fits=True)
    yield match_groups(10, 11, 12)
    yield match_groups(10, 11, 12, fits=True)
    yield distinct_pigeonhole(8, 7)
    yield distinct_pigeonhole(8, 7, fits=True)
    yield first_available_limit()
    yield first_available_limit(fits=True)
    yield mig_seven_of_eight(1)
    yield mig_seven_of_eight(4)
    yield mig_seven_of_eight(4, fits=False)
    yield mig_mixed(fits=True)
    yield mig_mixed(fits=False)
    yield shared_capacity(8, fits=True)
    yield shared_capacity(8)
