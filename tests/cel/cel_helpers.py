"""Builders shared by the CEL tests: devices from case-file JSON."""

from __future__ import annotations

from typing import Any

from dra_core.api.quantity import Quantity
from dra_core.cel import CelDevice, Semver


def attribute_value(raw: dict[str, Any]) -> Any:
    """The CEL value of one JSON DeviceAttribute ({"int": 1}, {"versions": [...]}, ...)."""
    if "version" in raw:
        return Semver.parse(raw["version"])
    if "versions" in raw:
        return [Semver.parse(v) for v in raw["versions"]]
    for key in ("int", "bool", "string", "ints", "bools", "strings"):
        if key in raw:
            return raw[key]
    raise ValueError(f"no value in {raw}")


def device_from_json(driver: str, raw: dict[str, Any]) -> CelDevice:
    """A CelDevice from a ResourceSlice device in JSON form."""
    return CelDevice(
        driver=driver,
        attributes={k: attribute_value(v) for k, v in (raw.get("attributes") or {}).items()},
        capacity={k: Quantity.parse(v["value"]) for k, v in (raw.get("capacity") or {}).items()},
        allow_multiple_allocations=bool(raw.get("allowMultipleAllocations", False)),
        name=f"{driver}/{raw['name']}",
    )
