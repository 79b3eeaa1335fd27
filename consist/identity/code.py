"""Code identity: what version of a step's code ran.

Recipes (``code_identity=``):

``"callable_source"`` (default)
    The callable's own source text. Editing the function is a miss; editing a helper it
    calls is not (use ``"callable_module"`` or ``"repo_git"`` for that).
``"callable_module"``
    The source of the whole module file that defines the callable.
``"repo_git"``
    The git commit of the repository holding the callable, plus a digest of its
    uncommitted changes (``git diff HEAD``) when the tree is dirty.
``code_version="..."``
    An explicit version string you bump yourself; nothing is inspected.

When source is not available (functions made by ``exec``, typed into a REPL, built-ins)
the code object is hashed instead (bytecode, constants, names, recursively): a callable
always has an identity. Source text is used only once it is shown to be the text of the
code that runs (see :mod:`consist.identity.source_check`): a module edited on disk since it was
imported, or code compiled under the name of another file, is identified by its code
object, with a warning. Results are memoised per callable and recipe.

Besides the code, the values it reads count: default arguments, closure values and the
module-level constants it reads by name (``THRESHOLD = 0.5`` in another notebook cell),
each by value when immutable. Mutable globals (a dict of parameters) and helpers it calls
do not count: pass such values through ``config=`` to make them part of the key.
"""

from __future__ import annotations

import dis
import enum
import functools
import inspect
import subprocess
import sys
import textwrap
import types
from pathlib import Path, PurePath
from typing import Any

import msgspec

from consist.errors import ConfigError, UnhashableInputError
from consist.identity import source_check, stale_modules
from consist.identity.digests import canonical, code_hash
from consist.identity.hashing import hash_bytes
from consist.models import CodeInfo

RECIPES = ("callable_source", "callable_module", "repo_git")

# Keyed by the code object's identity, not equality: two code objects compare equal when
# only annotations, decorators or trailing comments differ (a notebook cell re-run with
# `df: pd.DataFrame` instead of `df: pl.DataFrame`), yet their sources do not. The value
# holds the object itself so its id cannot be reused while the entry lives.
_memo: dict[tuple[int, str], tuple[Any, CodeInfo, str | None]] = {}
# Folder -> (fingerprint, state, stale modules): git is asked again only when the fingerprint changes.
_git_memo: dict[str, tuple[tuple[Any, ...], tuple[str, str], list[types.ModuleType]]] = {}
# Code object id -> (the code, the global names it reads): scanning bytecode once per function.
_globals_memo: dict[int, tuple[Any, tuple[str, ...]]] = {}


def identify(fn: Any, recipe: str = "callable_source", version: str | None = None) -> tuple[CodeInfo, str | None]:
    """The :class:`CodeInfo` of ``fn`` under ``recipe``, and the source text behind it."""
    if version is not None:
        return CodeInfo(kind="version", hash=code_hash("version", str(version)), version=str(version)), None
    if recipe not in RECIPES:
        raise ConfigError(
            f"code_identity={recipe!r} is not a recipe; expected one of {', '.join(RECIPES)}, "
            "or pass code_version='...' for an explicit version."
        )
    seen: set[int] = set()
    target, extra = _unwrap(fn, seen)
    seen.update((id(fn), id(target)))
    info, source = _memoised(target, recipe)
    bound = _bound_values(target, seen)
    if extra is None and not bound:
        return info, source  # no values bound to the code: its memoised identity is the whole of it
    info = msgspec.structs.replace(info, hash=code_hash("bound", [info.hash, extra, bound]))
    read = next(({name: _shown(value) for name, value in item[1]} for item in bound if item[0] == "globals"), None)
    if read:
        # Recorded so a miss can name the constant; kept with the source so an
        # explanation's diff shows the values too.
        info = msgspec.structs.replace(info, globals=read)
        if source is not None:
            source += "".join(f"\n# global {name} = {value!r}" for name, value in read.items())
    return info, source


def _memoised(target: Any, recipe: str) -> tuple[CodeInfo, str | None]:
    code = getattr(target, "__code__", target)
    cached = _memo.get((id(code), recipe))
    # repo_git is checked on every call (cheaply, see _git_state): the repository can change
    # under a function object that stays the same (a helper module autoreloaded, a commit).
    if cached is None or cached[0] is not code or recipe == "repo_git":
        cached = (code, *_compute(target, recipe))
        _memo[(id(code), recipe)] = cached
    return cached[1], cached[2]


def _bound_values(fn: Any, seen: set[int]) -> list[Any]:
    """Default arguments and closure values: they change what the code does.

    ``lambda offset=offset: ...`` made in a loop shares one code object across
    iterations; its defaults tell the iterations apart. Only immutable values count by
    content (numbers, strings, None, paths, enums and tuples/frozensets of them);
    mutable ones (a ``calls = []`` list a step appends to, a dict cache, a DataFrame)
    count by their type, since their content changes as the program runs. Callables
    count by their own code identity.
    """
    out: list[Any] = []
    defaults = getattr(fn, "__defaults__", None)
    if defaults:
        out.append(["defaults", [_soft(v, seen) for v in defaults]])
    kwdefaults = getattr(fn, "__kwdefaults__", None)
    if kwdefaults:
        out.append(["kwdefaults", {k: _soft(v, seen) for k, v in sorted(kwdefaults.items())}])
    closure = getattr(fn, "__closure__", None)
    if closure:
        names = fn.__code__.co_freevars
        cells = []
        for name, cell in zip(names, closure):
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell: the name is not bound yet
                continue
            cells.append([name, _soft(value, seen)])
        if cells:
            out.append(["closure", cells])
    constants = _global_constants(fn)
    if constants:
        out.append(["globals", constants])
    return out


def _global_constants(fn: Any) -> list[list[Any]]:
    """The immutable module-level values ``fn`` reads by name, as ``[name, value]`` pairs.

    A notebook step that reads ``THRESHOLD`` from another cell computes something else
    once that cell is edited and re-run. Only immutable values count (numbers, strings,
    enums, tuples of them); paths, modules, classes, functions and mutable objects are
    skipped, so a step's hash does not move as a list it appends to grows, and a helper
    is counted only under the recipes that include it.
    """
    code = getattr(fn, "__code__", None)
    namespace = getattr(fn, "__globals__", None)
    if code is None or not isinstance(namespace, dict):
        return []
    memo = _globals_memo.get(id(code))
    if memo is None or memo[0] is not code:
        memo = (code, _global_names(code))
        _globals_memo[id(code)] = memo
    out = []
    for name in memo[1]:
        value = namespace.get(name, _MISSING)
        if value is not _MISSING and _immutable(value) and not _has_path(value):
            try:
                out.append([name, _recordable(canonical(value, f"global {name}"), value)])
            except UnhashableInputError:
                continue
    return out


_packer = msgspec.msgpack.Encoder()


def _recordable(form: Any, value: Any) -> Any:
    """``form``, or ``value``'s repr where a digest or record could not hold it.

    A file name read in another encoding (a string with a lone surrogate) or an int beyond
    64 bits is a valid Python constant; its repr is ASCII and tells such values apart.
    """
    try:
        _packer.encode(form)
    except (OverflowError, UnicodeEncodeError, TypeError, ValueError):
        return f"<{type(value).__name__} {value!r}>"
    return form


_MISSING = object()


def _has_path(value: Any) -> bool:
    """Whether ``value`` is or holds a path: where files are never counts toward identity
    (``DATA = Path(__file__).parent / "data"`` differs on every machine; the files
    themselves count when they are inputs)."""
    if isinstance(value, PurePath):
        return True
    return isinstance(value, (tuple, frozenset)) and any(_has_path(v) for v in value)
# A global's value is recorded as is up to this many characters; a longer one (a query
# string, a long tuple) by a digest, so run records stay small.
_SHOWN_CHARS = 200


def _shown(value: Any) -> Any:
    if len(repr(value)) <= _SHOWN_CHARS:
        return value
    return f"<{type(value).__name__} {code_hash('global', value)[:12]}>"


def _global_names(code: types.CodeType) -> tuple[str, ...]:
    """Global names the code (and code nested in it) reads but never assigns, dunders aside."""
    loads: set[str] = set()
    stores: set[str] = set()
    stack = [code]
    while stack:
        current = stack.pop()
        for ins in dis.get_instructions(current):
            if ins.opname == "LOAD_GLOBAL":
                loads.add(ins.argval)
            elif ins.opname in ("STORE_GLOBAL", "DELETE_GLOBAL"):
                stores.add(ins.argval)  # the function's own state, changed by running it
        stack.extend(const for const in current.co_consts if isinstance(const, types.CodeType))
    return tuple(sorted(name for name in loads - stores if not name.startswith("__")))


def _soft(value: Any, seen: set[int]) -> Any:
    if isinstance(value, (types.FunctionType, types.MethodType, functools.partial)):
        if id(value) in seen:
            return "<recursive>"
        seen.add(id(value))
        target, extra = _unwrap(value, seen)
        info = _memoised(target, "callable_source")[0]
        return ["callable", info.hash, extra, _bound_values(target, seen)]
    if isinstance(value, (type, types.ModuleType)):
        return f"<{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', getattr(value, '__name__', ''))}>"
    if _immutable(value):
        try:
            return _recordable(canonical(value, "bound value"), value)
        except UnhashableInputError:
            pass
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def _immutable(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, PurePath, enum.Enum)):
        return True
    if isinstance(value, (tuple, frozenset)):
        return all(_immutable(v) for v in value)
    return False


def _unwrap(fn: Any, seen: set[int]) -> tuple[Any, Any]:
    """The function whose code identifies ``fn``, and bound values that also count.

    Bound values are a partial's arguments and the state of the instance a method is
    bound to (``Model(k=2).run`` and ``Model(k=3).run`` compute different things),
    by the same rule as closure values (see :func:`_bound_values`).
    """
    if type(fn) is types.FunctionType and not hasattr(fn, "__wrapped__"):
        return fn, None  # the usual step: a plain function, nothing to unwrap
    extra: dict[str, Any] = {}
    if isinstance(fn, functools.partial):
        extra["args"] = [_soft(a, seen) for a in fn.args]
        extra["kwargs"] = {k: _soft(v, seen) for k, v in fn.keywords.items()}
        fn = fn.func
    if isinstance(fn, types.MethodType):
        extra["self"] = _instance_state(fn.__self__, seen)
        fn = fn.__func__
    fn = inspect.unwrap(fn)
    if not isinstance(fn, (types.FunctionType, type)) and callable(fn) and hasattr(type(fn), "__call__"):
        call = type(fn).__call__
        if isinstance(call, types.FunctionType):
            extra["self"] = _instance_state(fn, seen)
            fn = call
    return fn, extra or None


def _instance_state(obj: Any, seen: set[int]) -> Any:
    """An instance's attributes (``__dict__`` and slots) as :func:`_soft` values; a class by name."""
    if isinstance(obj, (type, types.ModuleType)):
        return _soft(obj, seen)
    if id(obj) in seen:
        return "<recursive>"
    seen.add(id(obj))
    attrs = dict(getattr(obj, "__dict__", None) or {})
    for klass in type(obj).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
                attrs[name] = getattr(obj, name)
    return [_soft(type(obj), seen), [[k, _soft(attrs[k], seen)] for k in sorted(attrs)]]


def _location(fn: Any) -> dict[str, Any]:
    code = getattr(fn, "__code__", None)
    return {
        "module": getattr(fn, "__module__", None),
        "qualname": getattr(fn, "__qualname__", None),
        "file": code.co_filename if code is not None else None,
        "line": code.co_firstlineno if code is not None else None,
    }


def _compute(fn: Any, recipe: str) -> tuple[CodeInfo, str | None]:
    where = _location(fn)
    code = getattr(fn, "__code__", None)
    if recipe == "repo_git":
        commit, dirty, stale = _git_state(where["file"])
        if commit and source_check.checked_source(fn, code)[1] is None:
            # Modules edited on disk since import run their old code: identify that code.
            old = [[m.__name__, [_code_payload(c) for c in source_check.module_code(m, m.__file__)]] for m in stale]
            digest = code_hash("repo_git", [commit, dirty, old] if old else [commit, dirty])
            return CodeInfo(kind="repo_git", hash=digest, version=commit, **where), None
        recipe = "callable_module" if commit == "" else "callable_source"
    if recipe == "callable_module":
        module = sys.modules.get(where["module"] or "")
        path = getattr(module, "__file__", None)
        if module is not None and path and Path(path).is_file():
            source = Path(path).read_text(encoding="utf-8", errors="replace")
            codes = [code] if code is not None else []
            if source_check.module_describes(source, path, module, codes):
                return CodeInfo(kind="callable_module", hash=code_hash("module", source), **where), source
            reason = source_check.disagreement(fn, path, module_file=True)
            payload = [_code_payload(c) for c in [*codes, *source_check.module_code(module, path)]]
            return CodeInfo(kind="bytecode", hash=code_hash("bytecode", payload), **where), source_check.unmatched(reason)
        recipe = "callable_source"
    source, reason = source_check.checked_source(fn, code)
    if source is None:
        if code is None:
            token = f"{where['module']}.{where['qualname'] or getattr(fn, '__name__', repr(fn))}"
            return CodeInfo(kind="name", hash=code_hash("name", token), **where), None
        snapshot = source_check.unmatched(reason) if reason else None
        return CodeInfo(kind="bytecode", hash=code_hash("bytecode", _code_payload(code)), **where), snapshot
    source = textwrap.dedent(source)
    if code is not None and code.co_name == "<lambda>":
        # getsource gives a lambda's whole line, which may hold other lambdas
        # ({"head": lambda df: ..., "tail": lambda df: ...}): add this one's own text.
        source += f"\n# lambda {list(code.co_varnames[: code.co_argcount])}: {source_check.lambda_body(code)}\n"
    return CodeInfo(kind="callable_source", hash=code_hash("source", source), **where), source


def _code_payload(code: types.CodeType) -> list[Any]:
    consts = []
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            consts.append(_code_payload(const))
        elif isinstance(const, (str, int, float, bool, bytes, type(None))):
            consts.append(const.hex() if isinstance(const, bytes) else const)
        else:
            consts.append(repr(const))
    return [code.co_code.hex(), consts, list(code.co_names), list(code.co_varnames)]


def _git_state(file: str | None) -> tuple[str, str, list[types.ModuleType]]:
    """(commit, digest of ``git diff HEAD``, stale modules) of the repository holding ``file``.

    Running git costs about 10 ms, so the answer is memoised per folder, but only while
    nothing it depends on changed: the repository's ``HEAD`` and index (a commit or a
    checkout) and every Python file loaded from inside the repository (an edit, then a
    re-import or autoreload in a long notebook session). A stale memo would serve the
    results of the old code as a hit. The stale modules are those loaded from the
    repository whose file changed since import (see :mod:`consist.identity.stale_modules`);
    each is checked again on every call, as a reload makes it current without any file changing.
    """
    if not file or not Path(file).exists():
        return "", "", []
    folder = str(Path(file).resolve().parent)
    memo = _git_memo.get(folder)
    if memo is not None and memo[0] and memo[0] == _git_fingerprint(memo[0][0]):
        return (*memo[1], [m for m in memo[2] if not stale_modules.matches(m)])
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--show-toplevel", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10
        ).stdout.split()
        root, commit = (head[0], head[1]) if len(head) == 2 else ("", "")
        diff = subprocess.run(
            ["git", "diff", "HEAD"], cwd=folder, capture_output=True, timeout=30
        ).stdout if commit else b""
    except (OSError, subprocess.SubprocessError):
        root, commit, diff = "", "", b""
    state = (commit, hash_bytes(diff) if diff else "")
    stale = stale_modules.stale_modules(root) if root else []
    _git_memo[folder] = (_git_fingerprint(root) if root else (), state, stale)
    return (*state, stale)


def _git_fingerprint(root: str) -> tuple[Any, ...]:
    """What the git state of ``root`` depends on, cheaply: stats of git's own files and of loaded modules."""
    stats: list[Any] = [root]
    for name in ("HEAD", "index", "logs/HEAD"):  # the reflog grows on every commit and checkout
        try:
            st = Path(root, ".git", name).stat()
            stats.append((name, st.st_mtime_ns, st.st_size))
        except OSError:
            stats.append((name, None))
    prefix = root.rstrip("/") + "/"
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.startswith(prefix):
            try:
                st = Path(path).stat()
                stats.append((path, st.st_mtime_ns, st.st_size))
            except OSError:
                stats.append((path, None))
    return (root, *sorted(stats[1:], key=lambda item: item[0]))
