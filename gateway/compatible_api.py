"""The gateway's side of a channel's compatible API (channels.base.CompatibleApi): what the provider's own API
served to customers (the SMS API's /sms...) asks of the gateway, done as the Chat API does it.

A compatible send is planned exactly like a ``sendmessagesbulk`` of the same blocks (one message per send, a
destination given twice is two messages; every problem named ``messages[i]...``), accepted with its
Idempotency-Key answer in one transaction, and dispatched; its status reports go to the tenant's ``compatible``
webhook of the request's Notify (gateway.store.outbox), whose events the store raises in the channel's own
callback format (gateway.store.messages).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from urllib.parse import urlsplit
from uuid import UUID

from litestar import Request
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.base import CompatibleAccount, CompatibleSend, Notify, Refused, Sent
from channels.registry import all_channels
from gateway.idempotency import KeyedAnswer, claim_of
from gateway.lib.clock import now
from gateway.lib.netguard import url_problem, url_syntax_problem
from gateway.lib.problems import Problem
from gateway.messages.requests import shapes
from gateway.messages.service import MessageService
from gateway.messages.validation import SendRequest
from gateway.models import Message, TrafficAccount, Webhook
from gateway.store import messages as store
from gateway.store import outbox, statuses
from gateway.tenants.auth import Principal
from gateway.webhooks.catchers import is_catcher_url
from wire.errors import FieldError

URL_MAX = Webhook.url.type.length  # a Notify's URL template, at most as long as a webhook's URL
# Usage is counted per destination prefix ("+" and 8 digits: a number's country is told by at most that many of its
# first digits), each with a destination of it to tell the country by: rows per prefix, however many numbers.
PREFIX_LENGTH = 9
LEFT = (statuses.SENT, statuses.DELIVERED, statuses.READ)
LEFT_THEN_FAILED = (statuses.FAILED, statuses.EXPIRED)  # counted when the provider had accepted them
_FIXED_HOST = re.compile(r"[\w.-]+|[0-9a-f:.]+")  # a name or an IP address: no placeholder (<reference>, $x$)


class GatewayCompatibleApi:
    """channels.base.CompatibleApi, for one request (its session)."""

    def __init__(
        self,
        session: AsyncSession,
        messages: MessageService,
        bulk_max: int,
        allow_private_urls: bool = False,
        catchers_at: str | None = None,
    ) -> None:
        self.session = session
        self.messages = messages
        self.bulk_max = bulk_max  # GATEWAY_BULK_MAX_MESSAGES: as many as a sendmessagesbulk takes
        # Where reports may go, as for the webhook API's webhooks (gateway.webhooks.service).
        self.allow_private_urls = allow_private_urls  # GATEWAY_ALLOW_PRIVATE_WEBHOOK_URLS
        self.catchers_at = catchers_at  # the gateway's address, where its webhook catchers are (None: not served)

    async def account(self, request: Request, channel: str) -> CompatibleAccount:
        caller: Principal = request.user
        if caller.traffic_account_id is not None:
            try:  # remembered a moment, as every Chat API send's account
                bound = await self.messages.account(caller.tenant_id, caller.traffic_account_id)
            except Problem:
                bound = None
            if bound is None or bound.channel != channel:
                raise Refused(
                    403,
                    "key_bound_elsewhere",
                    f"The API key is bound to a traffic account that is gone or is no {channel} account.",
                )
            return _compatible(bound)
        found = await self.accounts(request, channel)
        if not found:
            raise Refused(403, "no_traffic_account", f"The tenant has no {channel} traffic account to send through.")
        if len(found) > 1:
            raise Refused(
                403,
                "several_traffic_accounts",
                f"The tenant has {len(found)} {channel} traffic accounts: use an API key bound to one of them.",
            )
        return found[0]

    async def accounts(self, request: Request, channel: str) -> list[CompatibleAccount]:
        caller: Principal = request.user

        async def load() -> list[CompatibleAccount]:
            found = await self.session.scalars(
                select(TrafficAccount)
                .where(TrafficAccount.tenant_id == caller.tenant_id, TrafficAccount.channel == channel)
                .order_by(TrafficAccount.created_at, TrafficAccount.id)
            )
            return [_compatible(account) for account in found]

        # Remembered a moment (gateway.lib.lookups), as the Chat API's accounts: every /sms asks.
        return await self.messages.lookups.remember(("compatible accounts", caller.tenant_id, channel), load)

    async def send(
        self,
        request: Request,
        account: CompatibleAccount,
        sends: list[CompatibleSend],
        notify: Notify | None,
        render: Callable[[list[Sent]], tuple[bytes, str]],
        *,
        test: bool = False,
    ) -> tuple[bytes, str]:
        caller: Principal = request.user
        if not sends:
            raise Refused(400, "validation_error", "Nothing to send.", [FieldError("messages", "must not be empty")])
        if len(sends) > self.bulk_max:
            detail = f"holds {len(sends)}; at most {self.bulk_max} per request (GATEWAY_BULK_MAX_MESSAGES)"
            raise Refused(400, "validation_error", "The request is not valid.", [FieldError("messages", detail)])
        if notify is not None and (problem := self._notify_problem(notify)):
            raise Refused(400, "validation_error", "The request is not valid.", [FieldError("notify.url", problem)])
        try:
            found = await self.messages.account(caller.tenant_id, account.id)
            # Exactly a sendmessagesbulk of these blocks through the account: the same checks, the same names.
            channel = all_channels()[found.channel]
            key = channel.block_key or channel.name
            requests = [
                SendRequest.read(
                    {"trafficAccountId": str(account.id), "destination": send.destination, key: send.block},
                    shapes().send,
                    f"messages[{index}]",
                )
                for index, send in enumerate(sends)
            ]
            planned = await self.messages.plan_messages_bulk(caller.tenant_id, requests)
        except Problem as problem:
            raise _refused(problem) from None
        if test:  # checked in full; nothing stored, nothing sent
            at = now()
            body, content_type = render([Sent(None, m.destination, at) for m in planned.messages])
            await self._keep_answer(request, body, content_type)
            return body, content_type
        if notify is not None:
            webhook_id = await self._webhook(caller.tenant_id, notify)
            kept = outbox.notify_value(notify)
            for message in planned.messages:
                message.notify_webhook_id, message.notify = webhook_id, kept
        body, content_type = render([Sent(m.id, m.destination, m.created_at) for m in planned.messages])
        claim = claim_of(request)
        keyed = None if claim is None else KeyedAnswer(claim, lambda: body, content_type=content_type)
        try:
            await self.messages.accept(planned, keyed)
        except Problem as problem:  # the traffic account deleted meanwhile
            raise _refused(problem) from None
        return body, content_type

    async def convert(self, request: Request, account_ids: list[UUID], message_id: UUID) -> bool:
        caller: Principal = request.user
        return await store.mark_converted(self.session, caller.tenant_id, account_ids, message_id)

    async def usage(
        self, request: Request, account_id: UUID, start: datetime.datetime, end: datetime.datetime
    ) -> list[tuple[str, int, int]]:
        caller: Principal = request.user
        prefix = func.substr(Message.destination, 1, PREFIX_LENGTH)
        rows = await self.session.execute(
            select(func.min(Message.destination), func.count(), func.sum(Message.message_parts))
            .where(
                Message.tenant_id == caller.tenant_id,
                Message.traffic_account_id == account_id,
                Message.direction == "outbound",
                or_(  # the messages that left: accepted upstream (a failure or expiry then reported by it)
                    Message.status.in_(LEFT),
                    and_(Message.status.in_(LEFT_THEN_FAILED), Message.provider_message_id.is_not(None)),
                ),
                Message.created_at >= start,
                Message.created_at < end,
            )
            .group_by(prefix)
            .order_by(prefix)
        )
        return [(destination, count, int(parts or 0)) for destination, count, parts in rows]

    def _notify_problem(self, notify: Notify) -> str | None:
        """Why the reports can't go to ``notify``'s URL, checked on the URL as written (its path and query may
        hold the channel's placeholders; its origin may not): where they go is checked when its webhook is made."""
        if len(notify.url) > URL_MAX:
            return f"must be at most {URL_MAX} characters"
        if problem := url_syntax_problem(notify.url):
            return problem
        if not _FIXED_HOST.fullmatch(urlsplit(notify.url).hostname or ""):
            return "must name its host as written (no placeholder in it)"
        return None

    async def _webhook(self, tenant_id: UUID, notify: Notify) -> UUID:
        """The id of the tenant's compatible webhook of the Notify's method and URL origin: remembered a moment,
        made (and committed: the messages are written on another connection) when there is none. Refused when
        the origin is not a public http(s) target, as the webhook API refuses one (GATEWAY_ALLOW_PRIVATE_
        WEBHOOK_URLS, the gateway's own catcher URLs excepted)."""
        own = is_catcher_url(notify.url, self.catchers_at)  # the gateway itself: allowed though it is private
        origin = outbox.origin_of(notify.url)

        async def load() -> UUID:
            if problem := await url_problem(origin + "/", allow_private=self.allow_private_urls or own):
                raise Refused(400, "validation_error", "The request is not valid.", [FieldError("notify.url", problem)])
            webhook_id, made = await outbox.compatible_webhook(self.session, tenant_id, notify.method, notify.url)
            if made:
                await self.session.commit()
            return webhook_id

        return await self.messages.lookups.remember(("compatible webhook", tenant_id, notify.method, origin, own), load)

    async def _keep_answer(self, request: Request, body: bytes, content_type: str) -> None:
        """A test-mode answer is kept with its Idempotency-Key too (there are no messages to store it with)."""
        if (claim := claim_of(request)) is None:
            return
        await KeyedAnswer(claim, lambda: body, content_type=content_type).store(await self.session.connection())
        await self.session.commit()


def _compatible(account: TrafficAccount) -> CompatibleAccount:
    return CompatibleAccount(account.id, account.tenant_id, account.name, account.sandbox, dict(account.settings))


def _refused(problem: Problem) -> Refused:
    """A Chat API problem (validation, a traffic account gone) as the compatible API's refusal."""
    extra = problem.extra if isinstance(problem.extra, dict) else {}
    errors = [FieldError(e["field"], e["message"]) for e in extra.get("errors", [])]
    return Refused(problem.status_code, extra.get("code", "bad_request"), problem.detail, errors)
