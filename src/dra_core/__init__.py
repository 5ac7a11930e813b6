"""dra-core: Kubernetes Dynamic Resource Allocation as a pure-Python library.

This module is the public facade: it only re-exports. Everything else is private
until someone outside needs it.
"""

from dra_core.errors import (
    AllocationAborted,
    AllocationCancelled,
    AllocationInputError,
    AllocationTimeout,
    CELCompileError,
    CELError,
    CELRuntimeError,
    DraCoreError,
    InputError,
    ManifestError,
    QuantityError,
)
from dra_core.features import Features

__version__ = "0.1.0"

__all__ = [
    "AllocationAborted",
    "AllocationCancelled",
    "AllocationInputError",
    "AllocationTimeout",
    "CELCompileError",
    "CELError",
    "CELRuntimeError",
    "DraCoreError",
    "Features",
    "InputError",
    "ManifestError",
    "QuantityError",
    "__version__",
]
