"""Parse CEL text into a small expression tree.

cel-python's lark grammar does the parsing; this module extends it with the optional
syntax that cel-go accepts (``a.?b`` and ``a[?k]``), turns lark's parse tree into the
nodes below (operators become calls, as in cel-go), and expands macros (``has``,
``all``, ``exists``, ``exists_one``, ``map``, ``filter``, ``cel.bind`` and the
two-variable comprehensions) into :class:`Macro` nodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import celpy
import lark
from celpy.evaluation import celbytes, celstr
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

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


@dataclass(eq=False, slots=True)
class Node:
    """An expression node; ``line`` and ``column`` count from 1."""

    line: int
    column: int


@dataclass(eq=False, slots=True)
class Const(Node):
    """A literal value."""

    value: object


@dataclass(eq=False, slots=True)
class Ident(Node):
    """A variable (``device``, a comprehension variable or a binding)."""

    name: str


@dataclass(eq=False, slots=True)
class Select(Node):
    """``operand.field``; ``has(operand.field)`` when ``test_only``; ``operand.?field``."""

    operand: Node
    field: str
    test_only: bool = False
    optional: bool = False


@dataclass(eq=False, slots=True)
class Index(Node):
    """``operand[key]``, or ``operand[?key]`` when ``optional``."""

    operand: Node
    key: Node
    optional: bool = False


@dataclass(eq=False, slots=True)
class Call(Node):
    """A function call; operators are calls too (``_==_``, ``_&&_``, ``@in``...)."""

    function: str
    target: Node | None
    args: list[Node]


@dataclass(eq=False, slots=True)
class ListLit(Node):
    """``[a, b, c]``; ``[?x]`` elements (positions in ``optional``) are kept if present."""

    items: list[Node]
    optional: frozenset[int] = frozenset()


@dataclass(eq=False, slots=True)
class MapLit(Node):
    """``{k: v, ...}``; ``{?k: v}`` entries (positions in ``optional``) are kept if present."""

    entries: list[tuple[Node, Node]]
    optional: frozenset[int] = frozenset()


@dataclass(eq=False, slots=True)
class Macro(Node):
    """A comprehension macro or ``cel.bind``.

    ``kind`` is the macro name; ``target`` the iterated range (the bound value for
    ``cel.bind``); ``variables`` one or two names; ``args`` the remaining expressions.
    """

    kind: str
    target: Node
    variables: tuple[str, ...]
    args: list[Node] = field(default_factory=list)


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


# --- the parser ---------------------------------------------------------------------------

# What cel-go accepts beyond cel-python's grammar: optional field and index selection,
# and a trailing comma in list and map literals.
_GRAMMAR_EXTENSION: Final = """
%extend member: member_dot_opt | member_index_opt
member_dot_opt : member "." "?" IDENT
member_index_opt : member "[" "?" expr "]"
%override list_lit: "[" [listelems] "]"
listelems: listelem ("," listelem)* [","]
?listelem: expr | opt_elem
opt_elem: "?" expr
%override map_lit: "{" [mapelems] "}"
mapelems: mapkey ":" expr ("," mapkey ":" expr)* [","]
?mapkey: expr | opt_elem
"""

_PARSER: lark.Lark | None = None


def _parser() -> lark.Lark:
    global _PARSER
    if _PARSER is None:
        grammar = (Path(celpy.__file__).parent / "cel.lark").read_text(encoding="utf-8")
        _PARSER = lark.Lark(
            grammar + _GRAMMAR_EXTENSION,
            parser="lalr",
            start="expr",
            g_regex_flags=re.M,
            lexer_callbacks={"IDENT": _bool_literals},
            propagate_positions=True,
            maybe_placeholders=False,
            priority="invert",
        )
    return _PARSER


def _bool_literals(token: lark.Token) -> lark.Token:
    if token.value in ("true", "false"):
        return lark.Token("BOOL_LIT", token.value, token.start_pos, token.line, token.column)
    if token.value == "null":
        return lark.Token("NULL_LIT", token.value, token.start_pos, token.line, token.column)
    return token


_RESERVED: Final = frozenset(
    [
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "in",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
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

MAX_DEPTH: Final = 250  # cel-go's default maximum recursion depth of the parser


def parse(text: str) -> Node:
    """Parse CEL text into a tree.

    Raises:
        CelSyntaxError: for text that is not CEL.

    """
    try:
        tree = _parser().parse(text)
    except UnexpectedCharacters as exc:
        pos = exc.pos_in_stream or 0
        bad = text[pos] if pos < len(text) else ""
        raise CelSyntaxError(
            f"Syntax error: token recognition error at: '{bad}'", exc.line, exc.column
        ) from None
    except UnexpectedEOF:
        line = text.count("\n") + 1
        column = len(text.rsplit("\n", 1)[-1]) + 1
        raise CelSyntaxError("Syntax error: mismatched input '<EOF>'", line, column) from None
    except UnexpectedToken as exc:
        token = exc.token
        value = "<EOF>" if token.type == "$END" else str(token.value)
        expected = ", ".join(sorted(exc.expected))[:200] if exc.expected else ""
        message = f"Syntax error: mismatched input '{value}'"
        if expected:
            message += f" expecting {{{expected}}}"
        line = token.line if isinstance(token.line, int) else 1
        column = token.column if isinstance(token.column, int) else 1
        raise CelSyntaxError(message, line, column) from None
    except LarkError as exc:  # any other parser failure is still a syntax error
        raise CelSyntaxError(f"Syntax error: {exc}", 1, 1) from None
    except RecursionError:
        raise CelSyntaxError("Syntax error: expression recursion limit exceeded", 1, 1) from None
    try:
        return _Builder(text).build(tree)
    except RecursionError:
        raise CelSyntaxError("Syntax error: expression recursion limit exceeded", 1, 1) from None


def format_error(text: str, message: str, line: int, column: int) -> str:
    """cel-go's issue format: ``ERROR: <input>:1:5: message`` and a caret under the spot."""
    lines = text.split("\n")
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    caret = "." * max(column - 1, 0) + "^"
    return f"ERROR: <input>:{line}:{column}: {message}\n | {source}\n | {caret}"


def _pos(tree: Any) -> tuple[int, int]:
    meta = getattr(tree, "meta", None)
    if meta is not None and not getattr(meta, "empty", True):
        return meta.line, meta.column
    line = getattr(tree, "line", None)
    column = getattr(tree, "column", None)
    return (line or 1, column or 1)


_BINARY: Final = {
    "relation_lt": "_<_",
    "relation_le": "_<=_",
    "relation_gt": "_>_",
    "relation_ge": "_>=_",
    "relation_eq": "_==_",
    "relation_ne": "_!=_",
    "relation_in": "@in",
    "addition_add": "_+_",
    "addition_sub": "_-_",
    "multiplication_mul": "_*_",
    "multiplication_div": "_/_",
    "multiplication_mod": "_%_",
}


class _Builder:
    """Turns lark's parse tree into :class:`Node` objects and expands macros."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.depth = 0

    def build(self, tree: Any) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH * 12:  # each CEL level is several grammar levels
            line, column = _pos(tree)
            raise CelSyntaxError("expression recursion limit exceeded", line, column)
        try:
            return self._build(tree)
        finally:
            self.depth -= 1

    def _build(self, tree: Any) -> Node:
        kind = tree.data
        kids = tree.children
        line, column = _pos(tree)
        if kind == "expr":
            if len(kids) == 1:
                return self.build(kids[0])
            return Call(line, column, "_?_:_", None, [self.build(k) for k in kids])
        if kind in ("conditionalor", "conditionaland"):
            if len(kids) == 1:
                return self.build(kids[0])
            name = "_||_" if kind == "conditionalor" else "_&&_"
            return Call(line, column, name, None, [self.build(kids[0]), self.build(kids[1])])
        if kind in ("relation", "addition", "multiplication"):
            if len(kids) == 1:
                return self.build(kids[0])
            op_tree, right = kids
            left = self.build(op_tree.children[0])
            return Call(line, column, _BINARY[op_tree.data], None, [left, self.build(right)])
        if kind == "unary":
            if len(kids) == 1:
                return self.build(kids[0])
            op, operand = kids
            name = "!_" if op.data == "unary_not" else "-_"
            return Call(line, column, name, None, [self.build(operand)])
        if kind in ("member", "primary", "paren_expr"):
            return self.build(kids[0])
        if kind == "member_dot":
            operand, name = kids
            return self._select(line, column, self.build(operand), str(name), optional=False)
        if kind == "member_dot_opt":
            operand, name = kids
            return self._select(line, column, self.build(operand), str(name), optional=True)
        if kind == "member_index":
            operand, key = kids
            return Index(line, column, self.build(operand), self.build(key))
        if kind == "member_index_opt":
            operand, key = kids
            return Index(line, column, self.build(operand), self.build(key), optional=True)
        if kind == "member_dot_arg":
            operand, name = kids[0], str(kids[1])
            args = self._exprlist(kids[2]) if len(kids) > 2 else []
            id_line, id_column = kids[1].line, kids[1].column
            return self._member_call(id_line, id_column, operand, name, args)
        if kind == "member_object":
            raise CelSyntaxError(
                "undeclared reference to message type (no message types in this environment)",
                line,
                column,
            )
        if kind == "ident":
            name = str(kids[0])
            self._check_reserved(name, line, column)
            return Ident(line, column, name)
        if kind == "dot_ident":
            return Ident(line, column, str(kids[0]))
        if kind in ("ident_arg", "dot_ident_arg"):
            name = str(kids[0])
            args = self._exprlist(kids[1]) if len(kids) > 1 else []
            return self._global_call(line, column, name, args)
        if kind == "list_lit":
            elements = kids[0].children if kids else []
            optional = frozenset(
                i for i, k in enumerate(elements) if getattr(k, "data", None) == "opt_elem"
            )
            items = [self.build(k.children[0] if i in optional else k)
                     for i, k in enumerate(elements)]
            return ListLit(line, column, items, optional)
        if kind == "map_lit":
            entries: list[tuple[Node, Node]] = []
            optional_keys: set[int] = set()
            if kids:
                parts = kids[0].children
                for n, i in enumerate(range(0, len(parts), 2)):
                    key_tree = parts[i]
                    if getattr(key_tree, "data", None) == "opt_elem":
                        optional_keys.add(n)
                        key_tree = key_tree.children[0]
                    entries.append((self.build(key_tree), self.build(parts[i + 1])))
            return MapLit(line, column, entries, frozenset(optional_keys))
        if kind == "literal":
            return self._literal(kids[0])
        raise CelSyntaxError(f"Syntax error: unsupported construct {kind}", line, column)

    def _check_reserved(self, name: str, line: int, column: int) -> None:
        if name in _RESERVED:
            raise CelSyntaxError(f"reserved identifier: {name}", line, column)

    def _exprlist(self, tree: Any) -> list[Node]:
        return [self.build(k) for k in tree.children]

    def _select(self, line: int, column: int, operand: Node, name: str, *, optional: bool) -> Node:
        self._check_reserved(name, line, column)
        return Select(line, column, operand, name, optional=optional)

    def _literal(self, token: lark.Token) -> Const:
        line, column = token.line or 1, token.column or 1
        kind, text = token.type, str(token.value)
        try:
            if kind == "INT_LIT":
                value: object = int(text, 10) if "x" not in text else _hex(text)
                if not INT64_MIN <= int(value) <= INT64_MAX:  # type: ignore[call-overload]
                    raise ValueError
            elif kind == "UINT_LIT":
                body = text[:-1]
                number = _hex(body) if "x" in body else int(body, 10)
                if number < 0 or number > UINT64_MAX:
                    raise ValueError
                value = UInt(number)
            elif kind == "FLOAT_LIT":
                value = float(text)
            elif kind in ("STRING_LIT", "MLSTRING_LIT"):
                value = str(celstr(token))
            elif kind == "BYTES_LIT":
                value = bytes(celbytes(token))
            elif kind == "BOOL_LIT":
                value = text == "true"
            elif kind == "NULL_LIT":
                value = None
            else:
                raise ValueError
        except (ValueError, UnicodeError):
            word = {"INT_LIT": "int", "UINT_LIT": "uint", "FLOAT_LIT": "double"}.get(kind, "")
            message = f"invalid {word} literal".replace("  ", " ")
            raise CelSyntaxError(message, line, column) from None
        return Const(line, column, value)

    def _member_call(
        self, line: int, column: int, operand_tree: Any, name: str, args: list[Node]
    ) -> Node:
        operand = self.build(operand_tree)
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
        return self._macro_or_call(line, column, operand, name, args)

    def _macro_or_call(
        self, line: int, column: int, target: Node, name: str, args: list[Node]
    ) -> Node:
        one_var = {"all": 2, "exists": 2, "exists_one": 2, "existsOne": 2, "filter": 2}
        two_var = {
            "all": 3,
            "exists": 3,
            "exists_one": 3,
            "existsOne": 3,
            "transformList": (3, 4),
            "transformMap": (3, 4),
            "transformMapEntry": (3, 4),
        }
        counts = one_var.get(name)
        if name == "map" and len(args) in (2, 3):
            return self._comprehension(line, column, "map", target, args[:1], args[1:])
        if counts is not None and len(args) == counts:
            return self._comprehension(line, column, name, target, args[:1], args[1:])
        shape = two_var.get(name)
        if shape is not None and len(args) in (shape if isinstance(shape, tuple) else (shape,)):
            return self._comprehension(line, column, name, target, args[:2], args[2:])
        if name == "sortBy" and len(args) == 2:
            return self._comprehension(line, column, name, target, args[:1], args[1:])
        if name in ("optMap", "optFlatMap") and len(args) == 2:
            return self._comprehension(line, column, name, target, args[:1], args[1:])
        return Call(line, column, name, target, args)

    def _comprehension(
        self, line: int, column: int, kind: str, target: Node, vars_: list[Node], rest: list[Node]
    ) -> Macro:
        names: list[str] = []
        for var in vars_:
            if not isinstance(var, Ident):
                raise CelSyntaxError("argument must be a simple name", var.line, var.column)
            names.append(var.name)
        if kind == "existsOne":
            kind = "exists_one"
        if len(names) == 2 and names[0] == names[1]:
            raise CelSyntaxError(
                f"duplicate variable name: {names[0]}", vars_[1].line, vars_[1].column
            )
        return Macro(line, column, kind, target, tuple(names), rest)

    def _global_call(self, line: int, column: int, name: str, args: list[Node]) -> Node:
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


def _qualified_name(node: Node) -> str | None:
    if isinstance(node, Ident):
        return node.name
    if isinstance(node, Select) and not node.optional and not node.test_only:
        inner = _qualified_name(node.operand)
        return None if inner is None else f"{inner}.{node.field}"
    return None


def _hex(text: str) -> int:
    negative = text.startswith("-")
    value = int(text.lstrip("-")[2:], 16)
    return -value if negative else value
