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
        value: Any = self.raw
        for name in names:
            if not isinstance(value, dict):
                return None
            value = next((v for k, v in value.items() if isinstance(k, str) and k.lower() == name.lower()), None)
        return value

    def named(self, name: str) -> str:
        return join(self.path, name)


@dataclass(frozen=True, slots=True)
class Checked:
    """A send's traffic accounts in order (with the field each was named by), the key of the block each
    channel uses, and the blocks that decoded (by channel name) as they are stored and sent."""

    accounts: list[TrafficAccount]
    fields: list[str]
    keys: dict[str, str]
    blocks: dict[str, dict[str, Any]]


# (tenant, traffic account id, the field naming it) -> the account, or a 404 naming the field.
AccountOf = Callable[[UUID, UUID, str], Awaitable[TrafficAccount]]


async def check(
    tenant_id: UUID, request: SendRequest, destinations: list[tuple[Any, str]], account: AccountOf
) -> tuple[Checked | None, list[FieldError]]:
    """Every problem of one send to ``destinations`` ((value, field) pairs): what decoding found and what
    its traffic accounts' channels make of it, with the accounts when they could be read (an unknown
    traffic account is a 404 naming it)."""
    errors = list(request.errors)
    ids, fields, failover = _steps(request)
    if not ids:
        if not failover and request.member("trafficAccountId") is None:
            errors.append(
                FieldError(request.named("trafficAccountId"), "is required (or a failover with its traffic accounts)")
            )
        return None, _unique(errors)
    if failover and request.decoded is not None and request.decoded.traffic_account_id not in (None, ids[0]):
        errors.append(
            FieldError(request.named("trafficAccountId"), f"must be the first of {TRAFFIC_ACCOUNTS}, or be left out")
        )
    accounts = [await account(tenant_id, a, f) for a, f in zip(ids, fields, strict=True)]
    keys = _block_keys(request)
    status = decode(request.member("failover", "timeoutFailover", "status"), RequiredStatus).value
    for step, field_ in zip(accounts, fields, strict=True):
        channel = all_channels()[step.channel]
        if step.channel not in keys:
            key = channel.block_key or channel.name
            errors.append(FieldError(request.named(key), f"is required: {field_} is a {step.channel} account"))
        if failover and status is not None and status not in channel.receipts:
            errors.append(
                FieldError(
                    field_,
                    f"a {step.channel} account never reports {status}, "
                    f"so this step could never succeed; wait for {' or '.join(channel.receipts)}",
                )
            )
        block = request.blocks.get(step.channel)  # None when it didn't decode: its kind is the channel's own
        for destination, where in destinations:
            if isinstance(destination, str) and (problem := channel.destination_problem(destination, block)):
                errors.append(FieldError(where, f"{problem} (for the {step.channel} account)"))
    used = {a.channel for a in accounts}
    errors += [
        FieldError(request.named(key), f"is a {name} block, but no traffic account of the request is a {name} account")
        for name, key in keys.items()
        if name not in used
    ]
    return Checked(accounts, fields, keys, request.blocks), _unique(errors)


def raise_if(errors: list[FieldError], detail: str = "The message can't be sent as it is.") -> None:
    if errors:
        raise invalid(errors, detail)


def _steps(request: SendRequest) -> tuple[list[UUID], list[str], bool]:
    """The traffic account ids of the send, with the field naming each, and whether it is a failover;
    read leniently (a failover that didn't decode still names its accounts); no ids when none can be read."""
    if not is_absent(request.member("failover")):
        ids = decode(request.member("failover", "timeoutFailover", "trafficAccounts"), list[UUID]).value or []
        return ids, [request.named(f"{TRAFFIC_ACCOUNTS}[{n}]") for n in range(len(ids))], True
    account_id = decode(request.member("trafficAccountId"), UUID).value
    return ([account_id], [request.named("trafficAccountId")], False) if account_id else ([], [], False)


def _block_keys(request: SendRequest) -> dict[str, str]:
    """The channel blocks the request gives (not null, not ``{}``), by channel name: the key as written."""
    by_key = shapes().channel_of_key
    return {
        by_key[key.lower()]: key
        for key, value in request.raw.items()
        if isinstance(key, str) and key.lower() in by_key and not is_absent(value)
    }


def _unique(errors: list[FieldError]) -> list[FieldError]:
    return list(dict.fromkeys(errors))
