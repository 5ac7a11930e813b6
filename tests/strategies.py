"""Hypothesis strategies shared by all dra-core tests, one section per subject.

Append new ones at the end.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import strategies as st

from dra_core.api import Device, DeviceAttribute, ResourceSlice
from dra_core.api.quantity import Quantity
from dra_core.cel import CelDevice, Semver

DECIMAL_SUFFIXES = ("n", "u", "m", "", "k", "M", "G", "T", "P", "E")
BINARY_SUFFIXES = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


@st.composite
def quantity_texts(draw: st.DrawFn, *, allow_negative: bool = True) -> str:
    """Texts that Go's ParseQuantity accepts: sign, digits, fraction and a suffix."""
    sign = draw(st.sampled_from(["", "+", "-"] if allow_negative else ["", "+"]))
    whole = draw(st.from_regex(r"[0-9]{0,20}", fullmatch=True))
    frac = draw(st.one_of(st.just(None), st.from_regex(r"[0-9]{0,12}", fullmatch=True)))
    if not whole and not frac:
        whole = "0"  # Go needs a digit on its general path ("e-20" does not parse)
    number = whole if frac is None else f"{whole}.{frac}"
    suffix = draw(
        st.one_of(
            st.sampled_from(DECIMAL_SUFFIXES),
            st.sampled_from(BINARY_SUFFIXES),
            st.builds(
                lambda e, s: f"{e}{s}",
                st.sampled_from(["e", "E"]),
                st.integers(-30, 30).map(str),
            ),
        )
    )
    return f"{sign}{number}{suffix}"


def quantities(*, allow_negative: bool = True) -> st.SearchStrategy[Quantity]:
    """Parsed quantities, and integer quantities in every format."""
    formats = st.sampled_from(["DecimalSI", "BinarySI", "DecimalExponent"])
    ints = st.integers(-(2**70), 2**70) if allow_negative else st.integers(0, 2**70)
    return st.one_of(
        quantity_texts(allow_negative=allow_negative).map(Quantity.parse),
        st.builds(Quantity.from_int, ints, formats),
    )


# --------------------------------------------------------------------------- resource models
# JSON-shaped strategies (what a manifest holds) and model strategies built from them. The
# generated objects pass the API server's validation.

dns_labels = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?", fullmatch=True)
c_identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
domains = st.lists(dns_labels, min_size=1, max_size=3).map(".".join)
qualified_names = st.one_of(
    c_identifiers, st.builds(lambda d, n: f"{d}/{n}", domains, c_identifiers)
)
semvers = st.builds(
    lambda a, b, c, pre: f"{a}.{b}.{c}{pre}",
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 99),
    st.sampled_from(["", "-alpha", "-rc.1", "+build.5"]),
)
# strings that YAML 1.1 would read as something else: they must come back as strings; and
# strings with characters that a YAML reader changes unless they are escaped (NEL, LS, PS,
# BOM, CR, control characters) or quoted (leading and trailing spaces)
tricky_strings = st.sampled_from(
    [
        *("0x10de", "010", "no", "yes", "on", "off", "1.10", "~", "", "1e3", "0o7", "y"),
        *("<<", "=", "\x85", "a\u2028b", "\u2029", "\ufeffa", "a\r\nb", "\x00", "\x7f", "\x9f"),
        *(" a", "a "),
    ]
)
attribute_strings = st.one_of(st.text(max_size=20), tricky_strings).filter(
    lambda s: len(s.encode()) <= 64
)


def attribute_values() -> st.SearchStrategy[dict[str, Any]]:
    """One device attribute in JSON form: exactly one of int/bool/string/version or a list."""
    ints = st.integers(-(2**63), 2**63 - 1)
    return st.one_of(
        ints.map(lambda v: {"int": v}),
        st.booleans().map(lambda v: {"bool": v}),
        attribute_strings.map(lambda v: {"string": v}),
        semvers.map(lambda v: {"version": v}),
        st.lists(ints, min_size=1, max_size=3).map(lambda v: {"ints": v}),
        st.lists(st.booleans(), min_size=1, max_size=3).map(lambda v: {"bools": v}),
        st.lists(attribute_strings, min_size=1, max_size=3).map(lambda v: {"strings": v}),
        st.lists(semvers, min_size=1, max_size=3).map(lambda v: {"versions": v}),
    )


def device_attributes() -> st.SearchStrategy[DeviceAttribute]:
    """Device attributes as models."""
    return attribute_values().map(DeviceAttribute.model_validate)


@st.composite
def device_docs(draw: st.DrawFn, *, name: str | None = None) -> dict[str, Any]:
    """A device in JSON form, with attributes and capacities (at most 32 together)."""
    attributes = draw(st.dictionaries(qualified_names, attribute_values(), max_size=6))
    capacity = draw(
        st.dictionaries(
            qualified_names,
            quantity_texts(allow_negative=False).map(lambda q: {"value": q}),
            max_size=4,
        )
    )
    doc: dict[str, Any] = {"name": name if name is not None else draw(dns_labels)}
    if attributes:
        doc["attributes"] = attributes
    if capacity:
        doc["capacity"] = capacity
    return doc


def devices() -> st.SearchStrategy[Device]:
    """Devices as models."""
    return device_docs().map(Device.model_validate)


@st.composite
def slice_docs(draw: st.DrawFn, *, max_devices: int = 6) -> dict[str, Any]:
    """A node-local ResourceSlice in JSON form (apiVersion and kind included)."""
    names = draw(st.lists(dns_labels, min_size=1, max_size=max_devices, unique=True))
    node = draw(dns_labels)
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": f"{node}-{draw(dns_labels)}"},
        "spec": {
            "driver": draw(domains),
            "pool": {
                "name": node,
                "generation": draw(st.integers(0, 10)),
                "resourceSliceCount": draw(st.integers(1, 3)),
            },
            "nodeName": node,
            "devices": [draw(device_docs(name=n)) for n in names],
        },
    }


def resource_slices() -> st.SearchStrategy[ResourceSlice]:
    """ResourceSlices as models."""
    return slice_docs().map(ResourceSlice.model_validate)


# --- CEL selectors and the devices they run on ------------------------------

CEL_DRIVERS = ("a.example.com", "b.example.com")
CEL_DOMAINS = (*CEL_DRIVERS, "other.example.com")
CEL_NAMES = ("model", "index", "healthy", "tags", "version", "count")
CEL_CAPACITIES = ("memory", "cores")
CEL_STRINGS = ("x", "y", "A100")
CEL_QUANTITIES = ("1Gi", "1073741824", "2Gi", "500m", "0")

cel_scalar_values = st.one_of(
    st.integers(-3, 3),
    st.sampled_from(CEL_STRINGS),
    st.booleans(),
    st.sampled_from(("1.0.0", "2.0.0", "1.0.0-rc.1")).map(Semver.parse),
)
cel_attribute_values = st.one_of(
    cel_scalar_values,
    st.lists(st.integers(-3, 3), max_size=3),
    st.lists(st.sampled_from(CEL_STRINGS), max_size=3),
)


@st.composite
def cel_devices(draw: st.DrawFn) -> CelDevice:
    """A device with a few attributes and capacities, some in other domains."""
    driver = draw(st.sampled_from(CEL_DRIVERS))
    attributes: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(CEL_NAMES), max_size=4, unique=True)):
        domain = draw(st.sampled_from(("", "other.example.com/", f"{driver}/")))
        attributes[f"{domain}{name}"] = draw(cel_attribute_values)
    capacity = {
        name: Quantity.parse(draw(st.sampled_from(CEL_QUANTITIES)))
        for name in draw(st.lists(st.sampled_from(CEL_CAPACITIES), max_size=2, unique=True))
    }
    return CelDevice(
        driver=driver,
        attributes=attributes,
        capacity=capacity,
        allow_multiple_allocations=draw(st.booleans()),
        name=f"{driver}/pool/dev",
    )


cel_literals = st.one_of(
    st.integers(-3, 3).map(str),
    st.sampled_from(CEL_STRINGS).map(lambda s: f'"{s}"'),
    st.sampled_from(("true", "false")),
)


@st.composite
def cel_atoms(draw: st.DrawFn, *, celpy_subset: bool = False) -> str:
    """One comparison or test on the device."""
    dom = draw(st.sampled_from(CEL_DOMAINS))
    name = draw(st.sampled_from(CEL_NAMES))
    lit = draw(cel_literals)
    attr = f'device.attributes["{dom}"].{name}'
    op = draw(st.sampled_from(("==", "!=", "<", ">=")))
    simple = [
        f'device.driver == "{draw(st.sampled_from(CEL_DRIVERS))}"',
        f"{attr} {op} {lit}",
        f'device.attributes["{dom}"]["{name}"] == {lit}',
        f"has({attr})",
        f'"{name}" in device.attributes["{dom}"]',
        f'"{dom}" in device.attributes',
        f'device.attributes["{dom}"].size() > 1',
        f'device.attributes.exists(d, d == "{dom}")',
        f'cel.bind(a, device.attributes["{dom}"], a.{name} == {lit})',
    ]
    if celpy_subset:
        return draw(st.sampled_from(simple))
    cap = draw(st.sampled_from(CEL_CAPACITIES))
    quantity = draw(st.sampled_from(CEL_QUANTITIES))
    richer = [
        f"{attr}.?{name}.orValue({lit}) == {lit}".replace(f".?{name}.?", ".?"),
        f'device.attributes["{dom}"].?{name}.orValue({lit}) == {lit}',
        f"{attr}.includes({lit})",
        f"{attr}.exists(v, v == {lit})",
        f'{attr}.isGreaterThan(semver("1.0.0"))',
        f'device.capacity["{dom}"].{cap}.isGreaterThan(quantity("{quantity}"))',
        f'device.capacity["{dom}"].?{cap}.orValue(quantity("1")) == quantity("{quantity}")',
        f'device.capacity["{dom}"].size() == 1',
        "device.allowMultipleAllocations",
        f"device.attributes[device.driver].{name} == {lit}",
        f"{attr}.size() == 2",
        f'string({attr}).startsWith("x")',
        "device.attributes.all(d, device.attributes[d].size() > 0)",
    ]
    return draw(st.sampled_from(simple + richer))


def cel_selectors(*, celpy_subset: bool = False) -> st.SearchStrategy[str]:
    """Boolean combinations of cel_atoms."""
    base = cel_atoms(celpy_subset=celpy_subset)
    return st.recursive(
        base,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda p: f"({p[0]}) && ({p[1]})"),
            st.tuples(inner, inner).map(lambda p: f"({p[0]}) || ({p[1]})"),
            inner.map(lambda e: f"!({e})"),
        ),
        max_leaves=4,
    )


# --- allocation instances: conformance-format cases for engine properties -----

INSTANCE_DRIVER = "driver-a"
INSTANCE_NODE = "node-1"


@st.composite
def _instance_device(
    draw: st.DrawFn, name: str, counter_sets: list[str], lists: bool
) -> dict[str, Any]:
    dev: dict[str, Any] = {
        "name": name,
        "attributes": {
            "a": {"int": draw(st.integers(0, 2))},
            "b": {"string": draw(st.sampled_from("xy"))},
        },
    }
    # With list-type attributes off, a list attribute makes every selector fail
    # (Kubernetes: "unsupported attribute value"), so lists only come with them on.
    if lists and draw(st.booleans()):
        dev["attributes"]["l"] = {
            "ints": sorted(draw(st.sets(st.integers(0, 3), min_size=1, max_size=3)))
        }
    kind = draw(st.sampled_from(["plain", "plain", "counters", "shared"]))
    if kind == "counters" and counter_sets:
        dev["consumesCounters"] = [
            {
                "counterSet": draw(st.sampled_from(counter_sets)),
                "counters": {"mem": {"value": str(draw(st.integers(1, 4)))}},
            }
        ]
    elif kind == "shared":
        dev["allowMultipleAllocations"] = True
        dev["capacity"] = {
            "bw": {
                "value": str(draw(st.integers(2, 10))),
                "requestPolicy": {"default": "1", "validRange": {"min": "1", "step": "1"}},
            }
        }
    if draw(st.integers(0, 5)) == 0:
        dev["taints"] = [{"key": "k", "value": "v", "effect": "NoSchedule"}]
    return dev


@st.composite
def _instance_pool(draw: st.DrawFn, index: int, lists: bool) -> list[dict[str, Any]]:
    pool = f"pool-{index}"
    counter_sets = [f"cs-{index}"] if draw(st.booleans()) else []
    devices = [
        draw(_instance_device(f"p{index}-d{i}", counter_sets, lists))
        for i in range(draw(st.integers(2, 7)))
    ]
    slices = [
        {
            "metadata": {"name": f"{pool}-devices"},
            "spec": {
                "driver": INSTANCE_DRIVER,
                "pool": {
                    "name": pool,
                    "generation": 1,
                    "resourceSliceCount": 2 if counter_sets else 1,
                },
                "nodeName": INSTANCE_NODE,
                "devices": devices,
            },
        }
    ]
    if counter_sets:
        slices.append(
            {
                "metadata": {"name": f"{pool}-counters"},
                "spec": {
                    "driver": INSTANCE_DRIVER,
                    "pool": {"name": pool, "generation": 1, "resourceSliceCount": 2},
                    "nodeName": INSTANCE_NODE,
                    "sharedCounters": [
                        {"name": cs, "counters": {"mem": {"value": str(draw(st.integers(2, 6)))}}}
                        for cs in counter_sets
                    ],
                },
            }
        )
    return slices


_INSTANCE_SELECTORS = [
    None,
    None,
    None,
    'device.attributes["driver-a"].a == 1',
    'device.attributes["driver-a"].b == "x"',
    'device.attributes["driver-a"].a >= 1',
]


@st.composite
def _instance_exactly(draw: st.DrawFn, *, sub: bool) -> dict[str, Any]:
    mode = "All" if draw(st.integers(0, 9)) == 0 else "ExactCount"
    body: dict[str, Any] = {"deviceClassName": "class-a", "allocationMode": mode}
    if mode == "ExactCount":
        body["count"] = draw(st.sampled_from([1, 1, 1, 2, 2, 3]))
    selector = draw(st.sampled_from(_INSTANCE_SELECTORS))
    if selector:
        body["selectors"] = [{"cel": {"expression": selector}}]
    if not sub and draw(st.integers(0, 6)) == 0:
        body["adminAccess"] = True
    if draw(st.integers(0, 4)) == 0:
        body["tolerations"] = [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]
    if draw(st.integers(0, 4)) == 0:
        body["capacity"] = {"requests": {"bw": str(draw(st.integers(1, 4)))}}
    return body


@st.composite
def _instance_claim(draw: st.DrawFn, index: int) -> dict[str, Any]:
    requests: list[dict[str, Any]] = []
    names: list[str] = []
    for r in range(draw(st.sampled_from([1, 1, 2, 2, 3]))):
        name = f"r{r}"
        if draw(st.integers(0, 3)) == 0:
            subs = []
            for s in range(draw(st.integers(2, 3))):
                body = draw(_instance_exactly(sub=True))
                subs.append({"name": f"s{s}", **body})
                names.append(f"{name}/s{s}")
            requests.append({"name": name, "firstAvailable": subs})
        else:
            requests.append({"name": name, "exactly": draw(_instance_exactly(sub=False))})
        names.append(name)
    constraints = []
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        kind = draw(st.sampled_from(["matchAttribute", "distinctAttribute"]))
        attr = draw(st.sampled_from(["a", "b", "l"]))
        scope = draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
        con: dict[str, Any] = {kind: f"{INSTANCE_DRIVER}/{attr}"}
        if scope:
            con["requests"] = scope
        constraints.append(con)
    devices: dict[str, Any] = {"requests": requests}
    if constraints:
        devices["constraints"] = constraints
    return {
        "metadata": {"name": f"claim-{index}", "namespace": "default", "uid": f"uid-{index}"},
        "spec": {"devices": devices},
    }


@st.composite
def allocation_instances(draw: st.DrawFn) -> dict[str, Any]:
    """A conformance-format case: node, slices, classes, claims, allocatedClaims, features."""
    lists = draw(st.booleans())
    slices: list[dict[str, Any]] = []
    for p in range(draw(st.integers(1, 2))):
        slices.extend(draw(_instance_pool(p, lists)))
    names = [
        (s["spec"]["pool"]["name"], d["name"])
        for s in slices
        for d in s["spec"].get("devices", [])
        if not d.get("allowMultipleAllocations")
    ]
    in_use = draw(st.lists(st.sampled_from(names), max_size=2, unique=True)) if names else []
    allocated = []
    if in_use:
        allocated.append(
            {
                "metadata": {"name": "in-use", "namespace": "default", "uid": "in-use"},
                "spec": {"devices": {"requests": []}},
                "status": {
                    "allocation": {
                        "devices": {
                            "results": [
                                {
                                    "request": f"x{i}",
                                    "driver": INSTANCE_DRIVER,
                                    "pool": p,
                                    "device": d,
                                }
                                for i, (p, d) in enumerate(in_use)
                            ]
                        }
                    }
                },
            }
        )
    claims = [draw(_instance_claim(c)) for c in range(draw(st.sampled_from([1, 1, 2, 2, 3])))]
    return {
        "name": "random",
        "features": {
            "listTypeAttributes": lists,
            # Mostly on; off now and then (Kubernetes then refuses or ignores things).
            **{
                name: draw(st.sampled_from([True] * 9 + [False]))
                for name in (
                    "adminAccess",
                    "consumableCapacity",
                    "deviceTaints",
                    "partitionableDevices",
                    "prioritizedList",
                )
            },
        },
        "node": {"metadata": {"name": INSTANCE_NODE}},
        "slices": slices,
        "classes": [{"metadata": {"name": "class-a"}, "spec": {}}],
        "claims": claims,
        "allocatedClaims": allocated,
    }


# --- malformed objects: arbitrary JSON values anywhere in valid ones --------------------------

# Scalars that a JSON reader can produce (Python's json also reads NaN and the infinities, and
# integers of any size), plus a few texts that mean something somewhere in the API.
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30, -(10**400), 10**4000]),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["", "0", "-1", "1Gi", "true", "All", "ExactCount", "default", "a.b/c"]),
)


def _deep_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def json_values(*, max_leaves: int = 6) -> st.SearchStrategy[Any]:
    """Any JSON value: scalars, lists and objects nested to any depth.

    Now and then a list nested 50 to 300 levels deep: past dra-core's limit for free JSON,
    within what Python's ``repr`` and ``deepcopy`` handle (so failures can be reported).
    """
    return st.one_of(
        st.recursive(
            json_scalars,
            lambda children: st.one_of(
                st.lists(children, max_size=3),
                st.dictionaries(st.text(max_size=8), children, max_size=3),
            ),
            max_leaves=max_leaves,
        ),
        st.integers(50, 300).map(_deep_list),
    )


def _value_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and list indexes) to a value inside ``value``, the root first."""
    paths = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            paths.extend(_value_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths.extend(_value_paths(item, (*prefix, index)))
    return paths


@st.composite
def malformed(draw: st.DrawFn, document: Any, *, keep_root: bool = True) -> Any:
    """A deep copy of ``document`` with one to three changes anywhere in it.

    Each change replaces the value at a path (at any depth) with an arbitrary JSON value,
    deletes a key or a list item, or adds a key, with a name the object uses elsewhere or any
    text. ``keep_root`` keeps the top level a mapping (its values still change).
    """
    doc = copy.deepcopy(document)
    known_keys = sorted({p[-1] for p in _value_paths(doc) if p and isinstance(p[-1], str)})
    for _ in range(draw(st.integers(1, 3))):
        paths = _value_paths(doc)
        if keep_root and isinstance(doc, dict):
            paths = paths[1:] or [()]
        path = draw(st.sampled_from(paths))
        operation = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
        if not path:
            if not keep_root:
                doc = draw(json_values())
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if operation == "replace":
            parent[last] = draw(json_values())
        elif operation == "delete":
            del parent[last]
        else:
            target = parent[last]
            if isinstance(target, dict):
                key = draw(st.one_of(st.sampled_from(known_keys or ["x"]), st.text(max_size=8)))
                target[key] = draw(json_values())
            elif isinstance(target, list):
                target.append(draw(json_values()))
            else:
                parent[last] = draw(json_values())
    return doc


# --- clusters: objects and events (tests/cluster) ---------------------------------------------

CLUSTER_DRIVER = "gpu.example.com"
CLUSTER_NODES = ("node-0", "node-1", "node-2", "node-3")
CLUSTER_RACKS = {"node-0": "r0", "node-1": "r0", "node-2": "r1", "node-3": "r1"}


def cluster_node(name: str, rack: str | None = None) -> dict[str, Any]:
    """A Node with a rack label."""
    labels = {"kubernetes.io/hostname": name, "rack": rack or CLUSTER_RACKS.get(name, "r0")}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}


def cluster_classes() -> list[dict[str, Any]]:
    """The DeviceClasses every generated cluster has."""
    return [
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "DeviceClass",
            "metadata": {"name": "gpu"},
            "spec": {
                "selectors": [{"cel": {"expression": f'device.driver == "{CLUSTER_DRIVER}"'}}]
            },
        },
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "DeviceClass",
            "metadata": {"name": "gpu-a"},
            "spec": {
                "selectors": [
                    {"cel": {"expression": f'device.attributes["{CLUSTER_DRIVER}"].model == "A"'}}
                ]
            },
        },
    ]


@st.composite
def _cluster_device(draw: st.DrawFn, name: str, counters: bool) -> dict[str, Any]:
    dev: dict[str, Any] = {
        "name": name,
        "attributes": {
            "model": {"string": draw(st.sampled_from("AB"))},
            "root": {"int": draw(st.integers(0, 1))},
        },
    }
    kind = draw(st.sampled_from(["plain", "plain", "plain", "shared", "counters"]))
    if kind == "shared":
        dev["allowMultipleAllocations"] = True
        dev["capacity"] = {
            "bw": {
                "value": str(draw(st.integers(2, 4))),
                "requestPolicy": {"default": "1", "validRange": {"min": "1", "step": "1"}},
            }
        }
    elif kind == "counters" and counters:
        dev["consumesCounters"] = [
            {"counterSet": "cs", "counters": {"mem": {"value": str(draw(st.integers(1, 3)))}}}
        ]
    if draw(st.integers(0, 6)) == 0:
        dev["taints"] = [{"key": "k", "value": "v", "effect": "NoSchedule"}]
    return dev


@st.composite
def cluster_slices(draw: st.DrawFn, tag: str) -> list[dict[str, Any]]:
    """The slices of one pool: node-local (maybe with counters), rack-wide or cluster-wide.

    ``tag`` makes names unique; the generation is drawn, so that a later pool with the same
    tag replaces an older one (or is replaced).
    """
    where = draw(st.sampled_from(["node", "node", "node", "rack", "all"]))
    generation = draw(st.integers(1, 3))
    spec: dict[str, Any] = {"driver": CLUSTER_DRIVER}
    if where == "node":
        node = draw(st.sampled_from(CLUSTER_NODES))
        pool = draw(st.sampled_from([node, f"{node}-extra"]))
        spec["nodeName"] = node
    elif where == "rack":
        rack = draw(st.sampled_from(["r0", "r1"]))
        pool = f"rack-{rack}"
        spec["nodeSelector"] = {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "rack", "operator": "In", "values": [rack]}]}
            ]
        }
    else:
        pool = "cluster"
        spec["allNodes"] = True
    counters = where == "node" and draw(st.booleans())
    # "incomplete": one slice of two; "duplicate": a second slice repeats a device name,
    # which makes the pool invalid.
    extra = "none" if counters else draw(st.sampled_from(["none"] * 6 + ["incomplete", "dup"]))
    count = 1 if extra == "none" and not counters else 2
    devices = [draw(_cluster_device(f"d{i}", counters)) for i in range(draw(st.integers(1, 3)))]
    pool_doc = {"name": pool, "generation": generation, "resourceSliceCount": count}
    out = [
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceSlice",
            "metadata": {"name": f"{pool}-{tag}"},
            "spec": {**spec, "pool": pool_doc, "devices": devices},
        }
    ]
    if extra == "dup":
        out.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceSlice",
                "metadata": {"name": f"{pool}-{tag}-dup"},
                "spec": {**spec, "pool": pool_doc, "devices": [copy.deepcopy(devices[0])]},
            }
        )
    if counters:
        out.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceSlice",
                "metadata": {"name": f"{pool}-{tag}-counters"},
                "spec": {
                    **spec,
                    "pool": pool_doc,
                    "sharedCounters": [
                        {"name": "cs", "counters": {"mem": {"value": str(draw(st.integers(2, 4)))}}}
                    ],
                },
            }
        )
    return out


_ROOT_1 = [{"cel": {"expression": f'device.attributes["{CLUSTER_DRIVER}"].root == 1'}}]
_MODEL_B = [{"cel": {"expression": f'device.attributes["{CLUSTER_DRIVER}"].model == "B"'}}]
_CLUSTER_REQUESTS: list[dict[str, Any]] = [
    {"name": "r", "exactly": {"deviceClassName": "gpu"}},
    {"name": "r", "exactly": {"deviceClassName": "gpu", "count": 2}},
    {"name": "r", "exactly": {"deviceClassName": "gpu-a"}},
    {
        "name": "r",
        "exactly": {
            "deviceClassName": "gpu",
            "selectors": _ROOT_1,
        },
    },
    {
        "name": "r",
        "exactly": {
            "deviceClassName": "gpu",
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
        },
    },
    {
        "name": "r",
        "exactly": {
            "deviceClassName": "gpu",
            "allocationMode": "All",
            "selectors": _MODEL_B,
        },
    },
    {
        "name": "r",
        "firstAvailable": [
            {"name": "two-b", "deviceClassName": "gpu", "count": 2, "selectors": _MODEL_B},
            {"name": "one", "deviceClassName": "gpu"},
        ],
    },
]


@st.composite
def cluster_claim_specs(draw: st.DrawFn) -> dict[str, Any]:
    """The spec of one claim: one or two requests, maybe joined by matchAttribute."""
    # One device of the class half of the time: the request that tells nodes apart by
    # what is in use.
    first = copy.deepcopy(draw(st.sampled_from([_CLUSTER_REQUESTS[0]] * 6 + _CLUSTER_REQUESTS[1:])))
    requests = [first]
    constraints: list[dict[str, Any]] = []
    if draw(st.integers(0, 3)) == 0:
        second = copy.deepcopy(_CLUSTER_REQUESTS[0])
        second["name"] = "s"
        requests.append(second)
        if draw(st.booleans()):
            constraints.append({"requests": ["r", "s"], "matchAttribute": f"{CLUSTER_DRIVER}/root"})
    devices: dict[str, Any] = {"requests": requests}
    if constraints:
        devices["constraints"] = constraints
    return {"devices": devices}


def cluster_claim(name: str, spec: dict[str, Any], namespace: str = "default") -> dict[str, Any]:
    """A ResourceClaim with that spec."""
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": copy.deepcopy(spec),
    }


def cluster_taint_rule(name: str, pool: str | None) -> dict[str, Any]:
    """A DeviceTaintRule tainting a pool's devices (or the driver's) NoSchedule."""
    selector: dict[str, Any] = {"driver": CLUSTER_DRIVER}
    if pool is not None:
        selector["pool"] = pool
    return {
        "apiVersion": "resource.k8s.io/v1beta2",
        "kind": "DeviceTaintRule",
        "metadata": {"name": name},
        "spec": {
            "deviceSelector": selector,
            "taint": {"key": "k", "value": "rule", "effect": "NoSchedule"},
        },
    }


def malformed_documents(
    objects_by_kind: Mapping[str, Sequence[dict[str, Any]]],
) -> st.SearchStrategy[dict[str, Any]]:
    """One of the objects, by kind, malformed (:func:`malformed`; the top stays a mapping).

    The kind is drawn first, so that every kind is tried as often, however many objects each
    has.
    """
    kinds = sorted(k for k, docs in objects_by_kind.items() if docs)
    return (
        st.sampled_from(kinds)
        .flatmap(lambda kind: st.sampled_from(list(objects_by_kind[kind])))
        .flatmap(malformed)
    )


@st.composite
def malformed_cases(draw: st.DrawFn, cases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Keyword arguments for ``dra_core.allocate`` from a conformance case, one part malformed.

    The part is the node, one slice, class, claim or allocated claim, or the features.
    """
    case = draw(st.sampled_from(list(cases)))
    inputs: dict[str, Any] = {
        "node": case.get("node"),
        "slices": case.get("slices") or [],
        "classes": case.get("classes") or [],
        "claims": case.get("claims") or [],
        "allocated_claims": case.get("allocatedClaims") or [],
        "features": case.get("features") or {},
    }
    targets: list[tuple[str, int | None]] = [("features", None)]
    if inputs["node"] is not None:
        targets.append(("node", None))
    for key in ("slices", "classes", "claims", "allocated_claims"):
        targets.extend((key, i) for i in range(len(inputs[key])))
    key, index = draw(st.sampled_from(targets))
    if index is None:
        inputs[key] = draw(malformed(inputs[key]))
    else:
        items = list(inputs[key])
        items[index] = draw(malformed(items[index]))
        inputs[key] = items
    return inputs


# --- gangs: small clusters of node-local GPUs and gangs of pods (tests/gang) -----------------

GANG_DRIVER = "gpu.example.com"
_GANG_SIZE = f'device.attributes["{GANG_DRIVER}"].size'


def gang_class() -> dict[str, Any]:
    """The one DeviceClass of generated gang clusters: every device of the driver."""
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": "gpu"},
        "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{GANG_DRIVER}"'}}]},
    }


def _gang_device(name: str, size: str, clique: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "attributes": {"size": {"string": size}, "clique": {"string": clique}},
        **extra,
    }


@st.composite
def gang_node_objects(draw: st.DrawFn, node: str) -> list[dict[str, Any]]:
    """A node with a rack label and its node-local pool, maybe with devices in use.

    The pool holds whole GPUs (attribute ``size: whole``), a GPU that is one whole or two
    halves through a shared counter (kubernetes/kubernetes#138765), and a shareable device
    with consumable capacity ``bw`` (``size: shared``); ``clique`` is ``a`` or ``b``.
    """
    rack = draw(st.sampled_from(["r0", "r1"]))
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": node, "labels": {"rack": rack}},
        }
    ]
    devices: list[dict[str, Any]] = []
    for i in range(draw(st.integers(0, 3))):
        devices.append(_gang_device(f"gpu-{i}", "whole", draw(st.sampled_from("ab"))))
    partitioned = draw(st.booleans())
    if partitioned:
        clique = draw(st.sampled_from("ab"))

        def consumes(n: int) -> list[dict[str, Any]]:
            return [{"counterSet": "part", "counters": {"widgets": {"value": str(n)}}}]

        devices.append(_gang_device("part-whole", "whole", clique, consumesCounters=consumes(2)))
        devices.append(_gang_device("part-half-0", "half", clique, consumesCounters=consumes(1)))
        devices.append(_gang_device("part-half-1", "half", clique, consumesCounters=consumes(1)))
    if draw(st.booleans()):
        devices.append(
            _gang_device(
                "shared",
                "shared",
                draw(st.sampled_from("ab")),
                allowMultipleAllocations=True,
                capacity={
                    "bw": {
                        "value": str(draw(st.integers(2, 4))),
                        "requestPolicy": {"default": "1", "validRange": {"min": "1", "step": "1"}},
                    }
                },
            )
        )
    if not devices:
        devices.append(_gang_device("gpu-0", "whole", "a"))
    pool = {"name": node, "generation": 1, "resourceSliceCount": 2 if partitioned else 1}
    spec = {"driver": GANG_DRIVER, "nodeName": node, "pool": pool}
    objects.append(
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceSlice",
            "metadata": {"name": f"{node}-devices"},
            "spec": {**spec, "devices": devices},
        }
    )
    if partitioned:
        objects.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceSlice",
                "metadata": {"name": f"{node}-counters"},
                "spec": {
                    **spec,
                    "sharedCounters": [{"name": "part", "counters": {"widgets": {"value": "2"}}}],
                },
            }
        )
    # Devices in use: whole GPUs or one half of the partitioned GPU.
    busy = [d["name"] for d in devices if d["name"].startswith(("gpu-", "part-half"))]
    for name in draw(st.lists(st.sampled_from(busy), unique=True, max_size=2)) if busy else []:
        objects.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceClaim",
                "metadata": {"name": f"in-use-{node}-{name}", "namespace": "default"},
                "spec": {
                    "devices": {"requests": [{"name": "r", "exactly": {"deviceClassName": "gpu"}}]}
                },
                "status": {
                    "allocation": {
                        "devices": {
                            "results": [
                                {
                                    "request": "r",
                                    "driver": GANG_DRIVER,
                                    "pool": node,
                                    "device": name,
                                }
                            ]
                        }
                    }
                },
            }
        )
    return objects


def _gang_selector(size: str) -> list[dict[str, Any]]:
    return [{"cel": {"expression": f'{_GANG_SIZE} == "{size}"'}}]


_GANG_CLAIM_SPECS: list[dict[str, Any]] = [
    # one whole GPU
    {
        "requests": [
            {
                "name": "gpu",
                "exactly": {
                    "deviceClassName": "gpu",
                    "count": 1,
                    "selectors": _gang_selector("whole"),
                },
            }
        ]
    },
    # kubernetes/kubernetes#138765: a whole GPU, or else half of one
    {
        "requests": [
            {
                "name": "gpu",
                "firstAvailable": [
                    {
                        "name": "whole",
                        "deviceClassName": "gpu",
                        "selectors": _gang_selector("whole"),
                    },
                    {"name": "half", "deviceClassName": "gpu", "selectors": _gang_selector("half")},
                ],
            }
        ]
    },
    # two whole GPUs of one clique
    {
        "requests": [
            {
                "name": "gpu",
                "exactly": {
                    "deviceClassName": "gpu",
                    "count": 2,
                    "selectors": _gang_selector("whole"),
                },
            }
        ],
        "constraints": [{"matchAttribute": f"{GANG_DRIVER}/clique"}],
    },
    # a share of the shared device
    {
        "requests": [
            {
                "name": "share",
                "exactly": {
                    "deviceClassName": "gpu",
                    "selectors": _gang_selector("shared"),
                    "capacity": {"requests": {"bw": "2"}},
                },
            }
        ]
    },
    # half a GPU
    {
        "requests": [
            {
                "name": "gpu",
                "exactly": {"deviceClassName": "gpu", "selectors": _gang_selector("half")},
            }
        ]
    },
]


@st.composite
def gang_members(draw: st.DrawFn, *, most: int = 3) -> list[list[dict[str, Any]]]:
    """A gang: 1 to ``most`` members, each with one claim (sometimes two) of a few shapes."""
    members: list[list[dict[str, Any]]] = []
    sizes = [n for n in (1, 2, 2, 3, 3, 4) if n <= most] or [most]
    for m in range(draw(st.sampled_from(sizes))):
        claims = []
        for c in range(draw(st.sampled_from([1, 1, 1, 2]))):
            spec = copy.deepcopy(draw(st.sampled_from(_GANG_CLAIM_SPECS)))
            claims.append(
                {
                    "apiVersion": "resource.k8s.io/v1",
                    "kind": "ResourceClaim",
                    "metadata": {"name": f"pod-{m}-claim-{c}", "namespace": "default"},
                    "spec": {"devices": spec},
                }
            )
        members.append(claims)
    return members


@st.composite
def gang_shared_pool(draw: st.DrawFn, scope: str) -> list[dict[str, Any]]:
    """A pool that several nodes see: every node (scope ``all``) or one rack's nodes.

    Its devices are those of :func:`gang_node_objects` (whole GPUs, sometimes a GPU
    partitioned through shared counters, sometimes a shareable device), sometimes one
    of them in use.
    """
    name = f"fabric-{scope}"
    if scope == "all":
        where: dict[str, Any] = {"allNodes": True}
    else:
        where = {
            "nodeSelector": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "rack", "operator": "In", "values": [scope]}]}
                ]
            }
        }
    devices: list[dict[str, Any]] = []
    for i in range(draw(st.integers(0, 2))):
        devices.append(_gang_device(f"{name}-gpu-{i}", "whole", draw(st.sampled_from("ab"))))
    partitioned = draw(st.booleans())
    if partitioned:
        clique = draw(st.sampled_from("ab"))

        def consumes(n: int) -> list[dict[str, Any]]:
            return [{"counterSet": "part", "counters": {"widgets": {"value": str(n)}}}]

        devices.append(_gang_device(f"{name}-whole", "whole", clique, consumesCounters=consumes(2)))
        for h in range(2):
            devices.append(
                _gang_device(f"{name}-half-{h}", "half", clique, consumesCounters=consumes(1))
            )
    if draw(st.booleans()):
        devices.append(
            _gang_device(
                f"{name}-shared",
                "shared",
                draw(st.sampled_from("ab")),
                allowMultipleAllocations=True,
                capacity={
                    "bw": {
                        "value": str(draw(st.integers(2, 4))),
                        "requestPolicy": {"default": "1", "validRange": {"min": "1", "step": "1"}},
                    }
                },
            )
        )
    if not devices:
        devices.append(_gang_device(f"{name}-gpu-0", "whole", "a"))
    pool = {"name": name, "generation": 1, "resourceSliceCount": 2 if partitioned else 1}
    spec = {"driver": GANG_DRIVER, **where, "pool": pool}
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceSlice",
            "metadata": {"name": f"{name}-devices"},
            "spec": {**spec, "devices": devices},
        }
    ]
    if partitioned:
        objects.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceSlice",
                "metadata": {"name": f"{name}-counters"},
                "spec": {
                    **spec,
                    "sharedCounters": [{"name": "part", "counters": {"widgets": {"value": "2"}}}],
                },
            }
        )
    busy = [d["name"] for d in devices if "-gpu-" in d["name"] or "-half-" in d["name"]]
    if busy and draw(st.booleans()):
        device = draw(st.sampled_from(busy))
        objects.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceClaim",
                "metadata": {"name": f"in-use-{device}", "namespace": "default"},
                "spec": {
                    "devices": {"requests": [{"name": "r", "exactly": {"deviceClassName": "gpu"}}]}
                },
                "status": {
                    "allocation": {
                        "devices": {
                            "results": [
                                {
                                    "request": "r",
                                    "driver": GANG_DRIVER,
                                    "pool": name,
                                    "device": device,
                                }
                            ]
                        }
                    }
                },
            }
        )
    return objects


@st.composite
def gang_members_sharing(draw: st.DrawFn, *, most: int = 3) -> list[list[dict[str, Any]]]:
    """A gang of :func:`gang_members`, where some members may also share one claim.

    The shared claim (``group-claim``, as a pod group's claim of KEP-5729) is one of
    the same shapes; the members that name it are drawn (at least two).
    """
    members = draw(gang_members(most=most))
    if len(members) >= 2 and draw(st.booleans()):
        spec = copy.deepcopy(draw(st.sampled_from(_GANG_CLAIM_SPECS)))
        claim = {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceClaim",
            "metadata": {"name": "group-claim", "namespace": "default"},
            "spec": {"devices": spec},
        }
        who = draw(
            st.lists(st.sampled_from(range(len(members))), min_size=2, unique=True).map(sorted)
        )
        for m in who:
            members[m] = [copy.deepcopy(claim), *members[m]]
    return members


# --- capacity: clusters whose nodes often look alike (tests/capacity) --------------------------


@st.composite
def capacity_clusters(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Nodes, classes and slices of a small cluster where many nodes look alike.

    Each node gets a node-local pool from one of a few drawn layouts (devices as in
    :func:`cluster_slices`: plain, shareable with consumable capacity, consuming shared
    counters, sometimes tainted), so that nodes fall into equivalence classes; sometimes
    there are also pools of :func:`cluster_slices` (rack-wide, cluster-wide, incomplete,
    invalid, node-local to node-0..3), which tie nodes together.
    """
    count = draw(st.integers(2, 7))
    names = [f"node-{i}" for i in range(count)]
    objects: list[dict[str, Any]] = [cluster_node(n, f"r{i % 2}") for i, n in enumerate(names)]
    objects.extend(cluster_classes())
    layouts: list[tuple[list[dict[str, Any]], int | None]] = []
    for _ in range(draw(st.integers(1, 3))):
        counters = draw(st.booleans())
        devices = [draw(_cluster_device(f"d{j}", counters)) for j in range(draw(st.integers(1, 4)))]
        layouts.append((devices, draw(st.integers(2, 4)) if counters else None))
    for node in names:
        devices, counter_value = draw(st.sampled_from(layouts))
        pool = {"name": f"{node}-gpus", "generation": 1, "resourceSliceCount": 1}
        if counter_value is not None:
            pool["resourceSliceCount"] = 2
            objects.append(
                {
                    "apiVersion": "resource.k8s.io/v1",
                    "kind": "ResourceSlice",
                    "metadata": {"name": f"{node}-counters"},
                    "spec": {
                        "driver": CLUSTER_DRIVER,
                        "nodeName": node,
                        "pool": pool,
                        "sharedCounters": [
                            {"name": "cs", "counters": {"mem": {"value": str(counter_value)}}}
                        ],
                    },
                }
            )
        objects.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceSlice",
                "metadata": {"name": f"{node}-gpus"},
                "spec": {
                    "driver": CLUSTER_DRIVER,
                    "nodeName": node,
                    "pool": pool,
                    "devices": copy.deepcopy(devices),
                },
            }
        )
    for i in range(draw(st.integers(0, 2)) if draw(st.integers(0, 2)) == 0 else 0):
        objects.extend(draw(cluster_slices(f"x{i}")))
    return objects


# --- simulator: small clusters and sequences of pod events (tests/sim) ----------------------

SIM_DRIVER = "gpu.sim.example.com"


def sim_cluster_objects(gpus_per_node: Sequence[int]) -> list[dict[str, Any]]:
    """Nodes ``n0..`` with node-local GPUs, the class, a template and a shared claim."""
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "DeviceClass",
            "metadata": {"name": "gpu"},
            "spec": {"selectors": [{"cel": {"expression": f"device.driver == '{SIM_DRIVER}'"}}]},
        },
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceClaimTemplate",
            "metadata": {"name": "one-gpu", "namespace": "default"},
            "spec": {
                "spec": {
                    "devices": {
                        "requests": [{"name": "gpu", "exactly": {"deviceClassName": "gpu"}}]
                    }
                }
            },
        },
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceClaim",
            "metadata": {"name": "shared", "namespace": "default"},
            "spec": {
                "devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "gpu"}}]}
            },
        },
    ]
    for i, count in enumerate(gpus_per_node):
        objects.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"n{i}"}})
        objects.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceSlice",
                "metadata": {"name": f"n{i}-gpus"},
                "spec": {
                    "driver": SIM_DRIVER,
                    "nodeName": f"n{i}",
                    "pool": {"name": f"n{i}", "generation": 1, "resourceSliceCount": 1},
                    "devices": [{"name": f"gpu-{g}"} for g in range(count)],
                },
            }
        )
    return objects


def sim_pod(name: str, claims: Sequence[str], run_time: int | None) -> dict[str, Any]:
    """A pod with template claims (``"template"``) and/or the shared claim (``"shared"``)."""
    resource_claims = []
    for i, kind in enumerate(claims):
        if kind == "shared":
            resource_claims.append({"name": f"c{i}", "resourceClaimName": "shared"})
        else:
            resource_claims.append({"name": f"c{i}", "resourceClaimTemplateName": "one-gpu"})
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if run_time is not None:
        meta["annotations"] = {"sim.dra-core.io/run-time": f"{run_time}s"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "containers": [
                {
                    "name": "ctr",
                    "resources": {"claims": [{"name": rc["name"]} for rc in resource_claims]},
                }
            ],
            "resourceClaims": resource_claims,
        },
    }


@st.composite
def sim_histories(draw: st.DrawFn) -> tuple[list[int], list[tuple[str, Any]]]:
    """GPUs per node and a sequence of ("create", pod), ("delete", index), ("wait", seconds)."""
    gpus = draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))
    steps: list[tuple[str, Any]] = []
    for i in range(draw(st.integers(1, 12))):
        choice = draw(st.sampled_from(["create", "create", "create", "delete", "wait"]))
        if choice == "create":
            claims = draw(st.lists(st.sampled_from(["template", "shared"]), min_size=0, max_size=2))
            run_time = draw(st.one_of(st.none(), st.integers(1, 30)))
            steps.append(("create", sim_pod(f"p{i}", claims, run_time)))
        elif choice == "delete":
            steps.append(("delete", draw(st.integers(0, 20))))
        else:
            steps.append(("wait", draw(st.integers(1, 40))))
    return gpus, steps
