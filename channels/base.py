"""The contract between the gateway and a channel adapter.

The gateway never names a channel: it asks the registry (entry-point group ``gateway.channels``)
for the ``Channel`` of a traffic account and works through this interface only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msgspec


class FieldError(msgspec.Struct, frozen=True):
    """One problem with one field of a request, named by its JSON path."""

    field: str
    message: str


@dataclass(frozen=True, slots=True)
class SettingsSpec:
    """The provider settings a traffic account of a channel takes.

    ``public`` keys are plain configuration (returned to operators); ``credentials`` are secrets,
    stored encrypted and never returned. Every channel also takes ``baseUrl`` and ``sendRate``.
    """

    public: tuple[str, ...] = ()
    credentials: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return (*COMMON_KEYS, *self.public, *self.credentials)


COMMON_KEYS = ("baseUrl", "sendRate")


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel adapter as the gateway sees it. Later parts (send, callbacks, sandbox) hang off this."""

    name: str
    settings: SettingsSpec
    default_send_rate: float = 100.0
    legacy: bool = False
    # (template name, request body) -> problems; None for channels that have no message templates.
    validate_template: Callable[[str, dict[str, Any]], list[FieldError]] | None = None

    def validate_settings(
        self, settings: dict[str, Any], *, sandbox: bool, prefix: str = "settings"
    ) -> list[FieldError]:
        """Every problem with a complete settings object (unknown keys, wrong types, missing keys)."""
        errors: list[FieldError] = []
        allowed = set(self.settings.keys)
        for key in settings:
            if key not in allowed:
                errors.append(
                    FieldError(
                        f"{prefix}.{key}",
                        f"unknown setting for channel {self.name}; allowed: {', '.join(self.settings.keys)}",
                    )
                )
        for key, value in settings.items():
            if key not in allowed:
                continue
            if key == "sendRate":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 100_000:
                    errors.append(
                        FieldError(
                            f"{prefix}.sendRate", "must be a number of messages per second, above 0 and at most 100000"
                        )
                    )
            elif not isinstance(value, str) or not value.strip():
                errors.append(FieldError(f"{prefix}.{key}", "must be a non-empty string"))
            elif key == "baseUrl" and not is_http_url(value):
                errors.append(FieldError(f"{prefix}.baseUrl", "must be an absolute http(s) URL"))
        if not sandbox:
            for key in (*self.settings.public, *self.settings.credentials):
                if key not in settings:
                    errors.append(
                        FieldError(
                            f"{prefix}.{key}", f"is required for a {self.name} traffic account that is not a sandbox"
                        )
                    )
        return errors


def is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a host, a valid port and no whitespace (the one URL check of the project)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname) and not any(c.isspace() for c in value)
