"""The send requests as the API takes them (seed 002), assembled from the registered channels: each
channel's block under its key (``Channel.block_shape``), the failover, the destination and the traffic
account. No channel is named here: a channel that registers is part of every send request."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from channels.base import Channel
from channels.registry import all_channels
from gateway.messages.failover import REQUIRED_STATUSES
from wire.errors import FieldError

MAX_FAILOVER_STEPS = 10
TIMEOUT_RANGE = (5, 7 * 24 * 3600)  # seconds a failover step may wait for its status


RequiredStatus = Literal[REQUIRED_STATUSES]  # type: ignore[valid-type]


Destination = Annotated[
    str, msgspec.Meta(min_length=1, max_length=256, description="The user's phone number or id on the channel")
]


class AddressedStep(msgspec.Struct, rename="camel"):
    """A step whose channel knows the user by another address than the request's ``destination`` (a chat id
    after a phone number), validated and canonicalised by that channel's address rules."""

    traffic_account_id: UUID
    destination: Destination


Step = UUID | AddressedStep


def step_account(step: UUID | AddressedStep) -> UUID:
    return step.traffic_account_id if isinstance(step, AddressedStep) else step


class TimeoutFailover(msgspec.Struct, rename="camel"):
    """Wait ``timeoutInSeconds`` for each step to reach ``status``; past it, send the next step."""

    timeout_in_seconds: Annotated[
        int,
        msgspec.Meta(
            ge=TIMEOUT_RANGE[0],
            le=TIMEOUT_RANGE[1],
            description="How long each step may take to reach the status",
            extra={"error": f"must be a whole number from {TIMEOUT_RANGE[0]} to {TIMEOUT_RANGE[1]}"},
        ),
    ]
    status: RequiredStatus
    traffic_accounts: Annotated[
        list[Step],
        msgspec.Meta(
            min_length=2,
            max_length=MAX_FAILOVER_STEPS,
            description="The traffic accounts to try, in order (each needs its channel's block): an id, whose step goes "
            "to the request's destination, or {trafficAccountId, destination} for a step with an address of its own "
            "(not in sendbulk: there each recipient gives theirs in stepDestinations)",
            extra={"error": f"must list 2 to {MAX_FAILOVER_STEPS} traffic accounts, in order"},
        ),
    ]

    def problems(self) -> list[FieldError]:
        ids = [step_account(step) for step in self.traffic_accounts]
        if len(set(ids)) < len(ids):
            return [FieldError("trafficAccounts", "names a traffic account twice")]
        return []


class Failover(msgspec.Struct, rename="camel"):
    """Timeout failover (seed 002): the message goes to each traffic account in turn until one reaches the
    status. ``null`` or ``{}`` means none."""

    type: Literal["Timeout"]
    timeout_failover: TimeoutFailover


class BulkRecipient(msgspec.Struct, rename="camel"):
    """One recipient of a sendbulk whose failover steps reach them at other addresses: ``stepDestinations``
    maps a step's traffic account id to the recipient's address on that step's channel (the other steps go
    to ``destination``). Keyed by account, not position, so reordering the chain can't misaddress a step."""

    destination: Destination
    step_destinations: Annotated[
        dict[UUID, Destination],
        msgspec.Meta(description="The recipient's address for some failover steps: traffic account id -> address"),
    ] = {}


BulkDestination = Destination | BulkRecipient
ACCOUNT = "The traffic account to send through; may be left out with a failover (its first traffic account)"


@dataclass(frozen=True, slots=True)
class SendShapes:
    """The request bodies of send, sendbulk and sendmessagesbulk for a set of channels."""

    send: type[msgspec.Struct]
    bulk: type[msgspec.Struct]
    messages_bulk: type[msgspec.Struct]
    keys: dict[str, str]  # attribute (the channel's name) -> the block's JSON name
    channel_of_key: dict[str, str]  # the block's JSON name, lower-cased -> the channel's name


@functools.cache  # per process: the registry is read once (a test adding a channel runs a process of its own)
def shapes() -> SendShapes:
    return shapes_of(tuple(all_channels().values()))


def shapes_of(channels: tuple[Channel, ...]) -> SendShapes:
    keys = {channel.name: channel.block_key or channel.name for channel in channels}
    blocks = [
        (
            channel.name,
            # Not nullable in the document (a discriminated union can't hold null); null is read as absent.
            Annotated[
                channel.block_shape,
                msgspec.Meta(description=f"The message for a {channel.name} traffic account"),
            ],
            msgspec.field(default=None, name=keys[channel.name]),
        )
        for channel in channels
    ]
    common = [
        ("traffic_account_id", Annotated[UUID | None, msgspec.Meta(description=ACCOUNT)], None),
        *blocks,
        ("failover", Failover | None, None),
    ]
    options = {"kw_only": True, "rename": "camel", "module": __name__}
    send = msgspec.defstruct("SendMessage", [("destination", Destination), *common], **options)
    bulk = msgspec.defstruct(
        "SendBulk",
        [
            (
                "destinations",
                Annotated[
                    list[BulkDestination],
                    msgspec.Meta(
                        min_length=1,
                        description="The recipients: an address, or {destination, stepDestinations} for a recipient "
                        "whose failover steps reach them at other addresses",
                    ),
                ],
            ),
            *common,
        ],
        **options,
    )
    messages_bulk = msgspec.defstruct(
        "SendMessagesBulk", [("messages", Annotated[list[send], msgspec.Meta(min_length=1)])], **options
    )
    for shape, doc in (
        (send, "One message to one destination, in the block of its traffic account's channel"),
        (bulk, "One message to many destinations (version 1.1)"),
        (messages_bulk, "Many messages of their own in one request (version 1.1)"),
    ):
        shape.__doc__ = doc
    return SendShapes(send, bulk, messages_bulk, keys, {key.lower(): name for name, key in keys.items()})


EXAMPLE_ACCOUNT = "4ae53d46-66d8-4aff-9f13-621f53b90000"  # stands for a traffic account of the example's channel
# An address of each kind (a block decides its kind: Channel.destination_kind).
EXAMPLE_ADDRESS = {"phoneNumber": "+447700900123", "messagingAppIdentifier": "1861312834", "viberId": "01234567890A="}


@dataclass(frozen=True, slots=True)
class Example:
    """A complete send request of one message type of one channel (the channel's example block)."""

    channel: str
    message_type: str
    request: dict[str, Any]


def examples() -> list[Example]:
    return [
        Example(
            channel.name,
            message_type,
            {
                "destination": EXAMPLE_ADDRESS[channel.destination_kind(block)],
                "trafficAccountId": EXAMPLE_ACCOUNT,
                channel.block_key or channel.name: block,
            },
        )
        for channel in all_channels().values()
        for message_type, block in channel.examples.items()
    ]
