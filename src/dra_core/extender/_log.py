"""The extender's logger, made when first used, so that ``import dra_core`` loads no logging."""

from __future__ import annotations

from typing import Any

__all__ = ["log"]


class _Log:
    """Forwards to ``logging.getLogger("dra_core.extender")``, imported on first use."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        import logging

        return getattr(logging.getLogger("dra_core.extender"), name)


log = _Log()
