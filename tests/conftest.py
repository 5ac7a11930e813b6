"""Shared fixtures: where the shared ground-truth data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# ../shared beside the project checkout holds Kubernetes' own case tables and real
# manifests. DRA_CORE_SHARED overrides the location.
SHARED = Path(os.environ.get("DRA_CORE_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def shared_path(*parts: str) -> Path:
    """A path under the shared data folder; skips the test when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (set DRA_CORE_SHARED to its location)")
    return path
