"""The Kubernetes DRA CEL environment: device selectors, compiled and fast.

::

    from dra_core.cel import CelDevice, compile_selector

    program = compile_selector('device.attributes["gpu.nvidia.com"].productName == "H100"')
    device = CelDevice(driver="gpu.nvidia.com", attributes={"productName": "H100"})
    program.matches(device)  # True

Selectors are parsed by a hand-written parser of cel-go's grammar (with its limits),
type-checked like Kubernetes does at compile time, compiled to Python closures, and
memoised per distinct value of the device inputs they read.
"""

from dra_core.cel._device import CelDevice
from dra_core.cel._program import (
    CEL_SELECTOR_EXPRESSION_MAX_LENGTH,
    DEFAULT_COST_LIMIT,
    SelectorProgram,
    clear_compile_cache,
    compile_selector,
)
from dra_core.cel._values import Semver

__all__ = [
    "CEL_SELECTOR_EXPRESSION_MAX_LENGTH",
    "DEFAULT_COST_LIMIT",
    "CelDevice",
    "SelectorProgram",
    "Semver",
    "clear_compile_cache",
    "compile_selector",
]
