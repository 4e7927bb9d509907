"""What makes a send valid, checked all at once so one answer names every problem (seed 002): the request
decoded against its shape (gateway.messages.requests: every channel block, the failover), then against its
traffic accounts' channels. A part that failed to decode still takes part in the second check where it
can (a failover with a bad timeout still names its traffic accounts, whose blocks must be there)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import msgspec

from channels.registry import all_channels
from gateway.lib.problems import invalid
from gateway.messages.requests import Failover, RequiredStatus, shapes
from gateway.models import TrafficAccount
from wire.errors import FieldError
from wire.shapes import decode, is_absent, join

TRAFFIC_ACCOUNTS = "failover.timeoutFailover.trafficAccounts"


@dataclass(frozen=True, slots=True)
class SendRequest:
    """A send as the client wrote it, named under ``path`` (``messages[3]`` in a bulk), and as decoded."""

    raw: dict[str, Any]
    decoded: Any  # the request's shape (gateway.messages.requests), None when it has type or rule errors
    errors: list[FieldError]  # what decoding found
    path: str = ""
    ignored: list[str] = field(default_factory=list)  # the fields it didn't know

    @classmethod
    def read(cls, raw: Any, shape: Any, path: str = "") -> SendRequest:
        decoded = decode(raw, shape, path)
        errors = [e if e.field else FieldError("body", e.message) for e in decoded.errors]  # the whole request
        return cls(raw if isinstance(raw, dict) else {}, decoded.value, errors, path, decoded.ignored)

    @property
    def blocks(self) -> dict[str, dict[str, Any]]:
        """The channel blocks given that decoded (by channel name), as they are stored and sent."""
        if self.decoded is not None:
            given = {name: getattr(self.decoded, name) for name in _block_keys(self)}
        else:  # each block on its own: a problem elsewhere in the request leaves it usable
            given = {
                name: decode(self.raw[key], all_channels()[name].block_shape).value
                for name, key in _block_keys(self).items()
            }
        return {name: msgspec.to_builtins(block) for name, block in given.items() if block is not None}

    @property
    def failover(self) -> Failover | None:
        return self.decoded.failover if self.decoded is not None else None

    def member(self, *names: str) -> Any:
        """The raw value at ``names`` (JSON names, any case), None when absent: read leniently, to check
        what can be checked of a request that didn't decode."""
        return _member(self.raw, *names)

    def named(self, name: str) -> str:
        return join(self.path, name)


@dataclass(frozen=True, slots=True)
class Recipient:
    """A user a send goes to, read leniently: their address and the field naming it, and their addresses
    for some failover steps (a sendbulk's ``stepDestinations``) by traffic account id."""

    destination: Any
    field: str
    steps: dict[UUID, tuple[Any, str]] = field(default_factory=dict)  # account id -> (address, its field)

    @classmethod
    def of_send(cls, request: SendRequest) -> Recipient:
        return cls(request.member("destination"), request.named("destination"))

    @classmethod
    def of_bulk(cls, request: SendRequest) -> list[Recipient]:
        """The recipients of a sendbulk: each entry of ``destinations``, an address or
        ``{destination, stepDestinations}``."""
        entries = request.member("destinations")
        recipients = []
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            where = f"destinations[{index}]"
            if not isinstance(entry, dict):
                recipients.append(cls(entry, where))
                continue
            given = _member(entry, "stepDestinations")
            steps = {
                account_id: (address, f"{where}.stepDestinations.{key}")
                for key, address in (given.items() if isinstance(given, dict) else ())
                if (account_id := decode(key, UUID).value) is not None
            }
            recipients.append(cls(_member(entry, "destination"), f"{where}.destination", steps))
        return recipients

    def address(self, account_id: UUID) -> tuple[Any, str]:
        """The recipient's address for a step through ``account_id``, with the field naming it."""
        return self.steps.get(account_id, (self.destination, self.field))


@dataclass(frozen=True, slots=True)
class Step:
    """A traffic account of a send as the request names it, with the step's own destination if it has one
    (``{trafficAccountId, destination}`` in a failover); read leniently."""

    account_id: UUID
    field: str
    destination: Any = None


@dataclass(frozen=True, slots=True)
class Checked:
    """A send's traffic accounts in order (with the field each was named by), each step's own destination
    (None: the recipient's), the key of the block each channel uses, and the blocks that decoded (by channel
    name) as they are stored and sent."""

    accounts: list[TrafficAccount]
    fields: list[str]
    own: list[str | None]
    keys: dict[str, str]
    blocks: dict[str, dict[str, Any]]

    def addresses(self, recipient: Recipient) -> list[str]:
        """The address of each step for ``recipient``, as the request wrote it."""
        if not recipient.steps and not any(self.own):  # the common case, once per recipient of a bulk send
            return [recipient.destination] * len(self.own)
        return [
            own if own is not None else recipient.address(account.id)[0]
            for own, account in zip(self.own, self.accounts, strict=True)
        ]


# (tenant, traffic account id, the field naming it) -> the account, or a 404 naming the field.
AccountOf = Callable[[UUID, UUID, str], Awaitable[TrafficAccount]]


async def check(
    tenant_id: UUID, request: SendRequest, recipients: list[Recipient], account: AccountOf, *, bulk: bool = False
) -> tuple[Checked | None, list[FieldError]]:
    """Every problem of one send to ``recipients`` (a sendbulk's when ``bulk``): what decoding found and what
    its traffic accounts' channels make of it (each step's address by the rules of its own channel), with
    the accounts when they could be read (an unknown traffic account is a 404 naming it)."""
    errors = list(request.errors)
    steps, failover = _steps(request)
    if not steps:
        if not failover and request.member("trafficAccountId") is None:
            errors.append(
                FieldError(request.named("trafficAccountId"), "is required (or a failover with its traffic accounts)")
            )
        return None, _unique(errors)
    first = steps[0].account_id
    if failover and request.decoded is not None and request.decoded.traffic_account_id not in (None, first):
        errors.append(
            FieldError(request.named("trafficAccountId"), f"must be the first of {TRAFFIC_ACCOUNTS}, or be left out")
        )
    accounts = [await account(tenant_id, step.account_id, step.field) for step in steps]
    keys, blocks = _block_keys(request), request.blocks  # blocks: converted once, read by every step
    status = decode(request.member("failover", "timeoutFailover", "status"), RequiredStatus).value if failover else None
    shared = [found for step, found in zip(steps, accounts, strict=True) if step.destination is None]
    shared_kind = _kind(shared[0], blocks) if shared else None  # of the first step to the recipient's address
    for step, found in zip(steps, accounts, strict=True):
        channel = all_channels()[found.channel]
        if found.channel not in keys:
            key = channel.block_key or channel.name
            errors.append(FieldError(request.named(key), f"is required: {step.field} is a {found.channel} account"))
        if failover and status is not None and status not in channel.receipts:
            errors.append(
                FieldError(
                    step.field,
                    f"a {found.channel} account never reports {status}, "
                    f"so this step could never succeed; wait for {' or '.join(channel.receipts)}",
                )
            )
        errors += _address_errors(
            request, blocks, step, found, recipients, bulk, failover and _kind(found, blocks) != shared_kind
        )
    ids = {step.account_id for step in steps}
    errors += [
        FieldError(where, f"names no step of the send: the keys are traffic account ids of {TRAFFIC_ACCOUNTS}")
        for recipient in recipients
        for account_id, (_, where) in recipient.steps.items()
        if account_id not in ids
    ]
    used = {a.channel for a in accounts}
    errors += [
        FieldError(request.named(key), f"is a {name} block, but no traffic account of the request is a {name} account")
        for name, key in keys.items()
        if name not in used
    ]
    own_destinations = [step.destination if isinstance(step.destination, str) else None for step in steps]
    return Checked(accounts, [s.field for s in steps], own_destinations, keys, blocks), _unique(errors)


def _address_errors(
    request: SendRequest,
    blocks: dict[str, dict[str, Any]],
    step: Step,
    found: TrafficAccount,
    recipients: list[Recipient],
    bulk: bool,
    other_kind: bool,
) -> list[FieldError]:
    """What the step's channel makes of the addresses it would send to: the step's own, or each recipient's
    (``other_kind``: of another kind than the first step to the recipient's address takes, so a problem says
    how to give the step an address of its own)."""
    channel, block = all_channels()[found.channel], blocks.get(found.channel)
    own = join(step.field, "destination")
    if step.destination is not None:
        if bulk:  # one address for every recipient of a bulk send would send all their fallbacks to one user
            return [
                FieldError(
                    own,
                    "would send every recipient's step to this one address: give each recipient's address for "
                    f'the step in destinations[] as {{"destination": ..., "stepDestinations": {{"{step.account_id}"'
                    ": <address>}}, and list the step as its id alone (or send with sendmessagesbulk)",
                )
            ]
        problem = channel.destination_problem(step.destination, block) if isinstance(step.destination, str) else None
        return [FieldError(own, f"{problem} (for the {found.channel} account)")] if problem else []
    hint = ""
    if other_kind:
        hint = (
            f'; give the recipient\'s address on it in stepDestinations: {{"{found.id}": <address>}}'
            if bulk
            else f"; give the step its own: {{trafficAccountId, destination}} at {step.field}"
        )
    errors = []
    for recipient in recipients:
        given = recipient.steps.get(found.id) if recipient.steps else None
        destination, where = given or (recipient.destination, recipient.field)
        if isinstance(destination, str) and (problem := channel.destination_problem(destination, block)):
            errors.append(FieldError(where, f"{problem} (for the {found.channel} account){'' if given else hint}"))
    return errors


def _kind(account: TrafficAccount, blocks: dict[str, dict[str, Any]]) -> str:
    """The kind of address a step through ``account`` is sent to (its block in ``blocks`` decides, where it
    decoded)."""
    return all_channels()[account.channel].destination_kind(blocks.get(account.channel))


def raise_if(errors: list[FieldError], detail: str = "The message can't be sent as it is.") -> None:
    if errors:
        raise invalid(errors, detail)


def _steps(request: SendRequest) -> tuple[list[Step], bool]:
    """The traffic accounts of the send in order, and whether it is a failover; read leniently (a failover
    that didn't decode still names its accounts); none when some can't be read."""
    if not is_absent(request.member("failover")):
        entries = request.member("failover", "timeoutFailover", "trafficAccounts")
        steps = []
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            named = request.named(f"{TRAFFIC_ACCOUNTS}[{index}]")
            addressed = isinstance(entry, dict)
            account_id = decode(_member(entry, "trafficAccountId") if addressed else entry, UUID).value
            if account_id is None:
                return [], True
            steps.append(Step(account_id, named, _member(entry, "destination") if addressed else None))
        return steps, True
    account_id = decode(request.member("trafficAccountId"), UUID).value
    return ([Step(account_id, request.named("trafficAccountId"))] if account_id else []), False


def _block_keys(request: SendRequest) -> dict[str, str]:
    """The channel blocks the request gives (not null, not ``{}``), by channel name: the key as written."""
    by_key = shapes().channel_of_key
    return {
        by_key[key.lower()]: key
        for key, value in request.raw.items()
        if isinstance(key, str) and key.lower() in by_key and not is_absent(value)
    }


def _member(value: Any, *names: str) -> Any:
    """The raw value at ``names`` (JSON names, any case) inside ``value``, None when absent."""
    for name in names:
        if not isinstance(value, dict):
            return None
        value = next((v for k, v in value.items() if isinstance(k, str) and k.lower() == name.lower()), None)
    return value


def _unique(errors: list[FieldError]) -> list[FieldError]:
    return list(dict.fromkeys(errors))
