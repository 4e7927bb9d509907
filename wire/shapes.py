"""Decoding a request against its declared shape, naming every problem at once.

msgspec decodes a typed value in C but stops at the first error; a client wants one answer naming every
field at fault. ``decode`` walks the raw JSON beside the declared type (msgspec Structs, lists, Literals,
``Annotated`` constraints), collects every problem with its JSON path, and converts with msgspec at the
end. It is tolerant where the real service's JSON binding is (ASP.NET Core's web defaults):

- property names match case-insensitively (``whatsapp`` is ``whatsApp``); a name given twice is an error;
- string enums (``Literal``) match case-insensitively and are stored as declared (``HTML`` -> ``Html``);
- ``null`` is an absent field, and ``{}`` for an optional object is absent too (seed 002's sendbulk
  example sends ``"whatsApp": {}``);
- unknown fields are ignored and listed in ``Decoded.ignored`` (the API names them in a response header),
  unless the Struct says ``forbid_unknown_fields``.

Rules a type can't say live beside the Struct as a ``problems(self) -> list[FieldError]`` method (paths
relative to the Struct); they run on every Struct whose own fields are good, even where something deeper
down failed, so a bad field elsewhere hides none of them. A type annotated ``msgspec.Meta(extra={"error": "must be ..."})`` is reported with
that message instead of msgspec's when the value has the right type (a wrong type says which it needs).
"""

from __future__ import annotations

import functools
import math
import types
import typing
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, Union

import msgspec

from wire.errors import FieldError

T = TypeVar("T")
_ABSENT = object()


@dataclass(slots=True)
class Decoded(Generic[T]):
    """What ``decode`` made of a raw value: the typed value (None when there are errors), every problem,
    and the paths of the fields it ignored."""

    value: T | None
    errors: list[FieldError] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    mistyped: int = 0  # how many of the errors left a value of the wrong type (the rest broke a constraint or rule)

    def mistype(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))
        self.mistyped += 1


def decode(raw: Any, shape: Any, path: str = "") -> Decoded[Any]:
    """``raw`` (decoded JSON) as ``shape``, or every problem with it named by its path under ``path``."""
    out: Decoded[Any] = Decoded(None)
    value = _walker(shape)(raw, path, out)
    if not out.errors:
        out.value = value
    return out


def join(prefix: str, name: str) -> str:
    """The path of field ``name`` inside ``prefix`` (``messages[3]`` + ``viber`` -> ``messages[3].viber``)."""
    return f"{prefix}.{name}" if prefix else name


def prefixed(prefix: str, errors: list[FieldError]) -> list[FieldError]:
    """``errors`` named relative to ``prefix`` (an error on the empty path names ``prefix`` itself)."""
    return [FieldError(join(prefix, e.field) if e.field else prefix, e.message) for e in errors]


def is_absent(value: Any) -> bool:
    """A field a client sent as ``null`` or ``{}``: as good as left out, where it is optional."""
    return value is None or (isinstance(value, dict) and not value)


Walk = Callable[[Any, str, Decoded[Any]], Any]  # (raw value, its path, what is found) -> the typed value


@dataclass(frozen=True, slots=True)
class _Field:
    name: str  # the attribute
    key: str  # the JSON name
    walk: Walk
    required: bool
    optional_object: bool  # {} is absent: an optional Struct-typed field


def _walker(shape: Any) -> Walk:
    """The walk of one declared type, made once per type (a request's walk is then plain calls)."""
    try:
        return _compiled(shape)
    except TypeError:  # an unhashable type can't be cached
        return _compile(shape)


@functools.cache
def _compiled(shape: Any) -> Walk:
    return _compile(shape)


def _compile(shape: Any) -> Walk:
    origin = typing.get_origin(shape)
    if origin is typing.Annotated:
        return _annotated(shape)
    if _is_struct(shape):
        return _struct(shape)
    if origin in (Union, types.UnionType):
        return _union(shape)
    if origin is list:
        return _list(typing.get_args(shape)[0])
    if origin is dict:
        return _dict(*typing.get_args(shape))
    if origin is Literal:
        return _literal(typing.get_args(shape))
    return _leaf(shape)


def _annotated(shape: Any) -> Walk:
    base, *metas = typing.get_args(shape)
    walk_base = _walker(base)
    limits = [m for m in metas if isinstance(m, msgspec.Meta)]
    error = next((m.extra["error"] for m in limits if m.extra and "error" in m.extra), None)
    is_list = typing.get_origin(base) is list
    fits = _bounds_check(base, limits)

    def walk(raw: Any, path: str, out: Decoded[Any]) -> Any:
        before, mistyped = len(out.errors), out.mistyped
        value = walk_base(raw, path, out)
        if out.mistyped > mistyped:
            if is_list and isinstance(raw, list) and not _length_fits(len(raw), limits):
                out.errors.insert(before, FieldError(path, error or _length_rule(limits)))
            return value
        if is_list:  # counted here: converting the items again would cost a second walk
            if not _length_fits(len(value), limits):
                out.errors.insert(before, FieldError(path, error or _length_rule(limits)))
            return value
        if len(out.errors) > before or fits(value):
            return value
        try:  # the constraints (lengths, ranges, patterns) on the decoded value
            return msgspec.convert(value, shape, strict=True)
        except msgspec.ValidationError as problem:
            out.errors.append(FieldError(path, error or str(problem).split(" - at `$", 1)[0]))
            return value

    return walk


_CONSTRAINTS = ("gt", "ge", "lt", "le", "multiple_of", "pattern", "min_length", "max_length", "tz")


def _bounds_check(base: Any, limits: list[msgspec.Meta]) -> Callable[[Any], bool]:
    """Whether a walked value surely meets ``limits``: there are none (a description), or a str's length or an
    int's range checked here, as msgspec would. msgspec reads an ``Annotated`` type's constraints afresh on every
    convert (a fifth of decoding a send); anything else (other constraints, a value outside them) is left to
    msgspec, which names the problem."""
    given = {name for m in limits for name in _CONSTRAINTS if getattr(m, name) is not None}
    if not given:
        return lambda _value: True
    if base not in (str, int) or not given <= {"min_length", "max_length", "ge", "le"}:
        return lambda _value: False
    low = max((m.min_length if base is str else m.ge for m in limits), key=_or_lowest, default=None)
    high = min((m.max_length if base is str else m.le for m in limits), key=_or_highest, default=None)

    def fits(value: Any) -> bool:
        if type(value) is not base:
            return False
        size = len(value) if base is str else value
        return (low is None or size >= low) and (high is None or size <= high)

    return fits


def _or_lowest(bound: int | None) -> float:
    return -math.inf if bound is None else bound


def _or_highest(bound: int | None) -> float:
    return math.inf if bound is None else bound


def _struct(cls: type[msgspec.Struct]) -> Walk:
    fields: dict[str, _Field] = {}
    info = msgspec.inspect.type_info(cls)
    tag_field = (info.tag_field or "").lower()  # type: ignore[attr-defined]
    tag = str(info.tag).lower()  # type: ignore[attr-defined]
    strict = cls.__struct_config__.forbid_unknown_fields
    rules = getattr(cls, "problems", None)

    def prepare() -> None:  # on first use: a Struct may contain itself
        hints = typing.get_type_hints(cls, include_extras=True)
        for f in info.fields:  # type: ignore[attr-defined]
            shape = hints[f.name]
            optional_object = not f.required and _is_object(shape)
            fields[f.encode_name.lower()] = _Field(f.name, f.encode_name, _walker(shape), f.required, optional_object)

    def walk(raw: Any, path: str, out: Decoded[Any]) -> Any:
        if not fields:
            prepare()
        if not isinstance(raw, dict):
            out.mistype(path, "must be an object")
            return None
        before, mistyped = len(out.errors), out.mistyped
        given: dict[str, tuple[str, Any]] = {}
        for key, value in raw.items():
            found = fields.get(key.lower()) if isinstance(key, str) else None
            if found is None:
                if isinstance(key, str) and key.lower() == tag_field:
                    if not isinstance(value, str) or value.lower() != tag:  # a tagged Struct on its own
                        out.mistype(join(path, key), f"must be {info.tag}")  # type: ignore[attr-defined]
                    continue
                if strict:
                    out.mistype(join(path, str(key)), "is not a known field")
                else:
                    out.ignored.append(join(path, str(key)))
            elif found.name in given:
                out.mistype(join(path, key), f"repeats {given[found.name][0]} (names match in any case)")
            else:
                given[found.name] = (key, value)
        values: dict[str, Any] = {}
        for f in fields.values():
            key, value = given.get(f.name, (f.key, None))
            if value is None or (f.optional_object and value == {}):
                if f.required:
                    out.mistype(join(path, f.key), "is required")
                continue
            values[f.name] = f.walk(value, join(path, key), out)
        if out.mistyped > mistyped:
            return None
        value = cls(**values)
        # Its rules read its own fields, so they run when those are good; a problem deeper down hides none.
        named = {error.field for error in out.errors[before:]}
        if rules is not None and not named & {join(path, key) for key, _ in given.values()}:
            out.errors += [e for e in prefixed(path, value.problems()) if e.field not in named]  # type: ignore[attr-defined]
        return value

    return walk


def _union(shape: Any) -> Walk:
    options = [arg for arg in typing.get_args(shape) if arg is not type(None)]
    structs = [_struct_of(option) for option in options]
    if len(options) == 1:  # X | None: null is absent, handled by the Struct holding the field
        return _walker(options[0])
    if all(structs) and msgspec.inspect.type_info(structs[0]).tag_field is not None:  # type: ignore[attr-defined]
        return _tagged(options, structs)  # type: ignore[arg-type]
    if sum(1 for s in structs if s) == 1 and len(options) == 2:  # a value, or an object saying more about it
        scalar, struct = sorted(options, key=lambda option: _struct_of(option) is not None)
        return _scalar_or_object(scalar, struct)
    return _leaf(shape)


def _scalar_or_object(scalar: Any, struct: Any) -> Walk:
    """``UUID | Step``: an object is read as the Struct (its fields named), anything else as the value."""
    walk_scalar, walk_struct = _walker(scalar), _walker(struct)

    def walk(raw: Any, path: str, out: Decoded[Any]) -> Any:
        if isinstance(raw, dict):
            return walk_struct(raw, path, out)
        found: Decoded[Any] = Decoded(None)
        value = walk_scalar(raw, path, found)
        if found.mistyped:
            out.mistype(path, f"{found.errors[0].message} or an object")
        else:
            out.errors += found.errors
        return value

    return walk


def _tagged(options: list[Any], structs: list[type[msgspec.Struct]]) -> Walk:
    """A union of Structs told apart by their tag field (``"type": "text"``), matched in any case."""
    tag_field = str(msgspec.inspect.type_info(structs[0]).tag_field)  # type: ignore[attr-defined]
    tags = [str(msgspec.inspect.type_info(cls).tag) for cls in structs]  # type: ignore[attr-defined]
    by_tag = {tag.lower(): _walker(option) for tag, option in zip(tags, options, strict=True)}
    rule = "must be one of " + ", ".join(tags)

    def walk(raw: Any, path: str, out: Decoded[Any]) -> Any:
        if not isinstance(raw, dict):
            out.mistype(path, "must be an object")
            return None
        tag = next((v for k, v in raw.items() if isinstance(k, str) and k.lower() == tag_field.lower()), None)
        chosen = by_tag.get(tag.lower()) if isinstance(tag, str) else None
        if chosen is None:
            out.mistype(join(path, tag_field), rule)
            return None
        return chosen(raw, path, out)

    return walk


def _list(item: Any) -> Walk:
    walk_item = _walker(item)

    def walk(raw: Any, path: str, out: Decoded[Any]) -> Any:
        if not isinstance(raw, list):
            out.mistype(path, "must be a list")
            return None
        return [walk_item(value, f"{path}[{index}]", out) for index, value in enumerate(raw)]

    return walk


def _dict(key: Any, item: Any) -> Walk:
    """An object whose keys are values too (``{<traffic account id>: address}``): each entry named by its key."""
    walk_key, walk_item = _walker(key), _walker(item)

    def walk(raw: Any, path: str, out: Decoded[Any]) -> Any:
        if not isinstance(raw, dict):
            out.mistype(path, "must be an object")
            return None
        value = {}
        for name, entry in raw.items():
            found: Decoded[Any] = Decoded(None)
            typed = walk_key(name, join(path, str(name)), found)
            for error in found.errors:
                out.mistype(error.field, f"the key {error.message}")
            value[typed] = walk_item(entry, join(path, str(name)), out)
        return value

    return walk


def _literal(allowed: tuple[Any, ...]) -> Walk:
    by_lower = {value.lower(): value for value in allowed if isinstance(value, str)}
    rule = "must be one of " + ", ".join(str(v) for v in allowed)

    def walk(raw: Any, path: str, out: Decoded[Any]) -> Any:
        if isinstance(raw, str):
            if (value := by_lower.get(raw.lower())) is not None:
                return value
        elif raw in allowed and not isinstance(raw, bool):
            return raw
        out.mistype(path, rule)
        return None

    return walk


_KINDS = {
    str: "a string",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    uuid.UUID: "a UUID",
    dict: "an object",
}


def _leaf(shape: Any) -> Walk:
    kind = _KINDS.get(shape) or _KINDS.get(typing.get_origin(shape))
    exact = {str: str, int: int, bool: bool, float: float}.get(shape)

    def walk(raw: Any, path: str, out: Decoded[Any]) -> Any:
        if type(raw) is exact:  # the common case, without msgspec's round trip
            return raw
        try:
            return msgspec.convert(raw, shape, strict=True)
        except msgspec.ValidationError as error:
            out.mistype(path, f"must be {kind}" if kind else str(error).split(" - at `$", 1)[0])
            return None

    return walk


def _is_struct(shape: Any) -> bool:
    return isinstance(shape, type) and issubclass(shape, msgspec.Struct)


def _struct_of(shape: Any) -> type[msgspec.Struct] | None:
    """The Struct a shape is (``Annotated`` with examples or not), or None."""
    if typing.get_origin(shape) is typing.Annotated:
        shape = typing.get_args(shape)[0]
    return shape if _is_struct(shape) else None


def _is_object(shape: Any) -> bool:
    """Whether a field's shape is an object (a Struct, a union of them, optional or annotated)."""
    if typing.get_origin(shape) in (typing.Annotated, Union, types.UnionType):
        return any(_is_object(arg) for arg in typing.get_args(shape))
    return _is_struct(shape)


def _length_fits(length: int, limits: list[msgspec.Meta]) -> bool:
    return all(
        (m.min_length is None or length >= m.min_length) and (m.max_length is None or length <= m.max_length)
        for m in limits
    )


def _length_rule(limits: list[msgspec.Meta]) -> str:
    low = max((m.min_length for m in limits if m.min_length is not None), default=0)
    high = min((m.max_length for m in limits if m.max_length is not None), default=None)
    return f"must hold at least {low} items" if high is None else f"must hold {low} to {high} items"
