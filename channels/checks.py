"""Small building blocks of the channels' request validators: they collect FieldErrors, never raise."""

from __future__ import annotations

from typing import Any

from wire.errors import FieldError

Errors = list[FieldError]


def add(errs: Errors, field: str, message: str) -> None:
    """Append a FieldError for `field` with `message` to `errs`."""
    errs.append(FieldError(field=field, message=message))


def listing(values: tuple[str, ...]) -> str:
    """The values joined with ", ", for "one of ..." style messages."""
    return ", ".join(values)


def one_of(value: Any, allowed: tuple[str, ...]) -> bool:
    """`value in allowed`, safe for unhashable or non-string values."""
    return isinstance(value, str) and value in allowed


def is_int(value: Any) -> bool:
    """Whether `value` is an int proper (bool, an int subclass, is not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def key_path(prefix: str, key: Any) -> str:
    """The field path of `key` inside `prefix` (non-string keys by repr; the key alone at top level)."""
    name = key if isinstance(key, str) else repr(key)
    return f"{prefix}.{name}" if prefix else name


def check_unknown_keys(errs: Errors, path: str, obj: dict, allowed: tuple[str, ...], what: str) -> None:
    """Report each key of `obj` (at `path`) not in `allowed`, naming the object as `what`."""
    for key in obj:
        if key not in allowed:
            add(errs, f"{path}.{key}", f"unknown field; {what} allows only: {listing(allowed)}")


def object_(errs: Errors, field: str, value: Any, missing: str | None, shape: str) -> dict | None:
    """`value` when it is an object; otherwise report it (missing: None means optional) and return None."""
    if value is None:
        if missing is not None:
            add(errs, field, missing)
        return None
    if not isinstance(value, dict):
        add(errs, field, f"must be an object like {shape}")
        return None
    return value
