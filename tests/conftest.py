"""Shared test set-up: where the test data lives, and the Hypothesis profiles.

Test data
    ``tests/data`` holds copies of Kubernetes' own case tables and of real manifests written
    by others (origins and licences in ``tests/data/README.md``), so the suite passes from a
    fresh clone. ``DRA_CORE_TEST_DATA`` points the tests at another copy. Missing data is a
    test *failure*, never a skip: a suite that silently skips its ground truth proves nothing.

Hypothesis profiles
    ``ci`` (the default): derandomized, so every run tries the same examples and a failure
    reproduces on any machine; bounded examples and shrinking, no per-example deadline (the
    machine's speed must not decide the outcome).
    ``explore``: many more examples from a random seed, for hunting new failures on demand::

        HYPOTHESIS_PROFILE=explore pytest tests/api

    A failure found while exploring becomes an explicit ``@example`` on the property, so that
    ``ci`` checks it from then on. Tests that set ``max_examples`` themselves keep it under
    ``ci``; see ``docs/contributing.md``.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, settings

# --- test data -----------------------------------------------------------------------------

DATA = Path(os.environ.get("DRA_CORE_TEST_DATA", Path(__file__).resolve().parent / "data"))


def _missing(path: Path) -> str:
    return (
        f"test data missing: {path} (tests/data is part of the repository; "
        "DRA_CORE_TEST_DATA, when set, must point at a complete copy)"
    )


def data_path(*parts: str) -> Path:
    """A path under the test data folder; fails the test when it does not exist."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(_missing(path), pytrace=False)
    return path


def data_files(*parts: str, pattern: str = "*.json") -> list[Path]:
    """The files of a data folder matching ``pattern``, sorted, for parametrising tests.

    A missing or empty folder gives one placeholder path that does not exist, so the test
    that reads it through :func:`data_path` fails instead of being parametrised with nothing
    (which pytest would report as a skip).
    """
    folder = DATA.joinpath(*parts)
    files = sorted(p for p in folder.glob(pattern) if p.is_file()) if folder.is_dir() else []
    return files or [folder / f"<no {pattern} files>"]


def data_relative(path: Path) -> tuple[str, ...]:
    """The parts of ``path`` below the data folder (for :func:`data_path`)."""
    return path.relative_to(DATA).parts


# Kinds that dra_core.load turns into models, and where the conformance cases keep them.
MODEL_KINDS = (
    "ResourceSlice",
    "DeviceClass",
    "ResourceClaim",
    "ResourceClaimTemplate",
    "DeviceTaintRule",
    "Node",
    "Pod",
)
_CASE_OBJECTS = (
    ("slices", "ResourceSlice"),
    ("classes", "DeviceClass"),
    ("claims", "ResourceClaim"),
    ("allocatedClaims", "ResourceClaim"),
)


@cache
def conformance_cases() -> list[dict[str, Any]]:
    """Every case of ``tests/data/conformance/cases``, parsed (shared: do not change them)."""
    return [
        json.loads(data_path(*data_relative(p)).read_text(encoding="utf-8"))
        for p in data_files("conformance", "cases")
    ]


@cache
def objects_by_kind() -> dict[str, list[dict[str, Any]]]:
    """Every distinct object of the conformance cases and the real manifests, by kind.

    Each has its ``apiVersion`` and ``kind``; the lists are shared: do not change them.
    """
    found: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in MODEL_KINDS}

    def add(doc: Any) -> None:
        if isinstance(doc, dict) and doc.get("kind") in found:
            found[doc["kind"]].setdefault(json.dumps(doc, sort_keys=True, default=str), doc)

    for case in conformance_cases():
        if case.get("node"):
            add({"apiVersion": "v1", "kind": "Node", **case["node"]})
        for key, kind in _CASE_OBJECTS:
            for obj in case.get(key) or []:
                add({"apiVersion": "resource.k8s.io/v1", "kind": kind, **obj})
    for path in sorted(data_path("realdata").rglob("*.yaml")):
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError:
            continue  # Helm and Go templates are not YAML
        for doc in docs:
            items = doc.get("items") if isinstance(doc, dict) else None
            for item in items if isinstance(items, list) else [doc]:
                add(item)
    return {kind: list(docs.values()) for kind, docs in found.items()}


# --- Hypothesis ----------------------------------------------------------------------------

# ci: the same examples on every run and machine (derandomize), a bounded number of them, a
# bounded shrink and no deadline: a slow machine must not turn a pass into a failure. The
# example database is off, so a run never depends on what an earlier run here happened to
# find; the explain phase is left out (it re-runs the failing example many times).
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=100,
    deadline=None,
    print_blob=True,
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# explore: random and wide, on demand (HYPOTHESIS_PROFILE=explore); failures it finds become
# explicit @example regressions.
settings.register_profile(
    "explore",
    derandomize=False,
    max_examples=2_000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

if PROFILE == "ci":
    # Shrinking is bounded by at most 500 successful shrinks and, by default, 300 s of
    # shrinking per failure, which a CI run must not spend. Hypothesis has no public setting
    # for the time, so lower its module constant (read at the start of every shrink) when it
    # exists; without it the 500-shrink bound still holds.
    from hypothesis.internal.conjecture import engine as _engine

    if hasattr(_engine, "MAX_SHRINKING_SECONDS"):
        _engine.MAX_SHRINKING_SECONDS = 30
