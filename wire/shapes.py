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
relative to the Struct); they run on every Struct whose fields have the right types, even where a
constraint or a rule below failed, so a bad field elsewhere hides none of them. A type annotated ``msgspec.Meta(extra={"error": "must be ..."})`` is reported with
that message instead of msgspec's.
"""

from __future__ import annotations

import functools
import types
import typing
import uuid
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
    value = _walk(raw, shape, path, out)
    if not out.errors:
        out.value = value
    elif not path:  # a problem with the whole request names its body
        out.errors = [error if error.field else FieldError("body", error.message) for error in out.errors]
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


@dataclass(frozen=True, slots=True)
class _Field:
    name: str  # the attribute
    key: str  # the JSON name
    shape: Any
    required: bool


@functools.cache
def _fields(cls: type[msgspec.Struct]) -> tuple[dict[str, _Field], str | None, Any]:
    """A Struct's fields by lower-cased JSON name, its tag field and its tag."""
    info = msgspec.inspect.type_info(cls)
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {
        f.encode_name.lower(): _Field(f.name, f.encode_name, hints[f.name], f.required)
        for f in info.fields  # type: ignore[attr-defined]
    }
    return fields, info.tag_field, info.tag  # type: ignore[attr-defined]


def _walk(raw: Any, shape: Any, path: str, out: Decoded[Any]) -> Any:
    origin = typing.get_origin(shape)
    if origin is typing.Annotated:
        return _annotated(raw, shape, path, out)
    if isinstance(shape, type) and issubclass(shape, msgspec.Struct):
        return _struct(raw, shape, path, out)
    if origin in (Union, types.UnionType):
        return _union(raw, shape, path, out)
    if origin is list:
        return _list(raw, typing.get_args(shape)[0], path, out)
    if origin is Literal:
        return _literal(raw, typing.get_args(shape), path, out)
    return _leaf(raw, shape, path, out)


def _annotated(raw: Any, shape: Any, path: str, out: Decoded[Any]) -> Any:
    base, *metas = typing.get_args(shape)
    before, mistyped = len(out.errors), out.mistyped
    value = _walk(raw, base, path, out)
    if out.mistyped > mistyped:
        if isinstance(raw, list) and not _length_fits(len(raw), metas):  # a bad item hides no bad count
            out.errors.insert(before, FieldError(path, _message(None, metas)))
        return value
    if len(out.errors) > before:  # a rule below failed: the value is typed, its constraints still count
        if isinstance(raw, list) and not _length_fits(len(raw), metas):
            out.errors.insert(before, FieldError(path, _message(None, metas)))
        return value
    try:  # the Annotated constraints (lengths, ranges, patterns) on the decoded value
        return msgspec.convert(value, shape, strict=True)
    except msgspec.ValidationError as error:
        out.errors.append(FieldError(path, _message(error, metas)))
        return value


def _struct(raw: Any, cls: type[msgspec.Struct], path: str, out: Decoded[Any]) -> Any:
    if not isinstance(raw, dict):
        out.mistype(path, "must be an object")
        return None
    fields, tag_field, _ = _fields(cls)
    strict = cls.__struct_config__.forbid_unknown_fields
    given: dict[str, tuple[str, Any]] = {}
    mistyped = out.mistyped
    for key, value in raw.items():
        found = fields.get(key.lower()) if isinstance(key, str) else None
        if found is None:
            if tag_field is not None and isinstance(key, str) and key.lower() == tag_field.lower():
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
        if value is None or (value == {} and not f.required and _is_object(f.shape)):
            if f.required:
                out.mistype(join(path, f.key), "is required")
            continue
        values[f.name] = _walk(value, f.shape, join(path, key), out)
    if out.mistyped > mistyped:
        return None
    value = cls(**values)
    if problems := getattr(value, "problems", None):
        out.errors += prefixed(path, problems())
    return value


def _is_object(shape: Any) -> bool:
    """Whether a field's shape is an object (a Struct, a union of them, optional or annotated)."""
    if typing.get_origin(shape) in (typing.Annotated, Union, types.UnionType):
        return any(_is_object(arg) for arg in typing.get_args(shape))
    return isinstance(shape, type) and issubclass(shape, msgspec.Struct)


def _union(raw: Any, shape: Any, path: str, out: Decoded[Any]) -> Any:
    options = [arg for arg in typing.get_args(shape) if arg is not type(None)]
    if raw is None and len(options) < len(typing.get_args(shape)):
        return None
    structs = [o for o in options if isinstance(o, type) and issubclass(o, msgspec.Struct)]
    if len(options) == 1:
        return _walk(raw, options[0], path, out)
    if structs and len(structs) == len(options) and _fields(structs[0])[1] is not None:
        return _tagged(raw, structs, path, out)
    return _leaf(raw, shape, path, out)


def _tagged(raw: Any, structs: list[type[msgspec.Struct]], path: str, out: Decoded[Any]) -> Any:
    """A union of Structs told apart by their tag field (``"type": "text"``), matched in any case."""
    tag_field = _fields(structs[0])[1]
    by_tag = {str(_fields(cls)[2]).lower(): cls for cls in structs}
    if not isinstance(raw, dict):
        out.mistype(path, "must be an object")
        return None
    tag = next((v for k, v in raw.items() if isinstance(k, str) and k.lower() == str(tag_field).lower()), None)
    cls = by_tag.get(tag.lower()) if isinstance(tag, str) else None
    if cls is None:
        tags = ", ".join(str(_fields(c)[2]) for c in structs)
        out.mistype(join(path, str(tag_field)), f"must be one of {tags}")
        return None
    return _struct(raw, cls, path, out)


def _list(raw: Any, item: Any, path: str, out: Decoded[Any]) -> Any:
    if not isinstance(raw, list):
        out.mistype(path, "must be a list")
        return None
    return [_walk(value, item, f"{path}[{index}]", out) for index, value in enumerate(raw)]


def _literal(raw: Any, allowed: tuple[Any, ...], path: str, out: Decoded[Any]) -> Any:
    if isinstance(raw, str):
        for value in allowed:
            if isinstance(value, str) and value.lower() == raw.lower():
                return value
    elif raw in allowed and not isinstance(raw, bool):
        return raw
    out.mistype(path, "must be one of " + ", ".join(str(v) for v in allowed))
    return None


_KINDS = {str: "a string", int: "a whole number", float: "a number", bool: "true or false", uuid.UUID: "a UUID"}


def _leaf(raw: Any, shape: Any, path: str, out: Decoded[Any]) -> Any:
    try:
        return msgspec.convert(raw, shape, strict=True)
    except msgspec.ValidationError as error:
        kind = _KINDS.get(shape)
        out.mistype(path, f"must be {kind}" if kind else _message(error, []))
        return None


def _length_fits(length: int, metas: list[Any]) -> bool:
    for meta in metas:
        if isinstance(meta, msgspec.Meta):
            if meta.min_length is not None and length < meta.min_length:
                return False
            if meta.max_length is not None and length > meta.max_length:
                return False
    return True


def _message(error: msgspec.ValidationError | None, metas: list[Any]) -> str:
    for meta in metas:
        if isinstance(meta, msgspec.Meta) and meta.extra and "error" in meta.extra:
            return meta.extra["error"]
    if error is None:
        lengths = [(m.min_length, m.max_length) for m in metas if isinstance(m, msgspec.Meta)]
        low, high = next(iter(lengths), (None, None))
        return f"must hold {low if low is not None else 0} to {high if high is not None else 'any number of'} items"
    return str(error).split(" - at `$", 1)[0]
