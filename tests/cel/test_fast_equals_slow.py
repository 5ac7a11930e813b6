"""The memoised path gives exactly what a plain per-device evaluation gives.

The slow path is :meth:`SelectorProgram.matches_uncached` (a straightforward evaluation of
the compiled closures on one device, no memo), and, for the subset cel-python supports,
cel-python's own interpreter.
"""

from __future__ import annotations

from typing import Any

import celpy
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dra_core.cel import CelDevice, compile_selector
from dra_core.cel._values import Semver
from dra_core.errors import CELCompileError, CELRuntimeError
from strategies import cel_devices, cel_selectors


def _outcome(call: Any, device: CelDevice) -> bool | str:
    try:
        return bool(call(device))
    except CELRuntimeError as exc:
        return str(exc)


@settings(max_examples=300, deadline=None)
@given(expression=cel_selectors(), devices=st.lists(cel_devices(), min_size=1, max_size=6))
def test_memoised_equals_plain(expression: str, devices: list[CelDevice]) -> None:
    try:
        program = compile_selector(expression)
    except CELCompileError:
        return  # statically rejected: no device is evaluated
    # Twice over the devices, so that the second round is served from the memo.
    for device in devices + devices:
        assert _outcome(program.matches, device) == _outcome(program.matches_uncached, device)
    batch = program.matches_many(devices)
    for device, result in zip(devices, batch, strict=True):
        expected = _outcome(program.matches_uncached, device)
        got = result if isinstance(result, bool) else str(result)
        assert got == expected


def _celpy_value(value: Any) -> Any:
    if isinstance(value, bool):
        return celpy.celtypes.BoolType(value)
    if isinstance(value, int):
        return celpy.celtypes.IntType(value)
    if isinstance(value, str):
        return celpy.celtypes.StringType(value)
    if isinstance(value, tuple):
        return celpy.celtypes.ListType([_celpy_value(v) for v in value])
    if isinstance(value, Semver):
        return celpy.celtypes.StringType(value.text)  # never compared in the subset
    return value


def _celpy_device(device: CelDevice) -> Any:
    attributes = celpy.celtypes.MapType(
        {
            celpy.celtypes.StringType(domain): celpy.celtypes.MapType(
                {celpy.celtypes.StringType(k): _celpy_value(v) for k, v in values.items()}
            )
            for domain, values in device.attribute_domains.items()
        }
    )
    return celpy.celtypes.MapType(
        {
            celpy.celtypes.StringType("driver"): celpy.celtypes.StringType(device.driver),
            celpy.celtypes.StringType("attributes"): attributes,
        }
    )


_ENV = celpy.Environment()


@settings(max_examples=150, deadline=None, derandomize=True)
@given(expression=cel_selectors(celpy_subset=True), device=cel_devices())
def test_agrees_with_celpy(expression: str, device: CelDevice) -> None:
    # Left out, where cel-python differs from cel-go rather than from us: semantic
    # versions (it has none; Kubernetes' type refuses to be compared with a string) and
    # booleans (its bool is an int, so false == 0 is true; in cel-go it is false).
    def plain(v: object) -> bool:
        return not isinstance(v, (Semver, bool))

    assume(all(
        all(plain(x) for x in v) if isinstance(v, tuple) else plain(v)
        for values in device.attribute_domains.values() for v in values.values()
    ))
    try:
        program = compile_selector(expression)
    except CELCompileError:
        return
    ours = _outcome(program.matches, device)
    try:
        theirs: bool | None = bool(
            _ENV.program(_ENV.compile(expression)).evaluate({"device": _celpy_device(device)})
        )
    except Exception:  # cel-python reports failures with several exception types
        theirs = None
    if isinstance(theirs, bool):
        # Where cel-python has an answer, it is ours too.
        assert ours == theirs, f"{expression} on {device.attribute_domains}"
    else:
        # cel-python fails where CEL does not: an unknown domain is an empty map in
        # Kubernetes, and equality across types is false in cel-go, not an error.
        assert isinstance(ours, (str, bool))
