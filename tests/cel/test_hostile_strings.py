"""String conversions (int(), uint(), double()) on hostile texts: Go's answers, promptly."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from dra_core.cel._program import evaluate_value
from dra_core.cel._values import UInt
from dra_core.errors import CELRuntimeError


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('int("-' + "0" * 5000 + '12")', -12),  # leading zeros do not count
        ('uint("' + "0" * 5000 + '7")', UInt(7)),
        ('int("-9223372036854775808")', -(2**63)),
        ('uint("18446744073709551615")', UInt(2**64 - 1)),
        ('double("1.")', 1.0),
        ('double(".5e1")', 5.0),
    ],
)
def test_conversions(expression: str, expected: object) -> None:
    value = evaluate_value(expression)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        # int() of thousands of digits is Go's range error (not Python's ValueError).
        ('int("' + "1" * 5000 + '")', "value out of range"),
        ('uint("' + "1" * 5000 + '")', "invalid syntax"),
        ('int("9223372036854775808")', "value out of range"),
        # Go's strconv takes ASCII digits only, and ParseUint takes no sign.
        ('int("\u0663")', "invalid syntax"),
        ('uint("\u0663")', "invalid syntax"),
        ('double("\u0663.5")', "invalid syntax"),
        ('uint("+7")', "invalid syntax"),
    ],
)
def test_conversion_errors(expression: str, message: str) -> None:
    with pytest.raises(CELRuntimeError, match=message):
        evaluate_value(expression)


def test_long_texts_that_do_not_parse_return() -> None:
    # A backtracking syntax check takes quadratic time on these (hours for the double);
    # a subprocess with a generous timeout turns a hang into a failure.
    code = textwrap.dedent(
        """
        from dra_core.cel import CelDevice, compile_selector
        device = CelDevice(driver="d", attributes={"s": "1" * 200_000 + "x"})
        for expression in (
            'double(device.attributes["d"].s) > 0.0',
            'int(device.attributes["d"].s) > 0',
            'uint(device.attributes["d"].s) > 0u',
        ):
            try:
                compile_selector(expression).matches(device)
            except Exception as exc:
                print(type(exc).__name__, str(exc).endswith(": invalid syntax"))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["CELRuntimeError True"] * 3
