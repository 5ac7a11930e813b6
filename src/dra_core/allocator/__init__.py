"""The allocator: the problem for one node, engines, results and the facade.

- :mod:`~dra_core.allocator.problem`: the engine-independent problem.
- :mod:`~dra_core.allocator.search`: the backtracking search in Kubernetes order.
- :mod:`~dra_core.allocator.engines`: the registry of engines by name.
- :mod:`~dra_core.allocator.results`: solutions to ``AllocationResult`` objects.
- :mod:`~dra_core.allocator.core`: :class:`Allocator` and :func:`allocate`.
"""

from dra_core.allocator.core import Allocator, allocate
from dra_core.allocator.engines import engine_names, get_engine, register_engine
from dra_core.allocator.search import SearchBudgetExceeded

__all__ = [
    "Allocator",
    "SearchBudgetExceeded",
    "allocate",
    "engine_names",
    "get_engine",
    "register_engine",
]
