"""``docs/configuration.md``, generated from the typed models (``pipeline config-docs``).

A test regenerates it and fails when the committed file is stale, so the reference and the models
cannot disagree.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Union

import annotated_types as at
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from . import FILES
from .base import _unwrap

HEADER = """# Configuration reference

Generated from the typed models of `pipeline/config/` by `pipeline config-docs`; do not edit (a test
fails when it is stale). Every file lives in `layers/`. Unknown keys are errors (with the nearest
valid key), NaN and infinities are rejected, and `pipeline check-config` (the first step of
`make all`) reports every problem of every file at once, including the checks that span files:
modes named in accessibility.yaml and the delay table exist in network.yaml; tiers named in
influence.yaml exist in poles.yaml; route stops are poles, checkpoints or places; GeoNames ids
exist; country codes are countries of the data.

`<name>` in a key stands for a name you choose (a mode, a tier, a neighbour's code); `[]` for the
items of a list.
"""


def _type_name(tp: Any) -> str:
    tp = _unwrap(tp)
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is typing.Literal:
        return " / ".join(repr(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        k, v = typing.get_args(tp)
        return f"mapping {_type_name(k)} → {_type_name(v)}"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "mapping"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _range(field: Any) -> str:
    parts = []
    text = _unwrap(field.annotation) is str
    for m in field.metadata:
        for attr, sym in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            v = getattr(m, attr, None)
            if v is not None and isinstance(m, (at.Ge, at.Gt, at.Le, at.Lt, at.Interval)):
                parts.append(f"{sym} {v:g}")
        unit = "character" if text else "item"
        if isinstance(m, at.MinLen) and m.min_length:
            parts.append("not empty" if text and m.min_length == 1 else f"at least {m.min_length} {unit}(s)")
        if isinstance(m, at.MaxLen):
            parts.append(f"at most {m.max_length}")
        pattern = getattr(m, "pattern", None)
        if pattern:
            parts.append(f"matches `{pattern}`")
    return ", ".join(parts)


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    d = field.default
    if d is PydanticUndefined:
        return ""
    if isinstance(d, BaseModel):
        return "(section)"
    return f"`{d!r}`"


def _rows(model: type[BaseModel], prefix: str) -> list[tuple[str, ...]]:
    rows = []
    for name, field in model.model_fields.items():
        if name == "root":
            tp = _unwrap(field.annotation)
            inner = _unwrap(typing.get_args(tp)[-1])
            rows += _rows(inner, f"{prefix}<name>.") if isinstance(inner, type) and issubclass(inner, BaseModel) \
                else []
            continue
        key = f"{prefix}{name}"
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        tp = _unwrap(field.annotation)
        about = field.description or (tp.__doc__ or "").strip() if isinstance(tp, type) and \
            issubclass(tp, BaseModel) else field.description or ""
        rows.append((f"`{key}`", _type_name(field.annotation), _default(field), _range(field),
                     str(extra.get("unit", "")), about))
        for nested, sub in _nested(tp, key):
            rows += _rows(nested, sub)
    return rows


def _nested(tp: Any, key: str) -> list[tuple[type[BaseModel], str]]:
    """Models reachable from a field type, with the key prefix of their fields."""
    tp = _unwrap(tp)
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [(tp, f"{key}.")]
    if origin is dict:
        return [(m, p.replace(f"{key}.", f"{key}.<name>.", 1)) for m, p in _nested(typing.get_args(tp)[1], key)]
    if origin in (list, tuple):
        return [(m, p.replace(f"{key}.", f"{key}[].", 1)) for m, p in _nested(typing.get_args(tp)[0], key)]
    if origin in (Union, types.UnionType):
        return [x for a in typing.get_args(tp) for x in _nested(a, key)]
    return []


def render() -> str:
    """The whole reference as Markdown.

    Returns
    -------
    str
    """
    out = [HEADER]
    for file, model in FILES.items():
        out += [f"## layers/{file}", "", (model.__doc__ or "").strip().split(": ", 1)[-1], "",
                "| key | type | default | range | unit | description |",
                "| --- | --- | --- | --- | --- | --- |"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in _rows(model, "")]
        out.append("")
    return "\n".join(out)


def write(path) -> None:
    """Write :func:`render` to ``path`` (atomically)."""
    from ..io import write_text

    write_text(path, render())
