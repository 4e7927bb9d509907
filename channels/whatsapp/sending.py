"""Send-time checks of a template message against the template stored for the traffic account."""

from __future__ import annotations

from typing import Any

from channels.whatsapp.blocks import body_parameter_count
from channels.whatsapp.templates import body_placeholder_count
from wire.errors import FieldError


def template_send_errors(block: dict[str, Any], stored_components: list[dict[str, Any]]) -> list[FieldError]:
    """The block must give one body parameter per placeholder of the stored template's body (its
    components read through the model that validated them when stored)."""
    expected, given = body_placeholder_count(stored_components), body_parameter_count(block)
    if expected == given:
        return []
    return [
        FieldError(
            "template.components",
            f"the template's body has {expected} placeholder(s); {given} body parameter(s) given",
        )
    ]
