"""A small registry of allocation engines, keyed by name.

An engine is a callable ``engine(problem, *, deadline, timeout, cancel, options)``
that returns a :class:`~dra_core.allocator.problem.Solution` or None ("does not
fit"). The search engine is registered as ``"search"``, and ``"auto"`` (the default:
the search within an effort budget, then CP-SAT) here too, so that the common case
never imports the CP-SAT modules. Other engines register themselves with
:func:`register_engine` when their module is imported; asking for a name that is not
registered yet imports ``dra_core.allocator.cpsat`` once (the home of ``"cpsat"``)
and looks again.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from dra_core.allocator.problem import Problem, Solution
from dra_core.allocator.search import SearchBudgetExceeded, search

__all__ = [
    "DEFAULT_AUTO_STEPS",
    "Engine",
    "auto_engine",
    "engine_names",
    "get_engine",
    "register_engine",
]

#: The search's effort budget in the ``auto`` engine before CP-SAT takes over.
DEFAULT_AUTO_STEPS = 200

# Modules that register more engines when imported.
_PLUGIN_MODULES = ("dra_core.allocator.cpsat",)


class Engine(Protocol):
    """What an engine looks like to the allocator."""

    def __call__(
        self,
        problem: Problem,
        *,
        deadline: float | None,
        timeout: float | None,
        cancel: Any,
        options: Mapping[str, Any] | None,
    ) -> Solution | None:
        """Solve ``problem``; None means "does not fit"."""
        ...


_ENGINES: dict[str, Engine] = {}
_plugins_loaded = False


def register_engine(name: str, engine: Engine | Callable[..., Solution | None]) -> None:
    """Make ``engine`` available as ``name`` (replacing any previous one)."""
    _ENGINES[name] = engine


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for module in _PLUGIN_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            continue


def get_engine(name: str) -> Engine:
    """Return the engine registered as ``name``.

    Raises:
        ValueError: no such engine; the message lists the known ones.

    """
    engine = _ENGINES.get(name)
    if engine is None:
        _load_plugins()
        engine = _ENGINES.get(name)
    if engine is None:
        known = ", ".join(engine_names())
        raise ValueError(f"unknown allocation engine {name!r}; known engines: {known}")
    return engine


def engine_names() -> list[str]:
    """Return the names of the registered engines, sorted."""
    return sorted(_ENGINES)


def _search_engine(
    problem: Problem,
    *,
    deadline: float | None = None,
    timeout: float | None = None,
    cancel: Any = None,
    options: Mapping[str, Any] | None = None,
) -> Solution | None:
    return search(problem, deadline=deadline, timeout=timeout, cancel=cancel, options=options)


register_engine("search", _search_engine)


def auto_engine(
    problem: Problem,
    *,
    deadline: float | None = None,
    timeout: float | None = None,
    cancel: Any = None,
    options: Mapping[str, Any] | None = None,
) -> Solution | None:
    """Run the ``"auto"`` engine: the search within an effort budget, then CP-SAT.

    ``options["max_steps"]`` sets the budget (default :data:`DEFAULT_AUTO_STEPS`). A
    scoring policy other than ``first-fit`` goes to CP-SAT directly.
    Both give the same answer where the search finishes, so the switch is invisible
    except in time. The CP-SAT modules (:mod:`dra_core.allocator.cpsat`) are imported
    only when the search gives up.
    """
    options = options or {}
    if str(options.get("policy", "first-fit")) != "first-fit":
        # Only CP-SAT scores; the search knows first fit alone.
        from dra_core.allocator.cpsat import cpsat_engine

        return cpsat_engine(
            problem, deadline=deadline, timeout=timeout, cancel=cancel, options=options
        )
    # The search goes first: it evaluates selectors lazily (only the devices it reaches),
    # which counting would not (it reads every candidate), and within its budget it is
    # the cheapest answer. Counting then settles what the search could not, before CP-SAT.
    steps = int(options.get("max_steps", DEFAULT_AUTO_STEPS))
    try:
        return search(problem, deadline=deadline, timeout=timeout, cancel=cancel, max_steps=steps)
    except SearchBudgetExceeded:
        pass
    from dra_core.allocator.cpsat import counting_says_no, cpsat_engine

    if counting_says_no(problem):
        return None  # the search would walk its whole tree to say the same
    return cpsat_engine(problem, deadline=deadline, timeout=timeout, cancel=cancel, options=options)


register_engine("auto", auto_engine)
