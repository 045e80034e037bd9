"""Reads the constants and struct layouts of khoboot's ABI headers (abi/*.h)
so that Python tooling takes them from the one place that owns them.

Understood, after comments and preprocessor lines are removed:

  inline constexpr TYPE kName = EXPR;        integer, string or {...} value
  inline constexpr const char kName[] = "text";
  enum Name : TYPE { kA = EXPR, kB = EXPR, };
  struct Name { TYPE field; TYPE field[N]; };   (__attribute__((packed)) too)
  static_assert(sizeof(Name) == EXPR);
  static_assert(offsetof(Name, field) == EXPR);

EXPR may use integer literals (C suffixes u/l/ull dropped), string
literals, unqualified names defined earlier in the same header and
<< >> | & + - * and parentheses. Anything else (sizeof in an expression, references,
names from other headers) is left out of `constants` and listed in
`skipped`, so a caller asking for it gets a KeyError naming the header
rather than a guessed value.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

# Strings first, so that "//" inside a string literal is not a comment.
_COMMENT_OR_STRING = re.compile(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', re.S)
_CONSTEXPR = re.compile(r"inline\s+constexpr\s+([^;=]+?)\s+(k\w+)\s*(\[\s*\])?\s*=\s*([^;]+);")
_ENUM = re.compile(r"enum\s+(?:class\s+)?(\w+)\s*(?::\s*[\w:]+)?\s*\{([^}]*)\}\s*;")
_STRUCT = re.compile(r"struct\s+(__attribute__\(\(packed\)\)\s+)?(\w+)\s*\{([^{}]*)\}\s*;")
_FIELD = re.compile(r"^([\w:]+)\s+(\w+)\s*(?:\[\s*(\w+)\s*\])?$")
_SIZEOF = re.compile(r"static_assert\(\s*sizeof\((\w+)\)\s*==\s*([^;]+?)\)\s*;")
_OFFSETOF = re.compile(r"static_assert\(\s*offsetof\((\w+),\s*(\w+)\)\s*==\s*([^;]+?)\)\s*;")
_INT_SUFFIX = re.compile(r"\b(0[xX][0-9a-fA-F]+|\d+)(?:[uU][lL]{0,2}|[lL]{1,2}[uU]?)\b")

# Fixed-width C types to struct module codes.
CTYPE_CODES = {"uint8_t": "B", "uint16_t": "H", "uint32_t": "I", "uint64_t": "Q",
               "int8_t": "b", "int16_t": "h", "int32_t": "i", "int64_t": "q"}

_OPS = (ast.LShift, ast.RShift, ast.BitOr, ast.BitAnd, ast.Add, ast.Sub, ast.Mult)


class Unsupported(ValueError):
    """An expression this reader does not evaluate."""


@dataclass
class Header:
    path: Path
    constants: dict = field(default_factory=dict)   # kName -> int | str | tuple of ints
    structs: dict = field(default_factory=dict)     # Name -> [(field, ctype, count)]
    packed: set = field(default_factory=set)        # struct names with __attribute__((packed))
    sizes: dict = field(default_factory=dict)       # Name -> sizeof, from static_assert
    offsets: dict = field(default_factory=dict)     # (Name, field) -> offsetof, from static_assert
    skipped: list = field(default_factory=list)     # constants whose value was not understood
    unreadable: dict = field(default_factory=dict)  # struct name -> the field not understood

    def __getitem__(self, name: str):
        try:
            return self.constants[name]
        except KeyError:
            raise KeyError(f"{self.path.name} defines no constant {name} this reader understands") from None


def strip_comments(text: str) -> str:
    """The text without comments and preprocessor lines (macro bodies
    continued with a backslash included)."""
    text = _COMMENT_OR_STRING.sub(lambda m: m.group(1) or " ", text).replace("\\\n", " ")
    return "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))


def evaluate(expr: str, names: dict):
    """The value of a C constant expression (see the module doc)."""
    expr = expr.strip()
    if expr.startswith("{"):
        if not re.fullmatch(r"[\s{},0-9a-fA-FxXuUlL]+", expr):
            raise Unsupported(expr)
        return tuple(evaluate(v, names) for v in re.findall(r"0[xX][0-9a-fA-F]+\w*|\d+\w*", expr))
    if "::" in expr:   # another namespace's name: this header's same-named one may differ
        raise Unsupported(expr)
    py = _INT_SUFFIX.sub(r"\1", expr)
    try:
        tree = ast.parse(py, mode="eval")
    except SyntaxError:
        raise Unsupported(expr) from None

    def ev(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, str)):
            return node.value
        if isinstance(node, ast.Name) and node.id in names:
            return names[node.id]
        if isinstance(node, ast.BinOp) and isinstance(node.op, _OPS):
            left, right = ev(node.left), ev(node.right)
            if isinstance(left, int) and isinstance(right, int):
                return {ast.LShift: int.__lshift__, ast.RShift: int.__rshift__, ast.BitOr: int.__or__,
                        ast.BitAnd: int.__and__, ast.Add: int.__add__, ast.Sub: int.__sub__,
                        ast.Mult: int.__mul__}[type(node.op)](left, right)
        raise Unsupported(expr)
    return ev(tree.body)


def struct_fields(body: str, names: dict) -> list:
    fields = []
    for decl in filter(None, (" ".join(d.split()) for d in body.split(";"))):
        f = _FIELD.match(decl)
        if not f:
            raise Unsupported(repr(decl))
        fields.append((f.group(2), f.group(1), evaluate(f.group(3), names) if f.group(3) else 1))
    return fields


def parse(text: str, path: Path = Path("<text>")) -> Header:
    h = Header(Path(path))
    text = strip_comments(text)
    # One pass in source order, so later constants may use earlier ones.
    items = [(m.start(), "const", m) for m in _CONSTEXPR.finditer(text)]
    items += [(m.start(), "enum", m) for m in _ENUM.finditer(text)]
    for _, kind, m in sorted(items, key=lambda i: i[0]):
        pairs = ([(m.group(2), m.group(4))] if kind == "const" else
                 [tuple(p.split("=", 1)) for p in m.group(2).split(",") if "=" in p])
        for name, expr in pairs:
            try:
                h.constants[name.strip()] = evaluate(expr, h.constants)
            except Unsupported:
                h.skipped.append(name.strip())
    for m in _STRUCT.finditer(text):
        try:
            h.structs[m.group(2)] = struct_fields(m.group(3), h.constants)
        except Unsupported as e:
            h.unreadable[m.group(2)] = f"field {e}"
        if m.group(1):
            h.packed.add(m.group(2))
    for m in _SIZEOF.finditer(text):
        h.sizes[m.group(1)] = evaluate(m.group(2), h.constants)
    for m in _OFFSETOF.finditer(text):
        h.offsets[(m.group(1), m.group(2))] = evaluate(m.group(3), h.constants)
    return h


def read(path) -> Header:
    path = Path(path)
    return parse(path.read_text(), path)
