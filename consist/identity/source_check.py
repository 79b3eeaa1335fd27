"""Whether a source text describes the code object that runs.

``inspect.getsource`` reads the file a code object names as that file is *now*. When the
file was edited after the module was imported (a notebook kernel holding the old module
while the editor saved a new one), or the code was compiled under a filename that names
some other file (a notebook cell or a ``__main__`` function shipped to a worker), that
text is not the code being executed, and hashing it would give two different functions
one identity. Compiling the text and comparing the result with the running code object
(bytecode, constants, names, recursively for nested code) tells the two apart. Line and
column numbers are not compared, so a function that merely moved within its file still
matches.
"""

from __future__ import annotations

import __future__
import ast
import dis
import inspect
import linecache
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from consist.user_warnings import warn

_FUTURE_FLAGS = 0
for _name in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _name).compiler_flag
# Flags that change what a code object does; CO_NESTED and friends only say where it sat.
_KIND_FLAGS = (
    inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_VARARGS | inspect.CO_VARKEYWORDS
)


def describes(source: str, code: types.CodeType, body: str | None = None, module: Any = None) -> bool:
    """Whether compiling ``source`` (a function's text as ``getsource`` gives it) yields ``code``.

    ``body`` is a lambda's own expression text, tried as ``lambda <params>: <body>`` when
    the whole line does not compile on its own (a lambda inside a call spanning lines).
    ``module`` is the module ``code`` was imported with: its loader may rewrite code.
    """
    texts = [source]
    if code.co_name == "<lambda>" and body:
        indent = " " * len(_scopes(code))
        texts.append(f"{indent}(lambda {_parameters(code)}: (\n{body}\n))\n")
    imports = _imports(code.co_filename)
    for text in texts:
        wrapped = _in_scope(text, code)
        text = imports + wrapped if wrapped is not None else None
        compiled = _compile(text, code.co_filename, code.co_flags & _FUTURE_FLAGS, module)
        if compiled is not None and any(same(c, code) for c in nested(compiled) if c.co_name == code.co_name):
            return True
    return False


def module_describes(source: str, file: str, module: types.ModuleType, codes: list[types.CodeType]) -> bool:
    """Whether a module file's text is the one ``module`` was imported from.

    Every function and method the module defines (and ``codes``) must be found, by
    qualified name, in the compiled text, and every module-level name the text binds to an
    immutable literal must hold that value (unless some function rebinds it with ``global``).
    """
    compiled = _compile(source, file, 0, module)
    try:
        tree = ast.parse(source, file)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    if compiled is None:
        return False
    by_name: dict[str, list[types.CodeType]] = {}
    for c in nested(compiled):
        by_name.setdefault(c.co_qualname, []).append(c)
    live = list(codes) + list(module_code(module, file))
    if not all(any(same(c, code) for c in by_name.get(code.co_qualname, ())) for code in live):
        return False
    rebound = {ins.argval for c in live for n in nested(c) for ins in dis.get_instructions(n) if ins.opname == "STORE_GLOBAL"}
    for name, value in _literal_bindings(tree).items():
        if name not in rebound and not _equal_value(module.__dict__.get(name, _MISSING), value):
            return False
    return True


def module_code(module: types.ModuleType, file: str) -> Iterator[types.CodeType]:
    """Code objects of the functions and methods ``module`` holds that were compiled from ``file``."""
    seen: set[int] = set()
    for value in list(vars(module).values()):
        members = list(vars(value).values()) if isinstance(value, type) and value.__module__ == module.__name__ else []
        for item in [value, *members]:
            try:
                item = getattr(item, "__func__", item)  # classmethod, staticmethod
                item = inspect.unwrap(item) if callable(item) else item
                code = getattr(item, "__code__", None)
            except Exception:  # a proxy whose attribute access fails is no function of this file
                continue
            if isinstance(code, types.CodeType) and code.co_filename == file and id(code) not in seen:
                seen.add(id(code))
                yield code


_MISSING = object()


def _literal_bindings(tree: ast.Module) -> dict[str, Any]:
    """Top-level ``NAME = <literal>`` statements of a module, for names bound exactly once."""
    counts: dict[str, int] = {}
    values: dict[str, Any] = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        for target in targets:
            if isinstance(target, ast.Name):
                counts[target.id] = counts.get(target.id, 0) + 1
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and node.value is not None:
                    try:
                        values[target.id] = ast.literal_eval(node.value)
                    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                        pass
    # Lists, dicts and sets are left out: modules fill such registries as they run.
    return {name: value for name, value in values.items() if counts[name] == 1 and _immutable(value)}


def _immutable(value: Any) -> bool:
    if isinstance(value, (tuple, frozenset)):
        return all(_immutable(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, complex, str, bytes))


def _equal_value(live: Any, literal: Any) -> bool:
    try:
        return type(live) is type(literal) and bool(live == literal)
    except Exception:  # a value whose == raises or is not a bool (an array): not comparable
        return False


def _compile(text: str | None, file: str, flags: int, module: Any) -> types.CodeType | None:
    """``text`` compiled as the module's loader compiled it (pytest rewrites asserts in tests)."""
    if text is None:
        return None
    try:
        tree = ast.parse(text, file, feature_version=None)
        if type(getattr(module, "__loader__", None)).__name__ == "AssertionRewritingHook":
            from _pytest.assertion.rewrite import rewrite_asserts

            rewrite_asserts(tree, text.encode(), file)
        return compile(tree, file, "exec", flags=flags, dont_inherit=True)
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
        return None


def _in_scope(source: str, code: types.CodeType) -> str | None:
    """``source`` inside the scopes that make it compile as it did: a function binding the
    names it closes over, and the class it sits in (private-name mangling, ``super()``).

    The wrapper lines reuse prefixes of the text's own indentation, so nothing inside the
    text (a docstring's indentation) changes. None when the text is too shallow to wrap.
    """
    indent = source[: len(source) - len(source.lstrip(" \t"))]
    scopes = _scopes(code) or ([("if 1:", None)] if indent else [])
    if not scopes:
        return source
    if len(indent) < len(scopes):
        return None
    lines = []
    for depth, (header, body) in enumerate(scopes):
        lines.append(indent[:depth] + header + "\n")
        if body is not None:
            lines.append((indent[: depth + 1] if depth + 1 < len(scopes) else indent) + body + "\n")
    return "".join(lines) + source


def _scopes(code: types.CodeType) -> list[tuple[str, str | None]]:
    """(header, first body line) of each scope :func:`_in_scope` wraps ``code``'s text in."""
    parts = code.co_qualname.split(".")
    # A part followed by another name is a class; ``<locals>``, ``<listcomp>`` and the like are not.
    classes = [p for i, p in enumerate(parts[:-1]) if parts[i + 1] != "<locals>" and not p.startswith("<")]
    free = [name for name in code.co_freevars if name != "__class__" or not classes]
    scopes: list[tuple[str, str | None]] = []
    if free:
        scopes.append(("def __consist_scope__():", " = ".join(free) + " = None"))
    if classes:
        scopes.append((f"class {classes[-1]}:", None))
    return scopes


# File name -> (linecache's lines object, the import statements of its module scope).
_imports_memo: dict[str, tuple[Any, str]] = {}


def _imports(file: str) -> str:
    """``import name`` for each name the file binds by import in its module scope.

    The compiler calls methods of imported names differently (``re.sub(...)`` when ``re``
    was imported), so the text is compiled with the same names marked as imported.
    """
    lines = linecache.getlines(file)
    memo = _imports_memo.get(file)
    if memo is not None and memo[0] is lines:
        return memo[1]
    try:
        tree = ast.parse("".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        tree = ast.Module(body=[], type_ignores=[])
    names: set[str] = set()
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names if alias.name != "*")
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.expr)):
            stack.extend(ast.iter_child_nodes(node))  # if/try/with/for blocks are module scope too
    text = "".join(f"import {name}\n" for name in sorted(names))
    _imports_memo[file] = (lines, text)
    return text


def _parameters(code: types.CodeType) -> str:
    """A code object's parameter list, as source (defaults aside: they are not in the code)."""
    names, n, k = code.co_varnames, code.co_argcount, code.co_kwonlyargcount
    params = list(names[:n])
    if code.co_posonlyargcount:
        params.insert(code.co_posonlyargcount, "/")
    extra = n + k
    if code.co_flags & inspect.CO_VARARGS:
        params.append("*" + names[extra])
        extra += 1
    elif k:
        params.append("*")
    params.extend(names[n : n + k])
    if code.co_flags & inspect.CO_VARKEYWORDS:
        params.append("**" + names[extra])
    return ", ".join(params)


def nested(code: types.CodeType) -> Iterator[types.CodeType]:
    """``code`` and every code object nested in it."""
    stack = [code]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))


def same(a: types.CodeType, b: types.CodeType) -> bool:
    """Whether two code objects do the same thing: bytecode, constants, names; not positions."""
    if (
        a.co_code != b.co_code
        or a.co_names != b.co_names
        or a.co_varnames != b.co_varnames
        or a.co_freevars != b.co_freevars
        or a.co_cellvars != b.co_cellvars
        or (a.co_argcount, a.co_posonlyargcount, a.co_kwonlyargcount) != (b.co_argcount, b.co_posonlyargcount, b.co_kwonlyargcount)
        or a.co_flags & _KIND_FLAGS != b.co_flags & _KIND_FLAGS
        or a.co_exceptiontable != b.co_exceptiontable
        or len(a.co_consts) != len(b.co_consts)
    ):
        return False
    for x, y in zip(a.co_consts, b.co_consts):
        if isinstance(x, types.CodeType) and isinstance(y, types.CodeType):
            if not same(x, y):
                return False
        elif _const_key(x) != _const_key(y):
            return False
    return True


def _const_key(value: Any) -> Any:
    if isinstance(value, tuple):
        return ("tuple", tuple(_const_key(v) for v in value))
    if isinstance(value, frozenset):
        return ("frozenset", tuple(sorted(repr(_const_key(v)) for v in value)))
    return (type(value).__name__, repr(value))


# Code object id -> (the code, its source text or None, why the text found does not match).
_checked: dict[int, tuple[Any, str | None, str | None]] = {}


def checked_source(fn: Any, code: types.CodeType | None) -> tuple[str | None, str | None]:
    """``fn``'s source text when it is the text of the code that runs, else why not.

    ``(source, None)`` when the text compiles to ``fn``'s code; ``(None, None)`` when
    there is no text at all (``exec``, a REPL, a built-in); ``(None, reason)`` when
    the text found describes other code, warned about once per code object.
    """
    memo = _checked.get(id(code)) if code is not None else None
    if memo is not None and memo[0] is code:
        return memo[1], memo[2]
    try:
        source: str | None = inspect.getsource(fn)
    except (OSError, TypeError, SyntaxError):
        source = None
    reason = None
    if source is not None and code is not None:
        body = lambda_body(code) if code.co_name == "<lambda>" else None
        if not describes(source, code, body, sys.modules.get(getattr(fn, "__module__", None) or "")):
            source, reason = None, disagreement(fn, code.co_filename, module_file=False)
    if code is not None:
        _checked[id(code)] = (code, source, reason)
    return source, reason


def disagreement(fn: Any, file: str, module_file: bool) -> str:
    """Why the text found for ``fn`` is not its code, naming the function and the file; warned once."""
    name = f"{getattr(fn, '__module__', None) or '?'}.{getattr(fn, '__qualname__', None) or getattr(fn, '__name__', '?')}"
    module = sys.modules.get(getattr(fn, "__module__", None) or "")
    imported_from = getattr(module, "__file__", None)
    if imported_from and Path(imported_from) == Path(file) and Path(file).is_file():
        what = "the module file" if module_file else "the source of"
        detail, identified = f"{what} `{Path(file).name}` changed on disk since it was imported", "the imported code"
    elif Path(file).is_file():
        detail, identified = f"it was compiled from text that is not in `{file}`, the file it names", "its code object"
    else:
        detail, identified = f"the source text found for `{file}` is not its code", "its code object"
    reason = f"`{name}`: {detail}"
    warn(f"{reason}; identifying {identified}")
    return reason


UNMATCHED = "# No source text matches the code that ran"


def unmatched(reason: str) -> str:
    """The snapshot kept for ``explain`` when no source text matches the code that ran."""
    return f"{UNMATCHED}: {reason}.\n# It is identified by its code object.\n"


def lambda_body(code: types.CodeType) -> str:
    """The source text of a lambda's body, from its instructions' positions."""
    spans = [
        (line, end_line, col, end_col)
        for line, end_line, col, end_col in code.co_positions()
        if line is not None and end_line is not None and col is not None and end_col is not None
        and (end_line, end_col) > (line, col)
    ]
    if not spans:
        return ""
    first, last = min((s[0], s[2]) for s in spans), max((s[1], s[3]) for s in spans)
    lines = linecache.getlines(code.co_filename)
    if last[0] > len(lines):
        return ""
    # Columns are UTF-8 byte offsets.
    chunk = [line.encode() for line in lines[first[0] - 1 : last[0]]]
    chunk[-1] = chunk[-1][: last[1]]
    chunk[0] = chunk[0][first[1] :]
    return b"".join(chunk).decode(errors="replace")
