"""Explanations: per-request device accounting, minimal conflicting sets, the CLI."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from builders import (
    DRIVER,
    allocated_claim,
    claim,
    device,
    device_class,
    node,
    request,
    slice_with_devices,
)
from dra_core.allocator.explain import Explanation, explain
from dra_core.cli import main
from dra_core.errors import CELRuntimeError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import shapes


def run(case: dict[str, Any]) -> Explanation:
    pristine = copy.deepcopy(case)
    out = explain(
        node=case["node"],
        claims=case["claims"],
        slices=case["slices"],
        classes=case["classes"],
        allocated_claims=case.get("allocatedClaims", []),
        features=case.get("features"),
    )
    assert case == pristine, "explaining changed its inputs"
    return out


def test_every_reason_a_device_is_lost_is_counted() -> None:
    tainted = device("tainted", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}])
    counted = device(
        "hungry",
        consumesCounters=[{"counterSet": "cs", "counters": {"mem": {"value": "8"}}}],
    )
    case = {
        "node": node(),
        "slices": [
            slice_with_devices(
                "local", device("free"), device("busy"), tainted, counted, slice_count=2
            ),
            slice_with_devices(
                "local-counters",
                slice_count=2,
                sharedCounters=[{"name": "cs", "counters": {"mem": {"value": "4"}}}],
            ),
            slice_with_devices("remote", device("far"), pool="pool-2", node_name="node-2"),
        ],
        "classes": [device_class()],
        "claims": [claim("c", request("r", count=2))],
        "allocatedClaims": [allocated_claim((DRIVER, "pool-1", "busy"))],
    }
    out = run(case)
    assert not out.fits
    (diag,) = out.requests
    assert (diag.claim, diag.request, diag.wanted) == ("default/c", "r", 2)
    assert diag.matched == 5
    assert diag.in_use == 1
    assert diag.tainted == 1
    assert diag.out_of_counters == 1
    assert diag.other_node == 1
    assert diag.candidates == 1
    assert not diag.enough
    # One request alone lacks devices: the conflict is that request.
    assert [c.kind for c in out.conflict] == ["request"]
    assert "1 candidate(s) left" in out.describe()


def test_selectors_narrow_what_matches() -> None:
    case = {
        "node": node(),
        "slices": [
            slice_with_devices(
                "s",
                device("a100", attributes={"model": "A100"}),
                device("h100", attributes={"model": "H100"}),
            )
        ],
        "classes": [device_class()],
        "claims": [
            claim("c", request("r", selectors=(f'device.attributes["{DRIVER}"].model == "H100"',)))
        ],
    }
    out = run(case)
    assert out.fits
    assert out.conflict == ()
    assert (out.requests[0].matched, out.requests[0].candidates) == (1, 1)


def test_conflict_names_the_constraint_and_the_requests() -> None:
    shape = shapes.match_groups(g=3, k=4, groups=3)
    out = run(shape.case)
    assert not out.fits
    assert out.minimal
    kinds = sorted(c.kind for c in out.conflict)
    assert kinds == ["match"] + ["request"] * 4
    assert all(d.candidates == 9 for d in out.requests)


def test_conflict_leaves_out_what_does_not_matter() -> None:
    # Two claims; only the second conflicts with itself (distinct over two equal
    # values). The first claim's request must not appear in the minimal set.
    case = {
        "node": node(),
        "slices": [
            slice_with_devices(
                "s",
                device("d0", attributes={"numa": 0}),
                device("d1", attributes={"numa": 0}),
                device("d2", attributes={"numa": 0}),
            )
        ],
        "classes": [device_class()],
        "claims": [
            claim("easy", request("r", count=1)),
            claim(
                "hard",
                request("x", count=1),
                request("y", count=1),
                constraints=[{"distinctAttribute": f"{DRIVER}/numa"}],
            ),
        ],
    }
    out = run(case)
    assert not out.fits
    assert {(c.kind, c.claim, c.subject) for c in out.conflict} == {
        ("request", "default/hard", "x"),
        ("request", "default/hard", "y"),
        ("distinct", "default/hard", f"{DRIVER}/numa"),
    }


def test_counters_appear_in_the_conflict() -> None:
    # One GPU with 9 partitions; 8 devices are there, but its counters allow 7.
    case = shapes.mig_seven_of_eight(1).case
    case["claims"][0]["spec"]["devices"]["requests"][0]["exactly"]["count"] = 8
    out = run(case)
    assert not out.fits
    assert {c.kind for c in out.conflict} == {"request", "counters"}
    assert any(c.subject.endswith("/gpu-0") for c in out.conflict)


def test_shared_capacity_appears_in_the_conflict() -> None:
    shape = shapes.shared_capacity(devices=1, claims=3)
    out = run(shape.case)
    assert not out.fits
    assert {c.kind for c in out.conflict} == {"request", "capacity"}
    assert sum(c.kind == "request" for c in out.conflict) == 3


def test_cli_explains_and_sets_the_exit_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_fit = tmp_path / "no-fit.json"
    no_fit.write_text(json.dumps(shapes.first_available_limit(island=6, islands=3).case))
    fits = tmp_path / "fits.json"
    fits.write_text(json.dumps(shapes.mig_seven_of_eight(1).case))

    assert main(["explain", str(no_fit)]) == 1
    text = capsys.readouterr().out
    assert "do not fit" in text
    assert "matchAttribute gpu.example.com/island" in text

    assert main(["explain", str(fits), "-o", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["explanations"][0]["fits"] is True
    assert body["explanations"][0]["requests"][0]["candidates"] == 9

    assert main(["explain", str(tmp_path / "missing.yaml")]) == 2
    assert "error" in capsys.readouterr().err


def test_cli_rejects_files_without_claims(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "slices.json"
    case = shapes.mig_seven_of_eight(1).case
    path.write_text(json.dumps({**case, "claims": []}))
    assert main(["explain", str(path)]) == 2
    assert "no claims" in capsys.readouterr().err


def test_conflict_is_found_when_a_selector_fails_on_an_unreached_device() -> None:
    # d-err's selector fails (no "foo"); Kubernetes raises only if its walk gets there.
    case = {
        "node": node(),
        "slices": [slice_with_devices("s", device("d-ok", attributes={"foo": 1}), device("d-err"))],
        "classes": [device_class()],
        "claims": [
            claim(
                "c",
                request("r", count=1, selectors=(f'device.attributes["{DRIVER}"].foo == 1',)),
                request("x", count=1, selectors=(f'device.attributes["{DRIVER}"].foo == 1',)),
            )
        ],
    }
    # The search reaches d-err for x after r took d-ok: that is Kubernetes' error.
    with pytest.raises(CELRuntimeError):
        run(case)
    # Now a claim before it cannot be satisfied: the walk never gets to d-err, and
    # the explanation names that claim's request.
    case["claims"] = [
        claim("first", request("y", count=5)),
        claim(
            "c",
            request("r", count=1, selectors=(f'device.attributes["{DRIVER}"].foo == 1',)),
        ),
    ]
    out = run(case)
    assert not out.fits
    assert [c.kind for c in out.conflict] == ["request"]
    assert out.conflict[0].subject == "y"
