"""The webhook payloads as a receiver sees them, for the OpenAPI document's ``webhooks`` section.

The payloads themselves are built by gateway.store.outbox; these Structs describe them (a test
decodes real payloads with them, so the two can't drift apart).
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar.openapi.spec import (
    Example,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    PathItem,
    RequestBody,
    Schema,
)

from channels.inbound import InboundContent

Timestamp = Annotated[
    datetime.datetime,
    msgspec.Meta(extra_json_schema={"format": "date-time"}, description="UTC with seven fractional digits"),
]


class _Payload(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    pass


Participant = Annotated[
    dict[str, str],
    msgspec.Meta(
        description="The user: their address by its kind (phoneNumber, messagingAppIdentifier or the channel's own, "
        "e.g. viberId), and their name when the channel gave it"
    ),
]


class ConversationRef(_Payload):
    id: UUID
    participants: Annotated[
        list[dict[str, str]],
        msgspec.Meta(
            description="The traffic account ({id, phoneNumber?, messagingAppIdentifier?, name}), then the user "
            "({<kind>: address, name?})"
        ),
    ]


class StatusEvent(_Payload):
    """A status change of a message sent through the gateway."""

    version: Annotated[int, msgspec.Meta(description="The payload version (1)")]
    event: Literal["Delivered", "Failed", "Read"]
    message_id: UUID
    traffic_account_id: UUID
    channel: str
    destination: Annotated[str, msgspec.Meta(description="The user's address (phone number, chat id...)")]
    delivery_status: Literal["Delivered", "Failed", "Read"]
    reference: str | None
    conversation: ConversationRef
    occurred_at: Timestamp
    sequence: Annotated[
        int, msgspec.Meta(description="Grows with every status change of the message: order events by it")
    ]
    error_code: Annotated[
        str | None | msgspec.UnsetType, msgspec.Meta(description="Failed only: the provider's code")
    ] = msgspec.UNSET
    description: Annotated[
        str | None | msgspec.UnsetType, msgspec.Meta(description="Failed only: the provider's text")
    ] = msgspec.UNSET


class UserMessageEvent(_Payload):
    """A message a user sent to a traffic account."""

    version: Annotated[int, msgspec.Meta(description="The payload version (1)")]
    event: Literal["UserMessage"]
    message_id: UUID
    traffic_account_id: UUID
    channel: str
    sender: Participant
    conversation: ConversationRef
    content: Annotated[InboundContent, msgspec.Meta(description="What the user sent, by its `type`")]
    created_at: Timestamp
    sequence: int
    text: Annotated[str | msgspec.UnsetType, msgspec.Meta(description="A text message's text")] = msgspec.UNSET
    media: Annotated[
        dict[str, Any] | msgspec.UnsetType,
        msgspec.Meta(
            description="An image, video, audio, voice, document or sticker: `content` itself "
            "({type, url|mediaId|fileId, ...})"
        ),
    ] = msgspec.UNSET
    location: Annotated[
        dict[str, Any] | msgspec.UnsetType,
        msgspec.Meta(description="A location: `content` without its type ({latitude, longitude, name?, address?})"),
    ] = msgspec.UNSET
    postback: Annotated[
        dict[str, Any] | msgspec.UnsetType,
        msgspec.Meta(
            description="A button, row or suggestion tapped: `content` without its type ({data, title?, ...})"
        ),
    ] = msgspec.UNSET


# The examples of the OpenAPI document: data, kept as JSON beside this module (they show a real channel's
# payload; the code names no channel).
EXAMPLES = json.loads((Path(__file__).parent / "examples.json").read_text())
_HEADERS = (
    ("webhook-id", "The event's id: the same on every attempt of one event, so repeats can be dropped"),
    ("webhook-timestamp", "Seconds since the epoch when this attempt was signed"),
    (
        "webhook-signature",
        "`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` with the webhook's secret; for 24 h after a "
        "rotation also with the previous secret, space-separated",
    ),
)


def openapi_webhooks() -> dict[str, PathItem]:
    """The ``webhooks`` section: one POST per trigger, with its payload's schema and an example."""
    status_schema, message_schema = (_inline_schema(kind) for kind in (StatusEvent, UserMessageEvent))
    return {
        trigger: PathItem(
            post=Operation(
                summary=f"{trigger} event",
                description=(
                    "Signed as Standard Webhooks do. A 2xx within 15 s acknowledges it; anything else is retried "
                    "5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h later (+/- 20 %), honouring Retry-After on 429 "
                    "and 503; 410 disables the webhook."
                ),
                parameters=[
                    Parameter(
                        name=name,
                        param_in="header",
                        required=True,
                        description=text,
                        schema=Schema(type=OpenAPIType.STRING),
                    )
                    for name, text in _HEADERS
                ],
                request_body=RequestBody(
                    required=True,
                    content={
                        "application/json": OpenAPIMediaType(
                            schema=message_schema if trigger == "UserMessage" else status_schema,  # type: ignore[arg-type]
                            examples={trigger: Example(value=example)},
                        )
                    },
                ),
                responses={
                    "2XX": OpenAPIResponse(description="Received"),
                    "410": OpenAPIResponse(description="Gone: the webhook is disabled at once"),
                },
            )
        )
        for trigger, example in EXAMPLES.items()
    }


def _inline_schema(kind: type) -> dict[str, Any]:
    """The JSON schema of ``kind`` with its ``$defs`` inlined (Litestar owns components/schemas)."""
    schema = msgspec.json.schema(kind)
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if ref := node.get("$ref"):
                return inline(definitions[ref.rsplit("/", 1)[-1]])
            if "discriminator" in node:  # a tagged union: one of its options, by the tag (the mapping named
                # the definitions inlined here)
                node = {("oneOf" if key == "anyOf" else key): value for key, value in node.items()}
                node["discriminator"] = {"propertyName": node["discriminator"]["propertyName"]}
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return inline(schema)
