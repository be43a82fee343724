"""Shared machinery of the typed configuration: strict models, YAML reading, error messages.

Every key of every ``layers/*.yaml`` file is declared once, in a pydantic model, with its type,
default, range, unit and description (:func:`F`). Models forbid unknown keys and reject NaN and
infinities; :func:`validate_file` turns pydantic's errors into one line per problem naming the file,
the key and, for an unknown key, the nearest valid one ("did you mean tolerance_km?").
"""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError

#: Border scenarios, the one list every configuration file and stage draws from: ``open`` (no
#: delay at crossings), ``current`` (the configured delays), ``closed`` (crossings unusable).
SCENARIOS: tuple[str, ...] = ("open", "current", "closed")

Scenario = typing.Literal["open", "current", "closed"]
ISO3_PATTERN = r"^[A-Z]{3}$"
ISO3 = typing.Annotated[str, Field(pattern=ISO3_PATTERN,
                                   description="ISO 3166-1 alpha-3 country code, e.g. KAZ")]


class Strict(BaseModel):
    """Base of every configuration model: unknown keys, NaN and infinities are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True, strict=True,
                              validate_default=True)

    @classmethod
    def raw_checks(cls, data: Any) -> list[str]:
        """Checks between keys of the file, run on the parsed YAML whether or not the model
        validates (pydantic skips model validators when a field fails): ``key: problem`` lines."""
        return []


def F(default: Any = ..., description: str = "", *, unit: str | None = None, **constraints: Any) -> Any:
    """A model field with its description, unit (shown in docs/configuration.md) and range.

    Parameters
    ----------
    default
        The default (``...``: the key is required).
    description
        One sentence for users; the reference documentation shows it.
    unit
        Unit of the value (km, h, km/h, m, …), or None.
    **constraints
        pydantic constraints: ``ge``, ``gt``, ``le``, ``lt``, ``min_length``, ``pattern``, …

    Returns
    -------
    pydantic FieldInfo
    """
    extra = {"unit": unit} if unit else None
    return Field(default, description=description, json_schema_extra=extra, **constraints)


M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; a missing file or bad YAML is a :class:`ConfigError` naming it."""
    if not path.is_file():
        raise ConfigError(f"configuration file {path} not found")
    try:   # libyaml's parser when PyYAML has it (the same data, several times faster), else PyYAML's own
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return {} if data is None else data


def validate_file(path: Path, model: type[M], *, required: bool = True) -> M:
    """Read ``path`` and validate it against ``model``; all problems of the file in one error.

    Parameters
    ----------
    path
        A YAML file of the configuration folder.
    model
        The pydantic model of that file.
    required
        When False, a missing file gives the model's defaults.

    Returns
    -------
    The validated model instance.
    """
    if not required and not path.is_file():
        return model()
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    problems = [f"{path}: {p}" for p in (model.raw_checks(data) if issubclass(model, Strict) else [])]
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        problems = describe_errors(path, model, exc) + problems
    if problems:
        raise ConfigError("\n".join(problems))
    return result


def raw(data: Any, *keys: str) -> Any:
    """``data[k1][k2]…`` of parsed YAML, or None where a level is missing or not a mapping."""
    for k in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(k)
    return data


def describe_errors(path: Path, model: type[BaseModel], exc: ValidationError) -> list[str]:
    """One line per problem: ``file: key.path: what is wrong`` (with a suggestion for typos).

    Parameters
    ----------
    path
        The file that was validated (named in each line).
    model
        Its model, to list the valid keys next to an unknown one.
    exc
        pydantic's error.

    Returns
    -------
    list of str
    """
    lines = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"] if p != "root"]
        key = ".".join(loc) or "(top level)"
        kind, msg, value = err["type"], err["msg"], err.get("input")
        if kind == "extra_forbidden":
            valid = _keys_at(model, err["loc"][:-1])
            near = difflib.get_close_matches(loc[-1], valid, n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]}?" if near else ""
            known = f" (valid keys: {', '.join(valid)})" if valid else ""
            lines.append(f"{path}: {key}: unknown key{hint}{known}")
            continue
        if kind == "finite_number":
            msg = f"{value!r} is not a finite number"
        elif kind == "missing":
            msg = "missing (required)"
        elif kind in ("float_type", "float_parsing", "int_type", "int_parsing", "int_from_float"):
            msg = f"{value!r} is not a {'whole ' if kind.startswith('int') else ''}number"
        elif kind == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == ISO3_PATTERN:
            msg = f"{value!r} is not an ISO 3166-1 alpha-3 code (three capital letters, e.g. KAZ)"
        elif kind == "string_pattern_mismatch":
            msg = f"{value!r} does not match {err['ctx']['pattern']}"
        elif kind == "too_short" and value in ([], {}, ""):
            msg = "expected a non-empty list" if isinstance(value, list) else "must not be empty"
        elif kind in ("bool_type", "bool_parsing"):
            msg = f"{value!r} is not true or false"
        elif kind in ("string_type", "list_type", "dict_type", "model_type"):
            want = {"string_type": "text", "list_type": "a list", "dict_type": "a mapping",
                    "model_type": "a mapping"}[kind]
            msg = f"expected {want}, got {value!r}"
        elif kind.startswith("value_error") or kind == "assertion_error":
            msg = msg.removeprefix("Value error, ")
        else:
            msg = f"{msg} (got {value!r})" if not isinstance(value, (dict, list)) else msg
        lines.append(f"{path}: {key}: {msg}")
    return lines


def _keys_at(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model reached by following ``loc`` from ``model`` (empty if unknown)."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if part == "root" or part not in tp.model_fields:
                if "root" in tp.model_fields:
                    tp = tp.model_fields["root"].annotation
                    tp = _unwrap(tp)
                    args = typing.get_args(tp)
                    tp = args[-1] if args else Any
                    continue
                return []
            tp = tp.model_fields[part].annotation
        elif typing.get_origin(tp) in (dict, list, tuple):
            args = typing.get_args(tp)
            tp = args[-1] if args else Any
        else:
            # A union of models (e.g. a vintage given as a string or a mapping): the model branch.
            branches = [a for a in typing.get_args(tp) if isinstance(a, type) and issubclass(a, BaseModel)]
            if not branches:
                return []
            tp = branches[0]
            if part in tp.model_fields:
                tp = tp.model_fields[part].annotation
    tp = _unwrap(tp)
    if typing.get_origin(tp) in (Union, types.UnionType):
        branches = [a for a in typing.get_args(tp) if isinstance(a, type) and issubclass(a, BaseModel)]
        tp = branches[0] if branches else tp
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [k for k in tp.model_fields if k != "root"]
    return []


def _unwrap(tp: Any) -> Any:
    """Strip Annotated[...] and Optional[...] (X | None) from a type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
        return tp


def section_loader(file: str, model: type[BaseModel], key: str):
    """A function ``load(layers_dir)`` that validates ``layers/<file>`` and returns its ``key`` section.

    Parameters
    ----------
    file
        The YAML file's name in the configuration folder.
    model
        Its model.
    key
        The top-level section returned.

    Returns
    -------
    callable
    """
    def load(layers_dir: Path | str):
        return getattr(validate_file(Path(layers_dir) / file, model), key)

    load.__doc__ = (f"Validate ``layers/{file}`` and return its ``{key}`` section.\n\n    Parameters\n    "
                    f"----------\n    layers_dir\n        The configuration folder.\n\n    Returns\n    -------\n"
                    f"    {model.model_fields[key].annotation.__name__}\n    ")
    load.__name__ = f"load_{key}"
    return load
