"""Regular expressions (``matches``, ``find``, ``findAll``) run on RE2 with Go's semantics.

Expectations are what Go's ``regexp`` package (which Kubernetes' CEL uses) gives: its
syntax (``regexp/syntax``), its error texts, ``MatchString``/``FindString``/
``FindAllString``. The cases are chosen where Python's ``re`` would answer differently.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from dra_core.cel import CelDevice, compile_selector
from dra_core.cel._library import find, find_all, matches
from dra_core.cel._program import evaluate_value
from dra_core.cel._regex import REGEX_ENGINE, compile_python_regex, compile_regex
from dra_core.cel._values import EvalError
from dra_core.errors import CELCompileError, CELRuntimeError

DRIVER = "dra.example.com"


def test_the_engine_is_re2() -> None:
    # google-re2 is a runtime dependency: the fallback must not be what the tests run.
    assert REGEX_ENGINE == "re2"
    assert type(compile_regex("a")).__name__ == "Regex"


@pytest.mark.parametrize(
    ("text", "pattern", "expected"),
    [
        ("a\n", "a$", False),  # $ is the end of the text only (Python: before a final \n)
        ("a\n", "(?m)a$", True),
        ("\u0663", "\\d", False),  # \d, \s, \w and \b are ASCII
        ("\v", "\\s", False),  # Go's \s is [\t\n\f\r ]
        ("é", "\\w", False),
        ("é", "\\pL", True),
        ("Ωmega", "^\\p{Greek}", True),
        ("omega", "^\\P{Greek}+$", True),
        ("a\nb", "a\\12b", True),  # two digits: an octal escape
        ("a*b", "^\\Qa*b\\E$", True),
        ("aab", "^\\Qa*b\\E$", False),
        ("abc", "\\Aabc\\z", True),
        ("x]", "^[]x]+$", True),
        ("AbC", "(?i)^abc$", True),
        ("ab1", "^[[:alpha:]]+$", False),
        ("ab", "^[[:^digit:]]+$", True),
        ("日本", "^..$", True),  # . is one code point
    ],
)
def test_matches_as_go(text: str, pattern: str, expected: bool) -> None:
    assert matches(text, pattern) is expected


@pytest.mark.parametrize(
    ("text", "pattern", "expected"),
    [
        ("abc", "a|ab", "a"),  # leftmost-first, not leftmost-longest
        ("abc", "(?U)ab*", "a"),  # ungreedy flag
        ("xyz", "[0-9]+", ""),
        ("héllo wörld", "w[^ ]+", "wörld"),
        ("aaa", "a*?", ""),
    ],
)
def test_find_as_go(text: str, pattern: str, expected: str) -> None:
    assert find(text, pattern) == expected


@pytest.mark.parametrize(
    ("text", "pattern", "limit", "expected"),
    [
        # FindAllString skips an empty match that starts where the previous match ended.
        ("baaac", "a*", -1, ("", "aaa", "")),
        ("héllo", "x*", -1, ("", "", "", "", "", "")),  # one empty match per code point
        ("héllo wörld", "[^ ]+", -1, ("héllo", "wörld")),
        ("a1b22c333", "[0-9]+", 2, ("1", "22")),
        ("aaa", "a", -5, ("a", "a", "a")),  # any negative limit means all
        ("aaa", "a", 0, ()),
        ("ab ab", "\\bab", -1, ("ab", "ab")),
        ("abab", "^ab", -1, ("ab",)),  # ^ keeps the whole text as context
    ],
)
def test_find_all_as_go(text: str, pattern: str, limit: int, expected: tuple[str, ...]) -> None:
    assert find_all(text, pattern, limit) == expected


# Go's messages (regexp/syntax Error.Error): "error parsing regexp: <code>: `<fragment>`".
GO_ERRORS = [
    ("(", "missing closing ): `(`"),
    ("a)", "unexpected ): `a)`"),
    ("[a-z", "missing closing ]: `[a-z`"),
    ("[z-a]", "invalid character class range: `z-a`"),
    ("[[:foo:]]", "invalid character class range: `[:foo:]`"),
    ("\\pX", "invalid character class range: `\\pX`"),
    ("a(?=b)", "invalid or unsupported Perl syntax: `(?=`"),
    # Go reads "(?<" as a named group (Go 1.22+); the name runs to the next ">".
    ("(?<=a)b", "invalid named capture: `(?<=a)b`"),
    ("x(?<!a)b>c", "invalid named capture: `(?<!a)b>`"),
    ("[(?<=]x(?<!y)", "invalid named capture: `(?<!y)`"),
    ("(?!a)", "invalid or unsupported Perl syntax: `(?!`"),
    ("(a)\\1", "invalid escape sequence: `\\1`"),
    ("\\Z", "invalid escape sequence: `\\Z`"),
    ("\\C", "invalid escape sequence: `\\C`"),  # RE2 accepts \C, Go does not
    ("a\\", "trailing backslash at end of expression: ``"),
    ("*", "missing argument to repetition operator: `*`"),
    ("a**", "invalid nested repetition operator: `**`"),
    ("a{1}*", "invalid nested repetition operator: `{1}*`"),
    ("x{1001}", "invalid repeat count: `{1001}`"),
    ("x{2,1}", "invalid repeat count: `{2,1}`"),
    ("x{1,9876543210}", "invalid repeat count: `{1,9876543210}`"),  # RE2: literal text
    ("(?:[a-z]{4}){0,251}", "invalid repeat count: `{0,251}`"),
    ("(?P<x y>a)", "invalid named capture: `(?P<x y>`"),
    ("(?<>a)", "invalid named capture: `(?<>`"),
]


@pytest.mark.parametrize(("pattern", "message"), GO_ERRORS)
def test_go_error_messages(pattern: str, message: str) -> None:
    with pytest.raises(EvalError) as info:
        compile_regex(pattern)
    assert info.value.message == f"error parsing regexp: {message}"


@pytest.mark.parametrize(
    "pattern",
    ["\\Q\\C\\E", "\\\\C", "[{1234567890}]", "\\Q{1234567890}\\E", "a{01234567890}",
     "\\p{Greek}{2}", "(?P<name>a)", "(?<name>a)", "a{,3}", "[a-b-c]"],
)
def test_what_go_accepts_compiles(pattern: str) -> None:
    compile_regex(pattern)


def test_literal_patterns_are_compile_errors_and_others_runtime_errors() -> None:
    for pattern in ("a(?=b)", "(a)\\\\1", "\\\\C", "a**"):
        with pytest.raises(CELCompileError, match="invalid matches argument"):
            evaluate_value(f'"ab".matches("{pattern}")')
        # Through a variable the pattern is only known at runtime.
        with pytest.raises(CELRuntimeError) as info:
            evaluate_value(f'cel.bind(p, "{pattern}", "ab".matches(p))')
        assert "CEL runtime error: error parsing regexp: " in str(info.value)
        with pytest.raises(CELRuntimeError) as info:
            evaluate_value(f'"ab".find("{pattern}")')
        assert "CEL runtime error: Illegal regex: error parsing regexp: " in str(info.value)


def test_selector_on_device_attribute() -> None:
    program = compile_selector(f'device.attributes["{DRIVER}"].model.matches("^H[0-9]+$")')
    assert program.matches(CelDevice(driver=DRIVER, attributes={"model": "H100"})) is True
    assert program.matches(CelDevice(driver=DRIVER, attributes={"model": "H100\n"})) is False


def test_lone_surrogates_read_as_replacement_characters() -> None:
    # Go strings cannot hold them; Go's JSON decoder turns them into U+FFFD.
    assert find("x\ud800y", "x.y") == "x\ufffdy"
    assert matches("\ud800", "^\ufffd$") is True


def test_catastrophic_patterns_return() -> None:
    # Backtracking engines take exponential time on these; RE2 is linear. A subprocess with
    # a generous timeout turns a hang into a failure instead of a stuck test run.
    code = textwrap.dedent(
        """
        from dra_core.cel import CelDevice, compile_selector
        device = CelDevice(driver="d", attributes={"s": "a" * 50_000 + "!"})
        for expression in (
            'device.attributes["d"].s.matches("(a+)+$")',
            'device.attributes["d"].s.matches("^(a|aa)*$")',
            'device.attributes["d"].s.find("(a|a?)+b") == ""',
            'device.attributes["d"].s.findAll("(a*)*b").size() == 0',
        ):
            print(compile_selector(expression).matches(device))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "True", "True"]


# The fallback (Python's re on translated syntax), used only where google-re2 is missing.
@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("abc", "^[[:alpha:]]+$"),
        ("ab1", "^[[:alpha:]]+$"),
        ("héllo", "^\\pL+$"),
        ("abc", "\\Aabc\\z"),
        ("baaac", "a*"),
        ("123 abc 456", "[0-9]+"),
        ("héllo", "x*"),
    ],
)
def test_fallback_agrees_on_translated_syntax(text: str, pattern: str) -> None:
    fallback, engine = compile_python_regex(pattern), compile_regex(pattern)
    assert fallback.matches(text) is engine.matches(text)
    assert fallback.find(text) == engine.find(text)
    assert fallback.find_all(text) == engine.find_all(text)
    assert fallback.find_all(text, 1) == engine.find_all(text, 1)


@pytest.mark.parametrize("pattern", ["a(?=b)", "(?<!a)b", "(a)\\1", "\\Z", "("])
def test_fallback_rejects_what_re2_rejects(pattern: str) -> None:
    with pytest.raises(EvalError, match="error parsing regexp"):
        compile_python_regex(pattern)
    with pytest.raises(EvalError, match="error parsing regexp"):
        compile_regex(pattern)
