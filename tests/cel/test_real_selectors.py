"""Every real selector (selectors.txt, realdata manifests) compiles, unless Kubernetes
rejects it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from conftest import DATA, data_path
from dra_core.cel import compile_selector
from dra_core.errors import CELCompileError

# Expressions that Kubernetes itself refuses to compile, and why.
REJECTED_BY_KUBERNETES = {
    "'device.capacity['google-tpu'].tpus == quantity(\"16\")":
        "a stray leading quote: the text is not CEL (KEP draft typo)",
    "?!": "compile_test.go's syntax-error case",
    "1": "compile_test.go's type-error case: a selector must evaluate to bool",
}


def _records(text: str) -> list[tuple[str, str]]:
    """(expression, note) pairs of selectors.txt; continuation lines are indented by 4."""
    records: list[tuple[str, str]] = []
    expression: str | None = None
    note = ""
    in_expr = False
    for line in text.split("\n"):
        if line.startswith("EXPR: "):
            if expression is not None:
                records.append((expression, note))
            expression, note, in_expr = line[len("EXPR: "):], "", True
        elif in_expr and line.startswith("    "):
            expression = f"{expression}\n{line[4:]}"
        elif line.startswith("NOTE: "):
            note, in_expr = line[len("NOTE: "):], False
        else:
            in_expr = False
    if expression is not None:
        records.append((expression, note))
    return records


def _selectors_txt() -> list[str]:
    path = DATA / "cel" / "selectors.txt"
    if not path.exists():
        return []
    return [e for e, _ in _records(path.read_text(encoding="utf-8"))]


def _cel_expressions(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        cel = node.get("cel")
        if isinstance(cel, dict) and isinstance(cel.get("expression"), str):
            yield cel["expression"]
        for value in node.values():
            yield from _cel_expressions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _cel_expressions(value)


def _manifest_expressions() -> list[str]:
    root = DATA / "realdata"
    if not root.exists():
        return []
    found: set[str] = set()
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        try:
            documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except (yaml.YAMLError, UnicodeDecodeError):
            continue  # Helm and Go templates are not YAML
        for document in documents:
            found.update(_cel_expressions(document))
    return sorted(found)


def _is_template(expression: str) -> bool:
    return "{{" in expression


# Template placeholders ('{{ .DriverVersion }}') are not CEL until rendered: left out.
SELECTORS = sorted(e for e in set(_selectors_txt()) if not _is_template(e))
MANIFESTS = [e for e in _manifest_expressions() if not _is_template(e)]


def test_sources_present() -> None:
    assert data_path("cel", "selectors.txt").exists()
    assert len(SELECTORS) > 100
    assert data_path("realdata").exists()
    assert len(MANIFESTS) > 20


def _check(expression: str) -> None:
    reason = REJECTED_BY_KUBERNETES.get(expression.strip())
    if reason is not None:
        with pytest.raises(CELCompileError):
            compile_selector(expression)
        return
    program = compile_selector(expression)
    assert program.expression == expression


# Without data the lists are empty, which pytest would report as a skip: one placeholder
# instead, which fails.
NO_DATA = "<no expressions: tests/data is missing>"


@pytest.mark.parametrize(
    "expression", SELECTORS or [NO_DATA], ids=[f"s{i}" for i in range(len(SELECTORS) or 1)]
)
def test_selectors_txt_compiles(expression: str) -> None:
    assert expression != NO_DATA, data_path("cel", "selectors.txt")
    _check(expression)


@pytest.mark.parametrize(
    "expression", MANIFESTS or [NO_DATA], ids=[f"m{i}" for i in range(len(MANIFESTS) or 1)]
)
def test_manifest_selector_compiles(expression: str) -> None:
    assert expression != NO_DATA, data_path("realdata")
    _check(expression)


def test_records_parser_keeps_multiline_expressions() -> None:
    text = "EXPR: a &&\n    b\nWHERE: x\nNOTE: n\n\nEXPR: c\n"
    assert _records(text) == [("a &&\nb", "n"), ("c", "")]


def _devices() -> list[Any]:
    from cel_helpers import device_from_json

    from dra_core.api.quantity import Quantity
    from dra_core.cel import CelDevice, Semver

    devices = [
        CelDevice(driver="gpu.nvidia.com", name="bare"),
        CelDevice(
            driver="gpu.nvidia.com",
            attributes={
                "type": "gpu", "productName": "NVIDIA A100-SXM4-80GB", "architecture": "Ampere",
                "index": 0, "driverVersion": Semver.parse("550.54.15"), "profile": "1g.5gb",
                "resource.kubernetes.io/pcieRoot": "pci0000:00",
            },
            capacity={"memory": Quantity.parse("80Gi"), "multiprocessors": Quantity.parse("98")},
            name="gpu",
        ),
    ]
    case_dir = DATA / "cel" / "cases"
    if case_dir.exists():
        import json

        for path in sorted(case_dir.glob("*.json"))[:20]:
            spec = json.loads(path.read_text(encoding="utf-8"))["slices"][0]["spec"]
            devices.append(device_from_json(spec["driver"], spec["devices"][0]))
    return devices


def test_real_selectors_evaluate_to_a_typed_outcome() -> None:
    from dra_core.errors import CELRuntimeError

    devices = _devices()
    evaluated = 0
    for expression in SELECTORS + MANIFESTS:
        try:
            program = compile_selector(expression)
        except CELCompileError:
            continue
        for result in program.matches_many(devices):
            if isinstance(result, CELRuntimeError):
                assert "internal error" not in str(result), (expression, str(result))
                # Ordinary selectors are far below Kubernetes' cost limit; only the
                # nested all() of compile_test.go's "expensive" case is meant to hit it.
                if "all(z5," not in expression:
                    assert "cost limit" not in str(result), expression
            else:
                assert isinstance(result, bool)
            evaluated += 1
    assert evaluated > 1000
