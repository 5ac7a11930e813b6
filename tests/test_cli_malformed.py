"""``dra-core validate`` and ``dra-core allocate`` on malformed files: never a traceback.

The files hold the conformance objects and cases of tests/data with arbitrary JSON values put
anywhere in them (the strategies of ``tests/api/test_malformed.py``). Every run must end with
an exit status, 0, 1 or 2, and print no traceback; an exception escaping ``main`` fails.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from conftest import conformance_cases, objects_by_kind
from dra_core.cli import main
from strategies import malformed_cases, malformed_documents

NAMED_BY_A_LIST = {
    "apiVersion": "resource.k8s.io/v1",
    "kind": "DeviceClass",
    "metadata": {"name": [1]},
}
any_malformed_document = st.deferred(lambda: malformed_documents(objects_by_kind()))
any_malformed_case = st.deferred(lambda: malformed_cases(conformance_cases()))


def _run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue() + err.getvalue()


def _write(folder: str, name: str, text: str) -> str:
    path = Path(folder) / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _texts(value: Any) -> dict[str, str]:
    texts = {}
    for suffix, write in ((".json", json.dumps), (".yaml", yaml.safe_dump)):
        try:
            texts[suffix] = write(value)
        except ValueError:  # an integer with more digits than Python converts to text
            continue
    return texts


@settings(max_examples=100)
@given(any_malformed_document)
@example(NAMED_BY_A_LIST)
def test_validate_never_prints_a_traceback(doc: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for suffix, text in _texts(doc).items():
            path = _write(folder, f"object{suffix}", text)
            status, printed = _run("validate", path)
            assert status in (0, 2)
            assert "Traceback" not in printed
            assert Path(path).read_text(encoding="utf-8") == text


@settings(max_examples=100)
@given(any_malformed_case)
def test_allocate_never_prints_a_traceback(inputs: dict[str, Any]) -> None:
    case = {
        "node": inputs["node"],
        "slices": inputs["slices"],
        "classes": inputs["classes"],
        "claims": inputs["claims"],
        "allocatedClaims": inputs["allocated_claims"],
        "features": inputs["features"],
    }
    with tempfile.TemporaryDirectory() as folder:
        for suffix, text in _texts(case).items():
            path = _write(folder, f"case{suffix}", text)
            for output in ("yaml", "json"):
                status, printed = _run("allocate", path, "-o", output, "--engine", "search")
                assert status in (0, 1, 2)
                assert "Traceback" not in printed


DEEP = "[" * 5_000 + "]" * 5_000
NODE = '{"apiVersion": "v1", "kind": "Node", "metadata": '
HOSTILE_FILES = {
    "not-utf8.yaml": b"\xff\xfe\x00kind: Node\n",
    "deep-object.json": (NODE + '{"labels": ' + DEEP + "}}").encode(),
    "deep-case.json": ('{"node": {"metadata": {"name": "n"}}, "claims": ' + DEEP + "}").encode(),
    "long-number.json": (NODE + '{"name": ' + "9" * 5_000 + "}}").encode(),
    "long-number.yaml": b"apiVersion: v1\nkind: Node\nmetadata:\n  name: " + b"9" * 5_000 + b"\n",
}


def test_hostile_files_give_exit_2_without_traceback() -> None:
    with tempfile.TemporaryDirectory() as folder:
        for name, content in HOSTILE_FILES.items():
            path = Path(folder) / name
            path.write_bytes(content)
            for command in ("validate", "allocate"):
                status, printed = _run(command, str(path))
                assert "Traceback" not in printed
                # a 5000-digit plain scalar is a string to go-yaml v2, so a valid name
                valid = command == "validate" and name == "long-number.yaml"
                assert status == (0 if valid else 2), (command, name, printed)
