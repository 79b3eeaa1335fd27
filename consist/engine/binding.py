"""Binding a step's inputs, config and runtime values to its function's parameters.

Rules, in order of precedence (later wins):

1. loaded inputs go to the parameter of the same name, loaded as the parameter's
   annotation asks (``pd.DataFrame``, ``pl.DataFrame``, ``pl.LazyFrame``, ``pa.Table``,
   ``Path``, ``str`` for the path as text, ``consist.Artifact`` for the artifact
   itself), else as they were logged;
2. config keys go to parameters of the same name; a parameter named ``config``
   receives the whole config;
3. ``runtime_kwargs`` (never hashed);
4. ``_consist_ctx`` when ``inject_context=True``.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
import weakref
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

import msgspec

from consist.artifacts.formats.drivers import load
from consist.errors import ConfigError, InputNotFoundError

if typing.TYPE_CHECKING:
    from consist.engine.spec import StepSpec
    from consist.models import Artifact

CTX_PARAM = "_consist_ctx"

_ANNOTATION_KINDS = {
    ("pandas", "DataFrame"): "pandas",
    ("polars", "DataFrame"): "polars",
    ("polars", "LazyFrame"): "lazy",
    ("pyarrow", "Table"): "arrow",
    ("duckdb", "DuckDBPyRelation"): "duckdb",
    ("consist", "Artifact"): "artifact",
    ("builtins", "str"): "str",
    ("xarray", "Dataset"): "xarray",
    ("xarray", "DataArray"): "dataarray",
}
# Kinds that hand over the artifact (or its path as text) without reading the file.
UNLOADED_KINDS = ("artifact", "str")
_STRING_KINDS = {
    "pd.DataFrame": "pandas",
    "pandas.DataFrame": "pandas",
    "pl.DataFrame": "polars",
    "polars.DataFrame": "polars",
    "pl.LazyFrame": "lazy",
    "polars.LazyFrame": "lazy",
    "LazyFrame": "lazy",
    "pa.Table": "arrow",
    "pyarrow.Table": "arrow",
    "Path": "path",
    "pathlib.Path": "path",
    "Artifact": "artifact",
    "consist.Artifact": "artifact",
    "str": "str",
    "xr.Dataset": "xarray",
    "xarray.Dataset": "xarray",
    "xr.DataArray": "dataarray",
    "xarray.DataArray": "dataarray",
}


class FnShape:
    """What binding needs to know about a callable, computed once per callable."""

    __slots__ = ("params", "required", "var_kw", "load_as", "name")

    def __init__(self, fn: Any) -> None:
        self.name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            sig = None
        self.params: set[str] = set()
        self.required: list[str] = []
        self.var_kw = sig is None
        self.load_as: dict[str, str | None] = {}
        if sig is None:
            return
        try:
            hints = typing.get_type_hints(fn)
        except Exception:
            hints = {}
        for p in sig.parameters.values():
            if p.kind is p.VAR_KEYWORD:
                self.var_kw = True
                continue
            if p.kind is p.VAR_POSITIONAL or p.kind is p.POSITIONAL_ONLY:
                continue
            self.params.add(p.name)
            if p.default is p.empty:
                self.required.append(p.name)
            self.load_as[p.name] = _kind_of(hints.get(p.name, p.annotation))

    def accepts(self, name: str) -> bool:
        return name in self.params or self.var_kw


# Weak keys: a strong memo would keep every step function alive, and with it whatever
# its closure or bound instance holds (a notebook making steps over large frames in a
# loop would never free them).
_shapes: weakref.WeakKeyDictionary[Any, FnShape] = weakref.WeakKeyDictionary()


def shape_of(fn: Any) -> FnShape:
    """The memoised :class:`FnShape` of ``fn``."""
    try:
        shape = _shapes.get(fn)
    except TypeError:  # unhashable, or no weak references (some callable objects)
        return FnShape(fn)
    if shape is None:
        shape = FnShape(fn)
        try:
            _shapes[fn] = shape
        except TypeError:
            pass
    return shape


def _kind_of(annotation: Any) -> str | None:
    if annotation is inspect.Parameter.empty or annotation is None:
        return None
    if isinstance(annotation, str):
        text = annotation.replace(" ", "")
        kinds = [_STRING_KINDS.get(part.removeprefix("Optional[").removesuffix("]")) for part in text.split("|")]
        return _first_kind(kinds)
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        return "path"
    args = typing.get_args(annotation)
    if args and typing.get_origin(annotation) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return _first_kind([_kind_of(arg) for arg in args])
    module = (getattr(annotation, "__module__", "") or "").split(".")[0]
    return _ANNOTATION_KINDS.get((module, getattr(annotation, "__name__", "")))


def _first_kind(kinds: list[str | None]) -> str | None:
    # In a union, a frame or path kind wins over ``str`` (``str | Path`` means "a path").
    found = [k for k in kinds if k]
    return next((k for k in found if k != "str"), found[0] if found else None)


def config_values(config: Any) -> dict[str, Any]:
    """The top-level fields of a config (dict, pydantic model, Struct or dataclass)."""
    if config is None:
        return {}
    if isinstance(config, dict):
        return config
    if isinstance(config, msgspec.Struct):
        return {f: getattr(config, f) for f in config.__struct_fields__}
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    fields = getattr(type(config), "model_fields", None)
    if fields is not None:
        return {name: getattr(config, name) for name in fields}
    return {}


def check_context_param(shape: FnShape, inject_context: bool) -> None:
    """``inject_context=True`` needs a ``_consist_ctx`` parameter (or ``**kwargs``)."""
    if inject_context and not shape.accepts(CTX_PARAM):
        raise ConfigError(
            f"inject_context=True but {shape.name}() has no '{CTX_PARAM}' parameter. "
            f"Add `{CTX_PARAM}` to its signature, or drop inject_context=True."
        )


def bind(
    shape: FnShape,
    *,
    loaded: dict[str, Any],
    config: Any,
    runtime_kwargs: dict[str, Any] | None,
    ctx: Any | None,
    inputs: Sequence[str] = (),
) -> dict[str, Any]:
    """The keyword arguments to call the step with (``inputs``: the step's input names, for errors)."""
    kwargs = {name: value for name, value in loaded.items() if shape.accepts(name)}
    if config is not None:
        for name, value in config_values(config).items():
            if name in shape.params and name not in kwargs:
                kwargs[name] = value
        if "config" in shape.params and "config" not in loaded:
            kwargs["config"] = config
    if runtime_kwargs:
        kwargs.update(runtime_kwargs)
    if ctx is not None:
        kwargs[CTX_PARAM] = ctx
    missing = [name for name in shape.required if name not in kwargs]
    if CTX_PARAM in missing:
        raise ConfigError(
            f"{shape.name}() takes '{CTX_PARAM}' (the run context), which consist passes only when asked: "
            "add inject_context=True to the call."
        )
    if missing:
        raise ConfigError(_missing_message(shape, missing, inputs, loaded))
    return kwargs


def _missing_message(shape: FnShape, missing: list[str], inputs: Sequence[str], loaded: dict[str, Any]) -> str:
    # Name the usual causes: an input that was hashed but not loaded, or an input whose
    # name is not the parameter's.
    needs = f"{shape.name}() needs {', '.join(repr(m) for m in missing)}"
    names = [n.split("#")[0] for n in inputs]
    unloaded = [m for m in missing if m in names and m not in loaded]
    if unloaded:
        return (
            f"{needs}: {unloaded[0]!r} is an input, but inputs are not loaded here (load_inputs=False, or "
            f"inputs given as a list). Set load_inputs=True, or pass it with runtime_kwargs={{{unloaded[0]!r}: ...}}."
        )
    message = (
        f"{needs}, which no input, config key or runtime_kwargs entry supplies. Add it to inputs= "
        "(with load_inputs=True), to config=, or to runtime_kwargs=."
    )
    unmatched = [n for n in names if n not in shape.params]
    if unmatched and not shape.var_kw:
        message += (
            f" Inputs reach the parameter of the same name, and {unmatched} match no parameter of "
            f"{shape.name}(): rename the input (e.g. inputs={{{missing[0]!r}: ...}}) or the parameter."
        )
    labels = [m for m in missing if m in ("year", "iteration")]
    if labels:
        # year=/iteration= label the run; a function that reads the value must get it
        # through config so that each value is its own cache entry.
        message += (
            f" The run's {labels[0]}= option only labels the record; to pass it to the function, "
            f"use config={{{labels[0]!r}: ...}}."
        )
    return message


def load_kind(shape: FnShape, name: str) -> str | None:
    """How to load the input bound to parameter ``name`` (None: as it was logged)."""
    return shape.load_as.get(name)


def unloaded(kind: str, artifact: Any) -> Any:
    """The value for a parameter annotated ``Artifact`` (the artifact) or ``str`` (its path)."""
    return artifact if kind == "artifact" else str(artifact.path)


def load_inputs(spec: StepSpec, inputs: Mapping[str, Artifact], shape: FnShape) -> dict[str, Any]:
    """``inputs`` loaded as the function's parameters ask (only for a mapping, or ``load_inputs=True``)."""
    auto = spec.load_inputs if spec.load_inputs is not None else isinstance(spec.inputs, Mapping)
    if not auto:
        return {}
    loaded = {}
    for name, artifact in inputs.items():
        if name.startswith("depends_on:") or not shape.accepts(name):
            continue
        path = artifact.path
        kind = load_kind(shape, name)
        # A Parquet file read into a frame is opened at once, so a missing one is found by
        # that open (one stat less); what is loaded lazily, or not at all, is checked first.
        eager = artifact.driver == "parquet" and (kind or artifact.frame_kind or "polars") in _EAGER_KINDS
        if not eager and not path.exists():
            raise _gone(name, artifact, path)
        if kind in UNLOADED_KINDS:
            loaded[name] = unloaded(kind, artifact)
            continue
        try:
            loaded[name] = load(path, artifact.driver, kind, artifact.frame_kind)
        except FileNotFoundError:
            if not eager or path.exists():
                raise
            raise _gone(name, artifact, path) from None
    return loaded


_EAGER_KINDS = frozenset({"polars", "pandas", "arrow"})


def _gone(name: str, artifact: Artifact, path: PurePath) -> InputNotFoundError:
    return InputNotFoundError(
        f"Input {name!r} was produced by run {artifact.run_id} at {path}, which no longer "
        "exists. Re-run the producing step, or use cache_hydration='inputs-missing'."
    )
