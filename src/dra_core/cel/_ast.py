"""Parse CEL text into a small expression tree.

A hand-written recursive-descent parser of cel-go's grammar (``CEL.g4``): its lexer
rules, literal and escape rules, optional syntax (``a.?b``, ``a[?k]``, ``[?x]``,
``{?k: v}``), trailing commas, reserved identifiers and both of its recursion limits.
Operators become calls, as in cel-go (``&&`` and ``||`` chains as balanced trees), and
macros (``has``, ``all``, ``exists``, ``exists_one``, ``map``, ``filter``, ``cel.bind``,
the two-variable comprehensions, ``sortBy``, ``optMap``, ``optFlatMap``) become
:class:`Macro` nodes.

Parsing is linear in the text (a 10 KiB selector parses in a few milliseconds) and
needs no grammar to be built at start-up.
"""

from __future__ import annotations

import re
from typing import Final, NoReturn

from dra_core.cel._values import INT64_MAX, INT64_MIN, UINT64_MAX, UInt

__all__ = [
    "Call",
    "CelSyntaxError",
    "Const",
    "Ident",
    "Index",
    "ListLit",
    "Macro",
    "MapLit",
    "Node",
    "Select",
    "format_error",
    "parse",
    "walk",
]


class CelSyntaxError(Exception):
    """A parse or macro error, located at a line and column (both from 1)."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


# The node classes are plain classes with slots, written out: a dataclass costs about
# a quarter of a millisecond to define, and these are defined by every `import dra_core`.


class Node:
    """An expression node; ``line`` and ``column`` count from 1."""

    __slots__ = ("column", "line")

    def __init__(self, line: int, column: int) -> None:
        self.line = line
        self.column = column

    def __repr__(self) -> str:
        names = [n for cls in reversed(type(self).__mro__) for n in getattr(cls, "_fields", ())]
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{type(self).__name__}({inner})"

    _fields: tuple[str, ...] = ("line", "column")


class Const(Node):
    """A literal value."""

    __slots__ = ("value",)
    _fields = ("value",)

    def __init__(self, line: int, column: int, value: object) -> None:
        self.line = line
        self.column = column
        self.value = value


class Ident(Node):
    """A variable (``device``, a comprehension variable or a binding)."""

    __slots__ = ("name",)
    _fields = ("name",)

    def __init__(self, line: int, column: int, name: str) -> None:
        self.line = line
        self.column = column
        self.name = name


class Select(Node):
    """``operand.field``; ``has(operand.field)`` when ``test_only``; ``operand.?field``."""

    __slots__ = ("field", "operand", "optional", "test_only")
    _fields = ("operand", "field", "test_only", "optional")

    def __init__(
        self,
        line: int,
        column: int,
        operand: Node,
        field: str,
        test_only: bool = False,
        optional: bool = False,
    ) -> None:
        self.line = line
        self.column = column
        self.operand = operand
        self.field = field
        self.test_only = test_only
        self.optional = optional


class Index(Node):
    """``operand[key]``, or ``operand[?key]`` when ``optional``."""

    __slots__ = ("key", "operand", "optional")
    _fields = ("operand", "key", "optional")

    def __init__(
        self, line: int, column: int, operand: Node, key: Node, optional: bool = False
    ) -> None:
        self.line = line
        self.column = column
        self.operand = operand
        self.key = key
        self.optional = optional


class Call(Node):
    """A function call; operators are calls too (``_==_``, ``_&&_``, ``@in``...)."""

    __slots__ = ("args", "function", "target")
    _fields = ("function", "target", "args")

    def __init__(
        self, line: int, column: int, function: str, target: Node | None, args: list[Node]
    ) -> None:
        self.line = line
        self.column = column
        self.function = function
        self.target = target
        self.args = args


class ListLit(Node):
    """``[a, b, c]``; ``[?x]`` elements (positions in ``optional``) are kept if present."""

    __slots__ = ("items", "optional")
    _fields = ("items", "optional")

    def __init__(
        self, line: int, column: int, items: list[Node], optional: frozenset[int] = frozenset()
    ) -> None:
        self.line = line
        self.column = column
        self.items = items
        self.optional = optional


class MapLit(Node):
    """``{k: v, ...}``; ``{?k: v}`` entries (positions in ``optional``) are kept if present."""

    __slots__ = ("entries", "optional")
    _fields = ("entries", "optional")

    def __init__(
        self,
        line: int,
        column: int,
        entries: list[tuple[Node, Node]],
        optional: frozenset[int] = frozenset(),
    ) -> None:
        self.line = line
        self.column = column
        self.entries = entries
        self.optional = optional


class Macro(Node):
    """A comprehension macro or ``cel.bind``.

    ``kind`` is the macro name; ``target`` the iterated range (the bound value for
    ``cel.bind``); ``variables`` one or two names; ``args`` the remaining expressions.
    """

    __slots__ = ("args", "kind", "target", "variables")
    _fields = ("kind", "target", "variables", "args")

    def __init__(
        self,
        line: int,
        column: int,
        kind: str,
        target: Node,
        variables: tuple[str, ...],
        args: list[Node] | None = None,
    ) -> None:
        self.line = line
        self.column = column
        self.kind = kind
        self.target = target
        self.variables = variables
        self.args = [] if args is None else args


def walk(node: Node) -> list[Node]:
    """All nodes of a tree, parents before children, in source order."""
    out: list[Node] = []
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(reversed(children(current)))
    return out


def children(node: Node) -> list[Node]:
    """Return the direct sub-expressions of a node."""
    if isinstance(node, Select):
        return [node.operand]
    if isinstance(node, Index):
        return [node.operand, node.key]
    if isinstance(node, Call):
        return ([node.target] if node.target is not None else []) + list(node.args)
    if isinstance(node, ListLit):
        return list(node.items)
    if isinstance(node, MapLit):
        return [part for entry in node.entries for part in entry]
    if isinstance(node, Macro):
        return [node.target, *node.args]
    return []


# --- the lexer ----------------------------------------------------------------------------

# cel-go's lexer rules (CEL.g4), as one regular expression tried at each position.
# Alternatives are ordered so that the first match is also ANTLR's longest match:
# strings before identifiers (``r"x"``, ``b"x"``), floats before ints, ``0x..u`` before
# ``0x..``, two-character operators before one-character ones.
_ESC: Final = (
    r"""\\(?:[abfnrtv"'\\?`]|[xX][0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}"""
    r"|[0-3][0-7]{2})"
)
_STRING: Final = (
    r'[rR]"""[\s\S]*?"""|' r"[rR]'''[\s\S]*?'''|"
    r'[rR]"[^"\n\r]*"|' r"[rR]'[^'\n\r]*'|"
    rf'"""(?:{_ESC}|[^\\])*?"""|' rf"'''(?:{_ESC}|[^\\])*?'''|"
    rf'"(?:{_ESC}|[^\\"\n\r])*"|' rf"'(?:{_ESC}|[^\\'\n\r])*'"
)
_EXPONENT: Final = r"[eE][+-]?[0-9]+"
_TOKEN: Final = re.compile(
    r"(?P<ws>[\t\n\f\r ]+|//[^\n]*)"
    rf"|(?P<bytes>[bB](?:{_STRING}))"
    rf"|(?P<string>{_STRING})"
    rf"|(?P<float>[0-9]+\.[0-9]+(?:{_EXPONENT})?|[0-9]+{_EXPONENT}|\.[0-9]+(?:{_EXPONENT})?)"
    r"|(?P<uint>(?:0x[0-9a-fA-F]+|[0-9]+)[uU])"
    r"|(?P<int>0x[0-9a-fA-F]+|[0-9]+)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<escident>`[A-Za-z0-9_.\-/ ]+`)"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[-<>\[\]{}().,!?:+*/%])"
)
_ESC_RE: Final = re.compile(_ESC)
_WORDS: Final = frozenset(["true", "false", "null", "in"])
_EOF: Final = "<EOF>"


def _tokenize(text: str) -> tuple[list[str], list[str], list[int]]:
    """Split text into tokens: kinds, texts and start offsets, ending with ``<EOF>``.

    A kind is ``int``, ``uint``, ``float``, ``string``, ``bytes``, ``ident``,
    ``escident``, a keyword (``true``, ``false``, ``null``, ``in``) or the operator itself.
    """
    kinds: list[str] = []
    values: list[str] = []
    offsets: list[int] = []
    match = _TOKEN.match
    pos = 0
    end = len(text)
    while pos < end:
        found = match(text, pos)
        if found is None:
            raise _token_error(text, pos)
        kind = found.lastgroup
        value = found.group()
        if kind != "ws":
            if kind == "op" or (kind == "ident" and value in _WORDS):
                kind = value
            kinds.append(kind)  # type: ignore[arg-type]
            values.append(value)
            offsets.append(pos)
        pos = found.end()
    kinds.append(_EOF)
    values.append(_EOF)
    offsets.append(end)
    return kinds, values, offsets


def _token_error(text: str, start: int) -> CelSyntaxError:
    """ANTLR's lexer error: the text from the token's start to the character it failed on."""
    end = _failed_at(text, start)
    shown = text[start : end + 1].replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    line, column = _position(text, start)
    return CelSyntaxError(f"Syntax error: token recognition error at: '{shown}'", line, column)


def _failed_at(text: str, start: int) -> int:
    """Where the lexer's automaton stops on a text that starts no token at ``start``."""
    first = text[start]
    if first == "`":
        j = start + 1
        while j < len(text) and text[j].isascii() and (text[j].isalnum() or text[j] in "_.-/ "):
            j += 1
        return j
    if first in "&|=":
        return start + 1
    if first not in "\"'":
        return start
    triple = text.startswith(first * 3, start)
    j = start + (3 if triple else 1)
    while j < len(text):
        ch = text[j]
        if ch == "\\":
            escape = _ESC_RE.match(text, j)
            if escape is None:
                return _escape_failure(text, j)
            j = escape.end()
            continue
        if not triple and ch in "\n\r":
            return j
        j += 1
    return len(text) - 1


def _escape_failure(text: str, j: int) -> int:
    """Find the character at which an invalid escape sequence starting at ``j`` fails."""
    if j + 1 >= len(text):
        return j + 1
    kind = text[j + 1]
    need = {"x": 2, "X": 2, "u": 4, "U": 8}.get(kind)
    if need is not None:
        for k in range(j + 2, j + 2 + need):
            if k >= len(text) or text[k] not in "0123456789abcdefABCDEF":
                return k
    if kind in "0123":
        for k in (j + 2, j + 3):
            if k >= len(text) or text[k] not in "01234567":
                return k
    return j + 1


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


# --- literals -------------------------------------------------------------------------------

_SIMPLE_ESCAPES: Final = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", "'": "'", '"': '"', "`": "`", "?": "?",
}


def _unescape(token: str, *, is_bytes: bool) -> str | bytes:
    r"""Return the value of a string or bytes literal (without its ``b``), as cel-go does.

    Raises:
        ValueError: with cel-go's message for an escape the lexer let through but that has
            no value (``\\u`` in bytes, a surrogate or out-of-range code point).

    """
    value = token.replace("\r\n", "\n").replace("\r", "\n")
    raw = value[0] in "rR"
    if raw:
        value = value[1:]
    quote = 3 if len(value) >= 6 and value[:3] in ('"""', "'''") else 1
    body = value[quote:-quote]
    if raw or "\\" not in body:
        return body.encode("utf-8") if is_bytes else body
    out = bytearray()
    i = 0
    n = len(body)
    while i < n:
        j = body.find("\\", i)
        if j < 0:
            out += body[i:].encode("utf-8")
            break
        out += body[i:j].encode("utf-8")
        kind = body[j + 1]  # the lexer guarantees a complete escape sequence
        i = j + 2
        simple = _SIMPLE_ESCAPES.get(kind)
        if simple is not None:
            out += simple.encode("ascii")
            continue
        if kind in "xX":
            code = int(body[i : i + 2], 16)
            i += 2
        elif kind in "uU":
            if is_bytes:
                raise ValueError("unable to unescape string")
            width = 4 if kind == "u" else 8
            code = int(body[i : i + width], 16)
            i += width
        else:  # octal, three digits
            code = int(body[j + 1 : j + 4], 8)
            i = j + 4
        if is_bytes and kind not in "uU":
            out.append(code)
            continue
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise ValueError("invalid unicode code point")
        out += chr(code).encode("utf-8")
    return bytes(out) if is_bytes else out.decode("utf-8")


def _number(kind: str, text: str, negative: bool) -> object:
    """Return an int, uint or double literal's value (Go's strconv rules), or ValueError."""
    if kind == "int":
        magnitude = int(text[2:], 16) if text.startswith("0x") else int(text, 10)
        number = -magnitude if negative else magnitude
        if not INT64_MIN <= number <= INT64_MAX:
            raise ValueError
        return number
    if kind == "uint":
        body = text[:-1]
        unsigned = int(body[2:], 16) if body.startswith("0x") else int(body, 10)
        if unsigned > UINT64_MAX:
            raise ValueError
        return UInt(unsigned)
    value = float(text)
    if value == float("inf"):  # Go's ParseFloat: out of range
        raise ValueError
    return -value if negative else value


# --- the parser -------------------------------------------------------------------------------

MAX_DEPTH: Final = 250  # cel-go's default maxRecursionDepth
RECURSION_LIMIT: Final = f"expression recursion limit exceeded: {MAX_DEPTH}"
VISIT_LIMIT: Final = "max recursion depth exceeded"

_RELATIONS: Final = {
    "<": "_<_", "<=": "_<=_", ">": "_>_", ">=": "_>=_", "==": "_==_", "!=": "_!=_", "in": "@in",
}
_MULTIPLICATIVE: Final = {"*": "_*_", "/": "_/_", "%": "_%_"}
_ADDITIVE: Final = {"+": "_+_", "-": "_-_"}
_LITERALS: Final = frozenset(["int", "uint", "float", "string", "bytes", "true", "false", "null"])
_PRIMARY_START: Final = (
    "{'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, "
    "STRING, BYTES, IDENTIFIER}"
)


def parse(text: str) -> Node:
    """Parse CEL text into a tree, with cel-go's grammar and limits.

    cel-go's two recursion limits apply: no grammar rule nested more than 250 deep
    (``expression recursion limit exceeded: 250``; parentheses, list, map and call
    nesting, ternaries), and no chain of more than 250 nested operators, selections,
    indexes and member calls (``max recursion depth exceeded``). ``&&`` and ``||``
    chains become balanced trees, so they have no length limit.

    Raises:
        CelSyntaxError: for text that is not CEL. The two limits have no location
            (line -1, column 0, as cel-go prints them).

    """
    parser = _Parser(text)
    node, height = parser.expr(1, 0, 0)
    if height > MAX_DEPTH:
        raise CelSyntaxError(VISIT_LIMIT, -1, 0)
    if parser.kinds[parser.i] != _EOF:
        parser.fail_expecting("<EOF>")
    return node


class _Parser:
    """A recursive-descent parser of cel-go's grammar.

    Each nesting level (parentheses, a list, map or call argument, an index, a ternary's
    else branch) costs two Python frames (:meth:`expr` and :meth:`operand`); everything
    within one level (the ``||``, ``&&``, relation and arithmetic chains, unary
    operators, member chains) is parsed by loops. Alongside each node the parser
    returns its height in the nodes cel-go's visitor counts (ternaries, relations,
    arithmetic, selections, indexes and member calls), for the second limit.

    The first limit mirrors ANTLR's parse listener, which counts, per grammar rule, how
    many instances of the rule are open: ``expr`` once per nesting level, ``relation``
    and ``calc`` once more for each right operand being parsed (``a + b * (...)`` has
    three ``calc`` rules open at the parenthesis).
    """

    __slots__ = ("i", "kinds", "offsets", "text", "values")

    def __init__(self, text: str) -> None:
        self.text = text
        self.kinds, self.values, self.offsets = _tokenize(text)
        self.i = 0

    # -- helpers

    def pos(self, index: int) -> tuple[int, int]:
        return _position(self.text, self.offsets[index])

    def error(self, message: str, index: int) -> CelSyntaxError:
        line, column = self.pos(index)
        return CelSyntaxError(message, line, column)

    def fail_expecting(self, expected: str) -> NoReturn:
        i = self.i
        found = self.values[i]
        if expected != _PRIMARY_START and self.kinds[i + 1 if i + 1 < len(self.kinds) else i] == (
            expected.strip("'") if expected != "<EOF>" else _EOF
        ):
            message = f"extraneous input '{found}' expecting {expected}"
        else:
            message = f"mismatched input '{found}' expecting {expected}"
        raise self.error(f"Syntax error: {message}", i)

    def expect(self, kind: str) -> None:
        if self.kinds[self.i] != kind:
            self.fail_expecting(f"'{kind}'")
        self.i += 1

    # -- one nesting level: ternary, ||, &&, relations, arithmetic

    def expr(self, depth: int, rel_base: int, calc_base: int) -> tuple[Node, int]:
        """Parse an ``expr``.

        ``depth`` counts the open ``expr`` rules, the bases the open ``relation`` and
        ``calc`` rules around this one.
        """
        if depth > MAX_DEPTH or rel_base >= MAX_DEPTH or calc_base >= MAX_DEPTH:
            raise CelSyntaxError(RECURSION_LIMIT, -1, 0)
        kinds = self.kinds
        operand = self.operand
        branches: list[tuple[Node, int]] = []
        question = -1
        while True:
            or_terms: list[Node] = []
            or_ops: list[int] = []
            or_height = 0
            while True:
                and_terms: list[Node] = []
                and_ops: list[int] = []
                and_height = 0
                while True:
                    # relation: calc (op calc)*, left-associative
                    rel: Node | None = None
                    rel_height = 0
                    rel_op = -1
                    rel_depth = rel_base + 1
                    while True:
                        # calc: multiplicative chains inside an additive chain
                        calc_depth = calc_base + 1
                        mul, mul_height = operand(depth, rel_depth, calc_depth)
                        add: Node | None = None
                        add_height = 0
                        add_op = -1
                        while True:
                            kind = kinds[self.i]
                            if kind in _MULTIPLICATIVE:
                                op = self.i
                                self.i += 1
                                right_depth = calc_base + (3 if add_op >= 0 else 2)
                                if right_depth > MAX_DEPTH:
                                    raise CelSyntaxError(RECURSION_LIMIT, -1, 0)
                                right, right_height = operand(depth, rel_depth, right_depth)
                                line, column = self.pos(op)
                                mul = Call(line, column, _MULTIPLICATIVE[kind], None, [mul, right])
                                mul_height = 1 + max(mul_height, right_height)
                            elif kind in _ADDITIVE:
                                if add_op >= 0:
                                    line, column = self.pos(add_op)
                                    function = _ADDITIVE[kinds[add_op]]
                                    add = Call(line, column, function, None, [add, mul])  # type: ignore[list-item]
                                    add_height = 1 + max(add_height, mul_height)
                                else:
                                    add, add_height = mul, mul_height
                                add_op = self.i
                                self.i += 1
                                if calc_base + 2 > MAX_DEPTH:
                                    raise CelSyntaxError(RECURSION_LIMIT, -1, 0)
                                mul, mul_height = operand(depth, rel_depth, calc_base + 2)
                            else:
                                break
                        if add_op >= 0:
                            line, column = self.pos(add_op)
                            function = _ADDITIVE[kinds[add_op]]
                            mul = Call(line, column, function, None, [add, mul])  # type: ignore[list-item]
                            mul_height = 1 + max(add_height, mul_height)
                        if rel is None:
                            rel, rel_height = mul, mul_height
                        else:
                            line, column = self.pos(rel_op)
                            rel = Call(line, column, _RELATIONS[kinds[rel_op]], None, [rel, mul])
                            rel_height = 1 + max(rel_height, mul_height)
                        if kinds[self.i] not in _RELATIONS:
                            break
                        rel_op = self.i
                        self.i += 1
                        rel_depth = rel_base + 2
                        if rel_depth > MAX_DEPTH:
                            raise CelSyntaxError(RECURSION_LIMIT, -1, 0)
                    and_terms.append(rel)
                    and_height = max(and_height, rel_height)
                    if kinds[self.i] != "&&":
                        break
                    and_ops.append(self.i)
                    self.i += 1
                or_terms.append(self.balanced("_&&_", and_terms, and_ops))
                or_height = max(or_height, and_height)
                if kinds[self.i] != "||":
                    break
                or_ops.append(self.i)
                self.i += 1
            branches.append((self.balanced("_||_", or_terms, or_ops), or_height))
            if question < 0 and kinds[self.i] == "?":
                question = self.i
                self.i += 1
                continue
            break
        if question < 0:
            return branches[0]
        self.expect(":")
        otherwise, otherwise_height = self.expr(depth + 1, rel_base, calc_base)
        (condition, condition_height), (then, then_height) = branches
        line, column = self.pos(question)
        node = Call(line, column, "_?_:_", None, [condition, then, otherwise])
        return node, 1 + max(condition_height, then_height, otherwise_height)

    def balanced(self, function: str, terms: list[Node], ops: list[int]) -> Node:
        """cel-go's balanced tree of a ``&&`` or ``||`` chain (depth log2 of its length)."""
        if len(terms) == 1:
            return terms[0]

        def tree(lo: int, hi: int) -> Node:
            mid = (lo + hi + 1) // 2
            left = terms[mid] if mid == lo else tree(lo, mid - 1)
            right = terms[mid + 1] if mid == hi else tree(mid + 1, hi)
            line, column = self.pos(ops[mid])
            return Call(line, column, function, None, [left, right])

        return tree(0, len(ops) - 1)

    # -- unary operators, a primary and its member chain

    def operand(self, depth: int, rel: int, calc: int) -> tuple[Node, int]:
        """Parse a ``unary``: ``!``/``-`` runs (pairs cancel, as in cel-go), then a member.

        A member is a primary and its chain of selections, indexes and member calls. It
        is all one function so that a nesting level costs few Python frames.
        """
        kinds = self.kinds
        start = self.i
        kind = kinds[start]
        negate = ""
        if kind in ("!", "-"):
            end = start
            while kinds[end] == kind:
                end += 1
            count = end - start
            if kind != "-" or count != 1 or kinds[end] not in ("int", "float"):
                self.i = end  # otherwise a negative literal
                if count % 2:
                    negate = "!_" if kind == "!" else "-_"
        # the primary
        node: Node
        height = 0
        at = self.i
        kind = kinds[at]
        if kind in _LITERALS or (kind == "-" and kinds[at + 1] in ("int", "float")):
            node = self.literal()
        elif kind == "ident" or (kind == "." and kinds[at + 1] == "ident"):
            name_at = at + 1 if kind == "." else at
            name = self.values[name_at]
            self.i = name_at + 1
            if kinds[self.i] == "(":
                open_at = self.i
                self.i += 1
                args: list[Node] = []
                while kinds[self.i] != ")" or args:
                    arg, arg_height = self.expr(depth + 1, rel, calc)
                    args.append(arg)
                    height = max(height, arg_height)
                    if kinds[self.i] != ",":
                        break
                    self.i += 1
                self.expect(")")
                self.check_reserved(name, at)
                line, column = self.pos(open_at)
                node = self.global_call(line, column, name, args)
            elif self.is_message(self.i):
                self.message(depth, rel, calc)
                raise self.error(
                    "undeclared reference to message type (no message types in this environment)",
                    at,
                )
            else:
                self.check_reserved(name, at)
                line, column = self.pos(at)
                node = Ident(line, column, name)
        elif kind == "(":
            self.i += 1
            node, height = self.expr(depth + 1, rel, calc)
            self.expect(")")
        elif kind == "[":
            self.i += 1
            items: list[Node] = []
            optional: set[int] = set()
            if kinds[self.i] == "," and kinds[self.i + 1] == "]":
                self.i += 1  # [,] is an empty list in cel-go's grammar
            while kinds[self.i] != "]":
                if kinds[self.i] == "?":
                    self.i += 1
                    optional.add(len(items))
                item, item_height = self.expr(depth + 1, rel, calc)
                items.append(item)
                height = max(height, item_height)
                if kinds[self.i] != ",":
                    break
                self.i += 1  # a comma, perhaps a trailing one
            self.expect("]")
            line, column = self.pos(at)
            node = ListLit(line, column, items, frozenset(optional))
        elif kind == "{":
            self.i += 1
            entries: list[tuple[Node, Node]] = []
            optional_keys: set[int] = set()
            if kinds[self.i] == "," and kinds[self.i + 1] == "}":
                self.i += 1
            while kinds[self.i] != "}":
                if kinds[self.i] == "?":
                    self.i += 1
                    optional_keys.add(len(entries))
                key, key_height = self.expr(depth + 1, rel, calc)
                self.expect(":")
                value, value_height = self.expr(depth + 1, rel, calc)
                entries.append((key, value))
                height = max(height, key_height, value_height)
                if kinds[self.i] != ",":
                    break
                self.i += 1
            self.expect("}")
            line, column = self.pos(at)
            node = MapLit(line, column, entries, frozenset(optional_keys))
        else:
            self.fail_expecting(_PRIMARY_START)
        # the member chain
        while True:
            kind = kinds[self.i]
            if kind == ".":
                dot = self.i
                optional_select = kinds[dot + 1] == "?"
                name_at = dot + 2 if optional_select else dot + 1
                name_kind = kinds[name_at]
                if name_kind == "escident":
                    raise self.error("unsupported syntax: '`'", name_at)
                if name_kind != "ident":
                    self.i = name_at
                    self.fail_expecting("IDENTIFIER")
                name = self.values[name_at]
                self.i = name_at + 1
                if not optional_select and kinds[self.i] == "(":
                    open_at = self.i
                    self.i += 1
                    args = []
                    while kinds[self.i] != ")" or args:
                        arg, arg_height = self.expr(depth + 1, rel, calc)
                        args.append(arg)
                        height = max(height, arg_height)
                        if kinds[self.i] != ",":
                            break
                        self.i += 1
                    self.expect(")")
                    line, column = self.pos(open_at)
                    node = self.member_call(line, column, node, name, args)
                else:
                    line, column = self.pos(dot)
                    node = Select(line, column, node, name, optional=optional_select)
                height += 1
            elif kind == "[":
                bracket = self.i
                optional_index = kinds[bracket + 1] == "?"
                self.i = bracket + (2 if optional_index else 1)
                key, key_height = self.expr(depth + 1, rel, calc)
                self.expect("]")
                line, column = self.pos(bracket)
                node = Index(line, column, node, key, optional=optional_index)
                height = 1 + max(height, key_height)
            else:
                break
        if negate:
            line, column = self.pos(start)
            node = Call(line, column, negate, None, [node])
        return node, height

    def is_message(self, at: int) -> bool:
        """Whether ``(. IDENT)* {`` follows: a message literal such as ``a.b{f: 1}``."""
        kinds = self.kinds
        while kinds[at] == "." and kinds[at + 1] == "ident":
            at += 2
        return kinds[at] == "{"

    def message(self, depth: int, rel: int, calc: int) -> None:
        """Parse a message literal's fields (for its syntax errors; it has no value here)."""
        kinds = self.kinds
        while kinds[self.i] != "{":
            self.i += 1
        self.i += 1
        first = True
        while kinds[self.i] != "}":
            if not first:
                self.expect(",")
                if kinds[self.i] == "}":
                    break
            first = False
            if kinds[self.i] == "?":
                self.i += 1
            if kinds[self.i] not in ("ident", "escident"):
                self.fail_expecting("IDENTIFIER")
            self.i += 1
            self.expect(":")
            self.expr(depth + 1, rel, calc)
        self.expect("}")

    def literal(self) -> Const:
        kinds = self.kinds
        start = self.i
        negative = kinds[start] == "-"
        at = start + 1 if negative else start
        kind = kinds[at]
        text = self.values[at]
        self.i = at + 1
        line, column = self.pos(start)
        if kind in ("int", "uint", "float"):
            try:
                return Const(line, column, _number(kind, text, negative))
            except ValueError:
                word = "double" if kind == "float" else kind
                raise CelSyntaxError(f"invalid {word} literal", line, column) from None
        if kind in ("string", "bytes"):
            try:
                value = _unescape(text[1:] if kind == "bytes" else text, is_bytes=kind == "bytes")
            except ValueError as exc:
                raise CelSyntaxError(str(exc), line, column) from None
            return Const(line, column, value)
        if kind == "null":
            return Const(line, column, None)
        return Const(line, column, kind == "true")

    def check_reserved(self, name: str, at: int) -> None:
        if name in _RESERVED:
            raise self.error(f"reserved identifier: {name}", at)

    # -- macros

    def member_call(
        self, line: int, column: int, operand: Node, name: str, args: list[Node]
    ) -> Node:
        qualified = _qualified_name(operand)
        if qualified is not None:
            full = f"{qualified}.{name}"
            if full == "cel.bind":
                if len(args) != 3:
                    raise CelSyntaxError("cel.bind() requires 3 arguments", line, column)
                var = args[0]
                if not isinstance(var, Ident):
                    raise CelSyntaxError(
                        "cel.bind() variable names must be simple identifiers", var.line, var.column
                    )
                return Macro(line, column, "cel.bind", args[1], (var.name,), [args[2]])
            if full in QUALIFIED_FUNCTIONS:
                return Call(line, column, full, None, args)
        return _macro_or_call(line, column, operand, name, args)

    def global_call(self, line: int, column: int, name: str, args: list[Node]) -> Node:
        if name == "has":
            if len(args) != 1 or not isinstance(args[0], Select) or args[0].optional:
                at = args[0] if args else None
                raise CelSyntaxError(
                    "invalid argument to has() macro",
                    at.line if at else line,
                    at.column if at else column,
                )
            arg = args[0]
            return Select(arg.line, arg.column, arg.operand, arg.field, test_only=True)
        return Call(line, column, name, None, args)


_RESERVED: Final = frozenset(
    [
        "as", "break", "const", "continue", "else", "for", "function", "if", "import", "in",
        "let", "loop", "package", "namespace", "return", "var", "void", "while",
    ]
)

# Functions whose names contain a dot; ``optional.of(x)`` is a call, not a member call.
QUALIFIED_FUNCTIONS: Final = frozenset(
    {
        "optional.of",
        "optional.ofNonZeroValue",
        "optional.none",
        "sets.contains",
        "sets.equivalent",
        "sets.intersects",
        "strings.quote",
        "lists.range",
        "ip.isCanonical",
    }
)

_ONE_VARIABLE: Final = {"all": 2, "exists": 2, "exists_one": 2, "existsOne": 2, "filter": 2}
_TWO_VARIABLES: Final = {
    "all": (3,),
    "exists": (3,),
    "exists_one": (3,),
    "existsOne": (3,),
    "transformList": (3, 4),
    "transformMap": (3, 4),
    "transformMapEntry": (3, 4),
}


def _macro_or_call(line: int, column: int, target: Node, name: str, args: list[Node]) -> Node:
    count = len(args)
    if name == "map" and count in (2, 3):
        return _comprehension(line, column, "map", target, args[:1], args[1:])
    if _ONE_VARIABLE.get(name) == count:
        return _comprehension(line, column, name, target, args[:1], args[1:])
    if count in _TWO_VARIABLES.get(name, ()):
        return _comprehension(line, column, name, target, args[:2], args[2:])
    if name in ("sortBy", "optMap", "optFlatMap") and count == 2:
        return _comprehension(line, column, name, target, args[:1], args[1:])
    return Call(line, column, name, target, args)


def _comprehension(
    line: int, column: int, kind: str, target: Node, vars_: list[Node], rest: list[Node]
) -> Macro:
    names: list[str] = []
    for var in vars_:
        if not isinstance(var, Ident):
            raise CelSyntaxError("argument must be a simple name", var.line, var.column)
        names.append(var.name)
    if kind == "existsOne":
        kind = "exists_one"
    if len(names) == 2 and names[0] == names[1]:
        raise CelSyntaxError(f"duplicate variable name: {names[0]}", vars_[1].line, vars_[1].column)
    return Macro(line, column, kind, target, tuple(names), rest)


def _qualified_name(node: Node) -> str | None:
    parts: list[str] = []
    while isinstance(node, Select) and not node.optional and not node.test_only:
        parts.append(node.field)
        node = node.operand
    if not isinstance(node, Ident):
        return None
    parts.append(node.name)
    return ".".join(reversed(parts))


def format_error(text: str, message: str, line: int, column: int) -> str:
    """cel-go's issue format: ``ERROR: <input>:1:5: message`` and a caret under the spot.

    An error without a location (line -1: the recursion limits) has no source line.
    """
    if line < 1:
        return f"ERROR: <input>:{line}:{column}: {message}"
    lines = text.split("\n")
    source = lines[line - 1] if line <= len(lines) else ""
    caret = "." * max(column - 1, 0) + "^"
    return f"ERROR: <input>:{line}:{column}: {message}\n | {source}\n | {caret}"
