"""What makes a send valid, checked all at once so one answer names every problem (seed 002): the
channel blocks, the failover object, and the request against its traffic accounts' channels."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from channels.registry import all_channels
from gateway.lib.problems import invalid
from gateway.messages.failover import REQUIRED_STATUSES
from gateway.models import TrafficAccount
from wire.errors import FieldError


def block_key(key: str) -> str | None:
    """The channel a top-level key of a send request names (``whatsApp`` and ``whatsapp`` alike)."""
    lower = key.lower()
    return lower if lower in all_channels() else None


def block_errors(blocks: dict[str, Any]) -> list[FieldError]:
    """Every problem with the channel blocks of a request, named by the key the client used."""
    errors = []
    for key, block in blocks.items():
        channel = all_channels()[block_key(key) or key]
        errors += [FieldError(f"{key}.{e.field}" if e.field else key, e.message) for e in channel.validate_block(block)]
    return errors


TRAFFIC_ACCOUNTS = "failover.timeoutFailover.trafficAccounts"
MAX_FAILOVER_STEPS = 10
TIMEOUT_RANGE = (5, 7 * 24 * 3600)  # seconds a failover step may wait for its status


@dataclass(frozen=True, slots=True)
class SendRequest:
    """One message to send, as the API took it (the blocks keyed as the client wrote them)."""

    traffic_account_id: UUID | None
    destination: str
    blocks: dict[str, Any]
    failover: Any = None


@dataclass(frozen=True, slots=True)
class Failover:
    required_status: str
    timeout_seconds: int
    account_ids: list[UUID]


def parse_failover(raw: Any) -> tuple[Failover | None, list[FieldError]]:
    """The ``failover`` object of a send (seed 002); only type Timeout exists."""
    if raw is None:
        return None, []
    if not isinstance(raw, dict):
        return None, [FieldError("failover", 'must be an object like {"type": "Timeout", "timeoutFailover": {...}}')]
    errors = []
    if raw.get("type") != "Timeout":
        errors.append(FieldError("failover.type", 'must be "Timeout"'))
    timeout = raw.get("timeoutFailover")
    if not isinstance(timeout, dict):
        return None, [*errors, FieldError("failover.timeoutFailover", "must be an object")]
    errors += [
        FieldError(
            f"failover.timeoutFailover.{key}", "unknown field; allowed: timeoutInSeconds, status, trafficAccounts"
        )
        for key in timeout
        if key not in ("timeoutInSeconds", "status", "trafficAccounts")
    ]
    seconds = timeout.get("timeoutInSeconds")
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not TIMEOUT_RANGE[0] <= seconds <= TIMEOUT_RANGE[1]:
        errors.append(
            FieldError(
                "failover.timeoutFailover.timeoutInSeconds",
                f"must be a whole number from {TIMEOUT_RANGE[0]} to {TIMEOUT_RANGE[1]}",
            )
        )
    status = timeout.get("status")
    if status not in REQUIRED_STATUSES:
        errors.append(FieldError("failover.timeoutFailover.status", f"must be one of {', '.join(REQUIRED_STATUSES)}"))
    accounts = timeout.get("trafficAccounts")
    ids: list[UUID] = []
    if not isinstance(accounts, list) or not 2 <= len(accounts) <= MAX_FAILOVER_STEPS:
        errors.append(
            FieldError(TRAFFIC_ACCOUNTS, f"must list 2 to {MAX_FAILOVER_STEPS} traffic account ids, in order")
        )
    else:
        for index, value in enumerate(accounts):
            try:
                ids.append(UUID(value))
            except (TypeError, ValueError, AttributeError):
                errors.append(FieldError(f"{TRAFFIC_ACCOUNTS}[{index}]", "must be a traffic account id (a UUID)"))
    if errors:
        return None, errors
    return Failover(status, seconds, ids), []


@dataclass(frozen=True, slots=True)
class Checked:
    """A send found valid: its traffic accounts in order (with the field each was named by), the key of
    the block each channel uses, and its failover."""

    accounts: list[TrafficAccount]
    fields: list[str]
    keys: dict[str | None, str]
    failover: Failover | None


# (tenant, traffic account id, the field naming it) -> the account, or a 404 naming the field.
AccountOf = Callable[[UUID, UUID, str], Awaitable[TrafficAccount]]


async def check(tenant_id: UUID, request: SendRequest, account: AccountOf) -> Checked:
    """Every problem of one send, named relative to the request (raised at once as a 400); an unknown
    traffic account is a 404 naming it."""
    errors: list[FieldError] = []
    failover, failover_errors = parse_failover(request.failover)
    errors += failover_errors
    if failover is not None:
        if request.traffic_account_id not in (None, failover.account_ids[0]):
            errors.append(FieldError("trafficAccountId", f"must be the first of {TRAFFIC_ACCOUNTS}, or be left out"))
        fields = [f"{TRAFFIC_ACCOUNTS}[{n}]" for n in range(len(failover.account_ids))]
        accounts = [await account(tenant_id, a, f) for a, f in zip(failover.account_ids, fields, strict=True)]
    elif request.traffic_account_id is None:
        if request.failover is None:
            errors.append(FieldError("trafficAccountId", "is required (or a failover with its traffic accounts)"))
        raise invalid(errors, "The message can't be sent as it is.")
    else:
        fields, accounts = (
            ["trafficAccountId"],
            [await account(tenant_id, request.traffic_account_id, "trafficAccountId")],
        )
    keys: dict[str | None, str] = {}
    errors += block_errors(request.blocks)
    for key in request.blocks:
        if block_key(key) in keys:
            errors.append(FieldError(key, f"repeats the {keys[block_key(key)]} block"))
        keys[block_key(key)] = key
    channels_used = {account.channel for account in accounts}
    for account, field in zip(accounts, fields, strict=True):
        channel = all_channels()[account.channel]
        if account.channel not in keys:
            errors.append(FieldError(account.channel, f"is required: {field} is a {account.channel} account"))
        if failover and failover.required_status not in channel.receipts:
            errors.append(
                FieldError(
                    field,
                    f"a {account.channel} account never reports {failover.required_status}, "
                    f"so this step could never succeed; wait for {' or '.join(channel.receipts)}",
                )
            )
        if problem := channel.destination_problem(request.destination):
            errors.append(FieldError("destination", f"{problem} (for the {account.channel} account)"))
    errors += [
        FieldError(key, f"is a {name} block, but no traffic account of the request is a {name} account")
        for name, key in keys.items()
        if name not in channels_used
    ]
    if len({a.id for a in accounts}) < len(accounts):
        errors.append(FieldError(TRAFFIC_ACCOUNTS, "names a traffic account twice"))
    if errors:
        raise invalid(errors, "The message can't be sent as it is.")
    return Checked(accounts, fields, keys, failover)
