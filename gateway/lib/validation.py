"""Naming every field at fault.

Litestar decodes request bodies with msgspec, which stops at the first error. When a body fails,
``body_errors`` checks it again field by field so the answer lists all problems at once.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.types import Empty
from litestar.utils.scope.state import ScopeState

from gateway.lib.problems import invalid
from wire.errors import FieldError

S = TypeVar("S", bound=msgspec.Struct)

_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)


def msgspec_error(error: Exception, prefix: str) -> FieldError:
    """``Expected `str`, got `int` - at `$.name[0]``` -> FieldError("prefix.name[0]", "Expected ...")."""
    match = _AT.match(str(error))
    message, path = (match["message"], match["path"] or "") if match else (str(error), "")
    field = (prefix + path).lstrip(".") or "body"
    return FieldError(field, message)


def struct_errors(struct_type: type[msgspec.Struct], raw: Any, prefix: str = "") -> list[FieldError]:
    """Every problem with ``raw`` as an instance of ``struct_type``: unknown keys, missing keys, bad values."""
    if not isinstance(raw, dict):
        return [FieldError(prefix or "body", "must be a JSON object")]
    fields = {field.encode_name: field for field in msgspec.structs.fields(struct_type)}
    errors: list[FieldError] = []
    if struct_type.__struct_config__.forbid_unknown_fields:
        errors += [FieldError(_join(prefix, key), "is not a known field") for key in raw if key not in fields]
    for name, field in fields.items():
        path = _join(prefix, name)
        if name not in raw:
            if field.required:
                errors.append(FieldError(path, "is required"))
            continue
        nested = _struct_of(field.type)
        if nested is not None and isinstance(raw[name], dict):
            errors += struct_errors(nested, raw[name], path)
            continue
        try:
            msgspec.convert(raw[name], type=field.type, strict=True)
        except msgspec.ValidationError as error:
            errors.append(msgspec_error(error, path))
    if rules := getattr(struct_type, "rule_errors", None):
        named = {error.field for error in errors}
        errors += [error for error in rules(raw) if error.field not in named]
    return errors


def parse(raw: Any, struct_type: type[S]) -> S:
    """``raw`` (decoded JSON or query values) as ``struct_type``, or a 400 naming every field at fault."""
    try:
        return msgspec.convert(raw, struct_type, strict=False)
    except msgspec.ValidationError:
        raise invalid(struct_errors(struct_type, raw)) from None


def parse_json(body: bytes, struct_type: type[S]) -> S:
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise invalid([FieldError("body", "is not valid JSON")]) from None
    return parse(raw, struct_type)


def body_errors(request: Request) -> list[FieldError]:
    """Field-by-field problems of the JSON body of a request whose data type is a Struct, else []."""
    data_field = request.route_handler.parsed_data_field
    struct_type = _struct_of(data_field.annotation) if data_field is not None else None
    body = ScopeState.from_scope(request.scope).body
    if struct_type is None or body is Empty:
        return []
    try:
        raw = msgspec.json.decode(body) if body else None
    except msgspec.DecodeError:
        return [FieldError("body", "is not valid JSON")]
    return struct_errors(struct_type, raw)


_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.I)


async def refuse_nul_characters(request: Request) -> None:
    """NUL characters can't be stored by Postgres (SQLite would keep them): refuse them in the path, the
    query and JSON bodies with a 400 rather than fail at the database or store what Postgres can't."""
    errors = []
    # The scope's own path and query string: every request passes here, and Litestar's URL and query
    # parameters would be built for this alone (a send has no query string).
    if "\x00" in request.scope["path"]:
        errors.append(FieldError("path", "must not contain NUL characters"))
    if request.scope["query_string"]:
        errors += [
            FieldError(key, "must not contain NUL characters")
            for key, value in request.query_params.items()
            if "\x00" in key + value
        ]
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and _JSON_NUL.search(await request.body()):
        errors.append(FieldError("body", "must not contain NUL characters (\\u0000)"))
    if errors:
        raise invalid(errors)


def _struct_of(annotation: Any) -> type[msgspec.Struct] | None:
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation
    for arg in getattr(annotation, "__args__", ()):  # Optional[Struct]
        if isinstance(arg, type) and issubclass(arg, msgspec.Struct):
            return arg
    return None


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
