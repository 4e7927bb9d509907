"""Case-insensitive, singular-or-plural fixed path segments on the customer API.

Real clients write ``/api/v1.1/Messages/send`` and ``/api/v1/message/send`` alike; Litestar routes
case-sensitively, so each fixed segment is rewritten to its registered spelling before routing.
Path parameters (ids, template names) are left as they are.
"""

from __future__ import annotations

from collections.abc import Iterable

# Singular and plural forms of one resource: a route spelled either way answers to both.
_FORMS = [
    ("customer", "customers"),
    ("message", "messages"),
    ("webhook", "webhooks"),
    ("webhooktrafficaccount", "webhooktrafficaccounts"),
    ("trafficaccount", "trafficaccounts"),
    ("whatsapptemplate", "whatsapptemplates"),
    ("conversation", "conversations"),
]
OTHER_FORM = {one: other for pair in _FORMS for one, other in (pair, pair[::-1])}


class PathNormaliser:
    def __init__(self, prefix: str, route_paths: Iterable[str]) -> None:
        self.prefix = prefix  # e.g. "/api/": only paths under it are rewritten
        # (position, lower-cased segment) -> registered spelling; by position, so that a path
        # parameter is never taken for a fixed segment that only exists elsewhere in the path.
        self.spelling: dict[tuple[int, str], str] = {}
        for path in route_paths:
            if path.startswith(self.prefix):
                for index, segment in enumerate(path.split("/")):
                    if segment and not segment.startswith("{"):
                        self.spelling[index, segment.lower()] = segment

    def __call__(self, path: str) -> str:
        if not path.lower().startswith(self.prefix):
            return path
        segments = path.split("/")
        for index, segment in enumerate(segments):
            lower = segment.lower()
            for key in ((index, lower), (index, OTHER_FORM.get(lower, lower))):
                if key in self.spelling:
                    segments[index] = self.spelling[key]
                    break
        return "/".join(segments)
