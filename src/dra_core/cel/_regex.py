r"""Regular expressions for CEL's ``matches``, ``find`` and ``findAll``, run by RE2.

Kubernetes evaluates these with Go's ``regexp`` package: RE2 syntax, and matching in time
linear in the text, whatever the pattern. Python's ``re`` backtracks, so a selector such as
``s.matches("(a+)+$")`` on a long string would run for hours inside one call, where the CEL
cost limit cannot stop it. dra-core therefore runs every pattern on RE2 itself (the
``google-re2`` package), which gives Go's syntax and semantics: ``$`` only at the end of the
text, ASCII ``\d``/``\s``/``\w``/``\b``, octal ``\12``, ``\Q...\E``, POSIX and Unicode
classes, leftmost-first matching, and compile errors for look-arounds and back-references.
Error texts are Go's (``error parsing regexp: missing closing ): `(```), translated from RE2's
codes, which Go's parser shares.

Go's parser rejects two things that RE2 accepts: ``\C`` (any byte) and repeat counts of ten
digits or more; both are rejected here before RE2 sees the pattern. Go's size limits
(nesting deeper than 1000, programs of millions of instructions) are replaced by RE2's own,
which differ at those extremes. ``findAll`` follows Go's ``FindAllString``: an empty match
right after the previous match is skipped.

Fallback: when ``import re2`` fails (a platform without a google-re2 wheel), patterns run on
Python's ``re`` with RE2's syntax translated where they differ (POSIX classes, the common
Unicode classes, ``\z``) and Python-only syntax rejected. That path has Python's
backtracking (so it is not safe against hostile patterns) and differs in the corners listed
in docs/cel.md; :data:`REGEX_ENGINE` says which engine is in use.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from dra_core.cel._values import EvalError

__all__ = ["REGEX_ENGINE", "Regex", "compile_regex"]

# google-re2 is imported by the first compile, not with this module: about 2 ms that a
# process whose selectors use no regular expression never pays.
_re2_module: Any = None
_re2_tried = False


def _re2() -> Any:
    """Return the ``re2`` module, or None when it cannot be imported (tried once)."""
    global _re2_module, _re2_tried
    if not _re2_tried:
        try:
            # google-re2 ships no type information.
            import re2  # type: ignore[import-untyped, import-not-found, unused-ignore]
        except ImportError:  # pragma: no cover - only where google-re2 cannot be installed
            re2 = None
        _re2_module = re2
        _re2_tried = True
    return _re2_module


if TYPE_CHECKING:
    REGEX_ENGINE: str
    """``"re2"`` (google-re2, the normal case) or ``"python-re"`` (the fallback)."""
else:

    def __getattr__(name: str) -> str:
        """``REGEX_ENGINE``: ``"re2"`` or ``"python-re"`` (imports google-re2 to know)."""
        if name == "REGEX_ENGINE":
            return "python-re" if _re2() is None else "re2"
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# RE2's error code texts and the words Go's regexp/syntax uses for the same codes.
_GO_ERROR_CODES: Final = {
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class": "invalid character class",
    "invalid character class range": "invalid character class range",
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid UTF-8": "invalid UTF-8",
    "invalid named capture group": "invalid named capture",
    "pattern too large - compile failed": "expression too large",
}

_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _parse_error(code: str, fragment: str) -> EvalError:
    return EvalError(f"error parsing regexp: {code}: `{fragment}`")


def _utf8(text: str) -> bytes:
    """Encode a CEL string as UTF-8.

    Lone surrogates (which JSON text can smuggle into a Python string, never into a Go
    one) become U+FFFD, as Go's JSON decoder makes them.
    """
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text).encode()


def _rune_width(data: bytes, pos: int) -> int:
    """Measure the UTF-8 sequence that starts at ``pos`` (valid UTF-8 only)."""
    lead = data[pos]
    if lead < 0x80:
        return 1
    if lead < 0xE0:
        return 2
    if lead < 0xF0:
        return 3
    return 4


_REPEAT: Final = re.compile(r"\{([0-9]+)(?:,([0-9]*))?\}")


def _too_big(digits: str | None) -> bool:
    """Whether Go's parseInt gives up on a repeat count (10 digits or more, no leading 0)."""
    return digits is not None and len(digits) >= 10 and digits[0] != "0"


def _top_level(pattern: str) -> Iterator[int]:
    r"""Yield the positions of the pattern's syntax outside character classes.

    The scan follows Go's lexer: ``\Q...\E`` is literal and skipped, an escape is yielded
    once (at its backslash) with its argument skipped (``\p{Greek}``, ``\x{10FFFF}``), and
    a character class is skipped whole.
    """
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "Q":
                # \Q...\E is literal text (to the end of the pattern when \E is missing).
                end = pattern.find("\\E", i + 2)
                i = n if end < 0 else end + 2
                continue
            yield i
            i += 2
            if nxt in "pPx" and i < n and pattern[i] == "{":
                end = pattern.find("}", i)
                i = n if end < 0 else end + 1
            continue
        if c == "[":
            i = _skip_class(pattern, i)
            continue
        yield i
        i += 1


def _check_go_only(pattern: str) -> None:
    r"""Reject what Go's parser rejects and RE2 accepts.

    Two cases: ``\C`` (any byte; an invalid escape in Go) and a repeat count of ten digits
    or more (``x{1,9876543210}``: too large for Go's parser, an invalid repeat count; RE2
    reads the braces as literal text).
    """
    for i in _top_level(pattern):
        if pattern.startswith("\\C", i):
            raise _parse_error("invalid escape sequence", "\\C")
        if pattern[i] == "{":
            found = _REPEAT.match(pattern, i)
            if found is not None and (_too_big(found.group(1)) or _too_big(found.group(2))):
                raise _parse_error("invalid repeat count", found.group(0))


def _go_look_behind_error(pattern: str) -> EvalError:
    """Go's error for a look-behind, which its parser reads as a named group ``(?<name>``.

    The name runs to the next ``>`` (or the group is unterminated), and it is never valid:
    ``(?<=a)b`` gives "invalid named capture: `(?<=a)b`".
    """
    start = next(
        (i for i in _top_level(pattern) if pattern.startswith(("(?<=", "(?<!"), i)), 0
    )
    rest = pattern[start:]
    end = rest.find(">")
    return _parse_error("invalid named capture", rest if end < 0 else rest[: end + 1])


def _skip_class(pattern: str, i: int) -> int:
    """Return the index after the character class that starts at ``pattern[i] == "["``."""
    n = len(pattern)
    i += 1
    if i < n and pattern[i] == "^":
        i += 1
    if i < n and pattern[i] == "]":
        i += 1  # a ']' first in the class is a member
    while i < n and pattern[i] != "]":
        if pattern.startswith("[:", i):
            end = pattern.find(":]", i + 2)
            if end >= 0:
                i = end + 2
                continue
        if pattern[i] == "\\":
            i += 2
            if i - 1 < n and pattern[i - 1] in "pPx" and i < n and pattern[i] == "{":
                end = pattern.find("}", i)
                i = n if end < 0 else end + 1
            continue
        i += 1
    return i + 1


class Regex:
    """A compiled pattern with the three CEL operations, as Go's ``regexp`` runs them."""

    __slots__ = ("_regex", "pattern")

    def __init__(self, pattern: str, regex: Any) -> None:
        self.pattern = pattern
        self._regex = regex

    def _spans(self, text: str, limit: int) -> list[str]:
        r"""Go's ``FindAllString(text, limit)``; a negative limit means all matches.

        Each search starts where the last match ended, with the whole text as context (so
        ``^`` and ``\b`` see what precedes). An empty match advances one code point, and
        an empty match that starts where the previous match ended is not reported.
        """
        data = _utf8(text)
        out: list[str] = []
        end = len(data)
        pos, previous_end = 0, -1
        while pos <= end and (limit < 0 or len(out) < limit):
            found = self._regex.search(data, pos)
            if found is None:
                break
            start, stop = found.span()
            accept = True
            if stop == pos:
                # An empty match at pos: move on by one code point.
                accept = start != previous_end
                pos += _rune_width(data, pos) if pos < end else 1
            else:
                pos = stop
            previous_end = stop
            if accept:
                out.append(data[start:stop].decode())
        return out

    def matches(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text`` (Go's ``MatchString``)."""
        return self._regex.search(_utf8(text)) is not None

    def find(self, text: str) -> str:
        """Return the leftmost match, or ``""`` (Go's ``FindString``)."""
        found = self._spans(text, 1)
        return found[0] if found else ""

    def find_all(self, text: str, limit: int = -1) -> tuple[str, ...]:
        """Every match, at most ``limit`` when it is not negative (Go's ``FindAllString``)."""
        if limit == 0:
            return ()
        return tuple(self._spans(text, limit))


class _PythonRegex(Regex):
    """The fallback: Python's ``re`` on the translated pattern, with Go's iteration rules."""

    __slots__ = ()

    def _spans(self, text: str, limit: int) -> list[str]:
        out: list[str] = []
        end = len(text)
        pos, previous_end = 0, -1
        while pos <= end and (limit < 0 or len(out) < limit):
            found = self._regex.search(text, pos)
            if found is None:
                break
            start, stop = found.span()
            accept = True
            if stop == pos:
                accept = start != previous_end
                pos += 1
            else:
                pos = stop
            previous_end = stop
            if accept:
                out.append(found.group(0))
        return out

    def matches(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text``."""
        return self._regex.search(text) is not None


def _compile_re2(pattern: str) -> Regex:
    _check_go_only(pattern)
    re2 = _re2()
    options = re2.Options()
    options.log_errors = False  # errors are reported as CEL errors, not on stderr
    options.never_capture = True  # only whole matches are ever used
    try:
        return Regex(pattern, re2.compile(_utf8(pattern), options))
    except re2.error as exc:
        raw = exc.args[0] if exc.args else b""
        message = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        code, _, fragment = message.partition(": ")
        go_code = _GO_ERROR_CODES.get(code)
        if code == "invalid perl operator" and fragment in ("(?<=", "(?<!"):
            # Recent RE2 names look-behinds; Go (like older RE2) fails on a group name.
            raise _go_look_behind_error(pattern) from None
        if go_code == "expression too large":
            fragment = pattern  # Go names the whole pattern for its size limits
        if go_code is None:
            # A code without a Go twin (none is known): keep RE2's own text.
            raise EvalError(f"error parsing regexp: {message}: `{pattern}`") from None
        raise _parse_error(go_code, fragment) from None


# RE2 syntax that Python's engine spells differently, and Python syntax RE2 rejects
# (used by the fallback only).
_POSIX_CLASSES: Final = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_UNICODE_CLASSES: Final = {
    "L": "[^\\W\\d_]",
    "Lu": "[A-Z\\u00c0-\\u00de]",
    "Ll": "[a-z\\u00df-\\u00ff]",
    "N": "\\d",
    "Nd": "\\d",
}
_NOT_RE2: Final = re.compile(r"\(\?(?:=|!|<=|<!|P=|#)|\\[1-9]|\(\?\(|\\Z")


def translate_re2(pattern: str) -> str:
    """Translate RE2 syntax to Python's ``re`` (the fallback engine's front end).

    Raises:
        EvalError: for syntax that RE2 rejects (look-arounds, back-references) and
            Unicode classes the translation does not know.

    """
    if _NOT_RE2.search(pattern):
        raise EvalError(f"error parsing regexp: invalid or unsupported Perl syntax: `{pattern}`")
    out = pattern.replace("\\z", "\\Z")
    out = re.sub(
        r"\[:(\^?)([a-z]+):\]",
        lambda m: (
            (("^" if m.group(1) else "") + _POSIX_CLASSES[m.group(2)])
            if m.group(2) in _POSIX_CLASSES
            else m.group(0)
        ),
        out,
    )

    def unicode_class(m: re.Match[str]) -> str:
        name = m.group(2) or m.group(3)
        found = _UNICODE_CLASSES.get(name)
        if found is None:
            raise EvalError(f"error parsing regexp: invalid character class range: `{pattern}`")
        if m.group(1) == "P":
            if found.startswith("[") and not found.startswith("[^"):
                return "[^" + found[1:]
            return f"(?:(?!{found}).)"
        return found

    return re.sub(r"\\([pP])(?:\{(\w+)\}|(\w))", unicode_class, out)


def compile_python_regex(pattern: str) -> Regex:
    """Compile with the fallback engine (Python's ``re`` on :func:`translate_re2`'s output).

    Raises:
        EvalError: for a pattern that does not compile.

    """
    translated = translate_re2(pattern)
    try:
        return _PythonRegex(pattern, re.compile(translated))
    except re.error as exc:
        raise EvalError(f"error parsing regexp: {exc}: `{pattern}`") from None


@lru_cache(maxsize=512)
def compile_regex(pattern: str) -> Regex:
    """Compile an RE2 pattern (with RE2, or with the fallback when google-re2 is missing).

    Compiled patterns are cached (512, least recently used first out); compiling is the
    only costly step, and a pattern's meaning never changes.

    Raises:
        EvalError: for a pattern that does not compile, with Go's message
            (``error parsing regexp: <what>: `<where>```).

    """
    if _re2() is None:  # pragma: no cover - see the module docstring
        return compile_python_regex(pattern)
    return _compile_re2(pattern)
