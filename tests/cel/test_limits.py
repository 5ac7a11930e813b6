"""cel-go's parser limits, the API's size limit, and deadlines while selectors compile.

The boundaries were checked against the real cel-go (Kubernetes v0.36.2): nesting of
parentheses, lists, maps, calls and ternaries is accepted up to 249 levels; operator,
selection and member-call chains up to 250 nested nodes; ``&&``/``||`` chains and
``!``/``-`` runs of any length.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import pytest

import dra_core
from builders import claim, device, device_class, node, request, slice_with_devices
from dra_core.cel import (
    CEL_SELECTOR_EXPRESSION_MAX_LENGTH,
    CelDevice,
    _program,
    clear_compile_cache,
    compile_selector,
)
from dra_core.cel._ast import CelSyntaxError, parse
from dra_core.errors import AllocationCancelled, AllocationTimeout, CELCompileError

R = TypeVar("R")
NESTING = "CEL compile error: compilation failed: ERROR: <input>:-1:0: " \
    "expression recursion limit exceeded: 250"
CHAIN = "CEL compile error: compilation failed: ERROR: <input>:-1:0: max recursion depth exceeded"
DEVICE = CelDevice(driver="d", attributes={"x": 1})


def _deep(frames: int, fn: Callable[[], R]) -> R:
    """Call ``fn`` with ``frames`` more Python frames on the stack (a deep caller)."""
    if frames == 0:
        return fn()
    return _deep(frames - 1, fn)


NESTED: dict[str, Callable[[int], str]] = {
    "parentheses": lambda n: "(" * n + "true" + ")" * n,
    "lists": lambda n: "[" * n + "1" + "]" * n + " != []",
    "maps": lambda n: "{1: " * n + "1" + "}" * n + " != {}",
    "calls": lambda n: "dyn(" * n + "true" + ")" * n,
    "ternaries": lambda n: "false ? false : " * n + "true",
    "macros": lambda n: "[1].all(x, " * n + "true" + ")" * n,
    "negations": lambda n: "!(" * n + "true" + ")" * n + " || true",
    "device-reads": lambda n: "!(" * n + "device.allowMultipleAllocations" + ")" * n + " || true",
}


@pytest.mark.parametrize("construct", NESTED)
def test_nesting_249_compiles_and_250_is_cel_gos_error(construct: str) -> None:
    make = NESTED[construct]
    # 249 levels compile and evaluate even under a caller 300 frames deep.
    program = _deep(300, lambda: _program._compile(make(249), 1_000_000))
    assert _deep(300, lambda: program.matches_uncached(DEVICE)) in (True, False)
    with pytest.raises(CELCompileError) as info:
        compile_selector(make(250))
    assert str(info.value) == NESTING


CHAINS: dict[str, Callable[[int], str]] = {
    # n nested nodes that cel-go's visitor counts (the relation on top is one of them)
    "additions": lambda n: "1" + " + 1" * (n - 1) + " > 0",
    "multiplications": lambda n: "1" + " * 1" * (n - 1) + " > 0",
    "relations": lambda n: " == ".join(["true"] * (n + 1)),
    "member-calls": lambda n: '"a"' + ".lowerAscii()" * (n - 1) + ' == "a"',
    "indexes": lambda n: "dyn([1])" + "[0]" * (n - 1) + " == 1",
    "selections": lambda n: "dyn(device)" + ".driver" * (n - 1) + ' == "d"',
}


@pytest.mark.parametrize("construct", CHAINS)
def test_chains_of_250_compile_and_251_are_cel_gos_error(construct: str) -> None:
    make = CHAINS[construct]
    _deep(300, lambda: _program._compile(make(250), 1_000_000))
    with pytest.raises(CELCompileError) as info:
        compile_selector(make(251))
    assert str(info.value) == CHAIN


@pytest.mark.parametrize(
    "expression",
    [
        " && ".join(["true"] * 400),
        " || ".join(["false"] * 400) + " || true",
        " && ".join(['device.attributes["d"].x == 1'] * 300),
        "!" * 3001 + "false",
        "-" * 3000 + "1 == 1",
    ],
    ids=["and-400", "or-400", "and-device-300", "not-3001", "minus-3000"],
)
def test_logic_chains_and_unary_runs_have_no_limit(expression: str) -> None:
    assert compile_selector(expression).matches(DEVICE) is True


def test_and_chains_are_balanced() -> None:
    tree = parse(" && ".join(["true"] * 1024))
    depth = 0
    while getattr(tree, "args", None):
        tree = tree.args[0]  # type: ignore[attr-defined]
        depth += 1
    assert depth == 10


def test_pairs_of_unary_operators_cancel_as_in_cel_go() -> None:
    # cel-go drops an even run: !!1 is the int 1, so it is not a selector.
    with pytest.raises(CELCompileError, match="must evaluate to bool"):
        compile_selector("!!1")
    assert compile_selector("--1 == 1").matches(DEVICE) is True


def test_selectors_over_10_kib_are_rejected_with_the_apis_words() -> None:
    padding = CEL_SELECTOR_EXPRESSION_MAX_LENGTH - len('"" == ""')
    longest = '"' + "a" * padding + '" == ""'
    assert len(longest) == CEL_SELECTOR_EXPRESSION_MAX_LENGTH
    assert compile_selector(longest).matches(DEVICE) is False
    for too_long in ('"' + "a" * (padding + 1) + '" == ""',
                     '"' + "é" * (padding // 2 + 1) + '" == ""'):  # UTF-8 bytes count
        with pytest.raises(CELCompileError) as info:
            compile_selector(too_long)
        assert str(info.value) == (
            "CEL compile error: Too long: may not be more than 10240 bytes"
        )
        assert info.value.expression == too_long
        assert (too_long, _program.DEFAULT_COST_LIMIT) not in _program._cache


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r'"\a\b\f\n\r\t\v\\\'\"\`\?"', "\a\b\f\n\r\t\v\\'\"`?"),
        (r'"\x41\X42\101\u00e9\U0001F600"', "ABA\u00e9\U0001f600"),
        (r'r"\n\x"', r"\n\x"),
        ('"""a\nb"""', "a\nb"),
        ("'''a\r\nb'''", "a\nb"),
        (r"b'\xff\101a'", b"\xffAa"),
        ("b'\u00e9'", "\u00e9".encode()),
        ("0x1F", 31),
        ("-9223372036854775808", -(2**63)),
        ("18446744073709551615u", 2**64 - 1),
        ("1e3", 1000.0),
        (".5", 0.5),
    ],
)
def test_literals(text: str, value: object) -> None:
    node = parse(text)
    assert node.value == value  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (r'"\q"', "Syntax error: token recognition error at: '\"\\q'"),
        (r'"\u12"', "Syntax error: token recognition error at: '\"\\u12\"'"),
        ('"abc', "Syntax error: token recognition error at: '\"abc'"),
        ("a & b", "Syntax error: token recognition error at: '& '"),
        (r'b"\u0041"', "unable to unescape string"),
        (r'"\ud800"', "invalid unicode code point"),
        ("9223372036854775808", "invalid int literal"),
        ("18446744073709551616u", "invalid uint literal"),
        ("1e309", "invalid double literal"),
        ("while", "reserved identifier: while"),
        ("a.`b`", "unsupported syntax: '`'"),
        ("1 +", "Syntax error: mismatched input '<EOF>' expecting"),
        ("f(1,)", "Syntax error: mismatched input ')' expecting"),
    ],
)
def test_not_cel(text: str, message: str) -> None:
    with pytest.raises(CelSyntaxError) as info:
        parse(text)
    assert info.value.message.startswith(message)


def test_reserved_words_are_valid_field_names() -> None:
    assert compile_selector('{"if": 1}.if == 1').matches(DEVICE) is True


def _cancel_after_first_check() -> tuple[Callable[[], bool], list[int]]:
    calls = [0]

    def cancelled() -> bool:
        calls[0] += 1
        return calls[0] > 1  # the check before building passes, the next one stops

    return cancelled, calls


def test_cancel_is_honoured_before_a_selector_compiles() -> None:
    clear_compile_cache()
    selectors = [f'device.driver == "driver-{i}"' for i in range(3)]
    cancelled, calls = _cancel_after_first_check()
    with pytest.raises(AllocationCancelled):
        dra_core.allocate(
            node=node(),
            claims=[claim("c", request(selectors=tuple(selectors)))],
            slices=[slice_with_devices("s", device("d0"))],
            classes=[device_class("class-a")],
            cancel=cancelled,
        )
    assert calls[0] == 2
    # Stopped before the first selector compiled, not after the problem was built.
    assert not any(key[0] in selectors for key in _program._cache)


def test_a_spent_deadline_stops_problem_building() -> None:
    huge = " && ".join(['device.driver != "x"'] * 400)
    with pytest.raises(AllocationTimeout):
        dra_core.allocate(
            node=node(),
            claims=[claim("c")],
            slices=[slice_with_devices("s", device("d0"))],
            classes=[device_class("class-a", huge)],
            timeout=0,
        )


def test_deep_callers_still_get_typed_errors() -> None:
    # Near Python's own limit, a compile fails as a typed error, never RecursionError.
    clear_compile_cache()
    expression = NESTED["lists"](249)
    depth = sys.getrecursionlimit() - 200
    try:
        result: object = _deep(depth, lambda: compile_selector(expression))
    except CELCompileError as exc:
        result = exc
    assert isinstance(result, (CELCompileError, _program.SelectorProgram))
