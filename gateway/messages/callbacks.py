"""The gateway's side of provider callbacks: per-message callback tokens and applying status reports."""

from __future__ import annotations

import datetime
import functools
import json
import posixpath
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import httpx
import jwt
from jwt.algorithms import HMACAlgorithm
from jwt.utils import base64url_encode
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.base import Account, InboundMessage, StatusReport
from channels.registry import all_channels
from gateway.channel_routes import CALLBACKS, callback_path
from gateway.lib.db import in_chunks
from gateway.lib.group_commit import GroupCommit
from gateway.lib.lookups import Lookups
from gateway.lib.problems import Problem
from gateway.lib.work_due import WorkDue
from gateway.messages.accounts import adapter_account
from gateway.messages.conversations import conversation_for
from gateway.messages.failover import follow
from gateway.models import Message, TrafficAccount
from gateway.sandbox_journal import note_callback_message
from gateway.store import messages as store
from gateway.store import statuses
from gateway.store.messages import Applied, StatusChange, change_statuses
from gateway.store.parked import apply_parked, park
from gateway.tenants.auth import key_id

TOKEN_AUDIENCE = "callback"
ACCOUNT_AUDIENCE = "account-callback"
REPORT_LINGER = 0.02  # seconds a report waits to be written with others: a provider's callback can wait
KNOWN_TOKENS = 50_000  # message tokens remembered (~20 MB): more than are issued in the seconds a report takes


@dataclass(frozen=True, slots=True)
class CallbackTokens:
    """JWTs naming one message, carried in the callback URL a provider reports to. The first key signs,
    all verify (GATEWAY_CALLBACK_KEYS rotate like GATEWAY_JWT_KEYS).

    Message tokens issued or verified here are remembered (token -> message, expiry): a provider's report
    then costs a dictionary look-up instead of PyJWT's verification (~0.2 ms, the most of a report's
    handling). A remembered token is one these keys signed, so only its expiry is checked again; the keys
    can't change (a rotation is new settings: a new instance)."""

    keys: tuple[str, ...]
    lifetime_seconds: int
    # An OrderedDict: dropping a plain dict's first key when full scans the deleted slots before it (12 us a
    # token once full, against 0.5 us).
    _known: OrderedDict[str, tuple[UUID, int]] = field(
        default_factory=OrderedDict, init=False, repr=False, compare=False
    )

    def issue(self, message_id: UUID, now: datetime.datetime | None = None) -> str:
        now = now or datetime.datetime.now(datetime.UTC)
        claims = {
            "sub": str(message_id),
            "aud": TOKEN_AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + self.lifetime_seconds,
        }
        token = _signed(claims, self.keys[0])
        self._remember(token, message_id, claims["exp"])
        return token

    def issue_for_account(self, account_id: UUID, version: int = 0) -> str:
        """A token for the callbacks an operator configures once at the provider (inbound SMS, a bot's
        webhook without a secret): it has no expiry; it stops working when the account's
        ``callback_token_version`` moves on (rotateCallbackToken) or its signing key leaves
        GATEWAY_CALLBACK_KEYS. A token without ``ver`` (issued before versions) is of version 0."""
        return _signed({"sub": str(account_id), "aud": ACCOUNT_AUDIENCE, "ver": version}, self.keys[0])

    def message_of(self, token: str | None) -> UUID | None:
        if not token:
            return None
        if (known := self._known.get(token)) is not None:
            return known[0] if time.time() < known[1] else None  # PyJWT's test: expired once int(exp) <= now
        claims = self._claims(token, TOKEN_AUDIENCE, ["exp", "sub"])
        if claims is None:
            return None
        self._remember(token, claims[0], int(claims[1]["exp"]))  # a provider may report again (Sent, Delivered)
        return claims[0]

    def _remember(self, token: str, message_id: UUID, expiry: int) -> None:
        if len(self._known) >= KNOWN_TOKENS:
            self._known.popitem(last=False)  # the oldest: its report most likely came already
        self._known[token] = (message_id, expiry)

    def account_of(self, token: str | None) -> tuple[UUID, int] | None:
        """(account, token version) of an account token whose signature is good."""
        claims = self._claims(token, ACCOUNT_AUDIENCE, ["sub"])
        if claims is None or isinstance(version := claims[1].get("ver", 0), bool) or not isinstance(version, int):
            return None
        return claims[0], version

    def _claims(self, token: str | None, audience: str, required: list[str]) -> tuple[UUID, dict] | None:
        if not token:
            return None
        try:
            if len(self.keys) == 1:
                # The token is parsed once, header with payload: PyJWT's parsing is slow (it checks the base64
                # byte by byte in Python), and reading the header first to pick the key parses it twice.
                secret = self.keys[0]
            else:
                kid = jwt.get_unverified_header(token).get("kid")
                secret = next(key for key in self.keys if _kid(key) == kid)
            options = {"require": required}
            decoded = jwt.decode_complete(token, secret, algorithms=["HS256"], audience=audience, options=options)
            if decoded["header"].get("kid") != _kid(secret):
                return None
            claims = decoded["payload"]
            return UUID(claims["sub"]), claims
        except (jwt.InvalidTokenError, StopIteration, ValueError, TypeError):
            return None


@functools.cache
def _kid(secret: str) -> str:
    return key_id(secret)


HS256 = HMACAlgorithm(HMACAlgorithm.SHA256)


def _signed(claims: dict, secret: str) -> str:
    """``jwt.encode(claims, secret, algorithm="HS256", headers={"kid": _kid(secret)})``, the same bytes, from
    PyJWT's parts at a fifth of its cost (one per send): the header and the key are prepared once per key
    (PyJWT checks every time that an HMAC secret isn't a PEM, SSH or DER key)."""
    header, key = _signing(secret)
    signing_input = header + base64url_encode(json.dumps(claims, separators=(",", ":")).encode())
    return (signing_input + b"." + base64url_encode(HS256.sign(signing_input, key))).decode()


@functools.cache
def _signing(secret: str) -> tuple[bytes, bytes]:
    """The encoded header and the HMAC key of a secret's tokens (JSON as PyJWT writes it: compact, sorted)."""
    header = json.dumps({"alg": "HS256", "kid": _kid(secret), "typ": "JWT"}, separators=(",", ":"), sort_keys=True)
    return base64url_encode(header.encode()) + b".", HS256.prepare_key(secret)


class ProviderCallbacks:
    """The gateway as the channels' callback and sandbox routes see it (``channels.base.Callbacks``): their
    tokens and URLs, traffic accounts, and applying status reports and inbound messages."""

    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        tokens: CallbackTokens,
        callback_base_url: str,
        lookups: Lookups | None = None,
        public_url: str | None = None,
        work_due: WorkDue | None = None,
    ) -> None:
        self.session_maker = session_maker
        self.work_due = work_due or WorkDue()  # a failover step made Ready by a report is due at once
        self.tokens = tokens
        self.lookups = lookups or Lookups()  # every callback names its account: one query per callback otherwise
        self.callback_base_url = callback_base_url.rstrip("/")
        self.public_url = (public_url or callback_base_url).rstrip("/")  # the sandbox providers' base
        self.callback_prefix = f"{self.callback_base_url}{CALLBACKS}/"
        # Ours too: the API keeps its callback routes for URLs handed out before GATEWAY_CALLBACK_URL was set.
        self.own_prefixes = (self.callback_prefix, f"{self.public_url}{CALLBACKS}/")
        self._reports = GroupCommit(self._apply_reports, linger=REPORT_LINGER)

    def callback_url(self, channel: str, account_id: UUID) -> str:
        return self.callback_base_url + callback_path(channel, account_id)

    def is_own_callback(self, url: str) -> bool:
        # Compared after resolving dot segments, as an HTTP client would: ".../callbacks/../admin" isn't ours.
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        resolved = urlunsplit((parts.scheme, parts.netloc, posixpath.normpath(parts.path or "/"), "", ""))
        return resolved.startswith(self.own_prefixes) and ".." not in parts.path

    def message_of_token(self, token: str | None) -> UUID | None:
        return self.tokens.message_of(token)

    async def account_of_token(self, token: str | None) -> UUID | None:
        # The signature is checked in constant time (PyJWT's hmac.compare_digest); the version is no secret.
        found = self.tokens.account_of(token)
        if found is None or await self._token_version(found[0]) != found[1]:
            return None
        return found[0]

    async def provider_callback_url(self, channel: str, account_id: UUID) -> str:
        version = await self._token_version(account_id) or 0
        return provider_callback_url(self.callback_base_url, self.tokens, channel, account_id, version)

    def account_callback_url(self, account: TrafficAccount) -> str:
        """The account's ``callbackUrl`` (the API shows it), from its row."""
        return provider_callback_url(
            self.callback_base_url, self.tokens, account.channel, account.id, account.callback_token_version
        )

    async def register(self, http: httpx.AsyncClient, account: TrafficAccount) -> str:
        """Tell the provider to send the account's callbacks to its ``callbackUrl`` (the channel's
        ``register_callbacks``, e.g. a bot API's set-webhook call); the URL registered. The
        operator's and the customer's API both answer with this, so its problems are theirs."""
        register = all_channels()[account.channel].register_callbacks
        if register is None:
            raise Problem(
                400,
                "no_callback_registration",
                f"{account.channel} has no API for this: configure callbackUrl at the provider.",
            )
        url = self.account_callback_url(account)
        target = adapter_account(account, self.public_url, self.tokens.keys[0])
        try:
            await register(http, target, url)
        except (httpx.HTTPError, ValueError) as error:
            raise Problem(502, "provider_refused", f"The provider refused the registration: {error}"[:500]) from None
        return url

    async def _token_version(self, account_id: UUID) -> int | None:
        """The account's callback token version; None when there is no such account. Remembered a moment
        (gateway.lib.lookups): a rotation through this process is seen at once, by others within seconds."""

        async def load() -> int | None:
            async with self.session_maker() as session:
                query = select(TrafficAccount.callback_token_version).where(TrafficAccount.id == account_id)
                return await session.scalar(query)

        return await self.lookups.remember(("callback token version", account_id), load)

    async def report(self, account_id: UUID, report: StatusReport) -> bool:
        if report.status not in statuses.ALL:
            raise ValueError(f"unknown status {report.status!r}")
        if report.message_id is None and not report.provider_message_id:
            return False
        found = await self._reports.submit((account_id, report))
        if found:
            note_callback_message(report.message_id, report.provider_message_id)
        return found

    async def _apply_reports(self, reports: list[tuple[UUID, StatusReport]]) -> list[bool]:
        """Apply many status reports in one transaction (group commit: under load each delivery report
        in a transaction of its own costs more than the rest of its handling). Per report whether its
        message (of that traffic account) was found; a report that can't move the status (a repeat, or
        one arriving out of order) changes nothing."""
        by_id = {r.message_id for _, r in reports if r.message_id is not None}
        by_provider = list({(a, r.provider_message_id) for a, r in reports if r.message_id is None})
        async with self.session_maker() as session:
            found_by_id: dict[UUID, tuple[UUID, str]] = {}  # message -> (its traffic account, its status)
            if by_id:
                query = select(Message.id, Message.traffic_account_id, Message.status).where(Message.id.in_(by_id))
                found_by_id = {m: (a, s) for m, a, s in await session.execute(query)}
            provider_ids: dict[tuple[UUID, str | None], tuple[UUID, str]] = {}
            pair = tuple_(Message.traffic_account_id, Message.provider_message_id)
            query = select(Message.traffic_account_id, Message.provider_message_id, Message.id, Message.status)
            for chunk in in_chunks(by_provider):
                found = await session.execute(query.where(pair.in_(chunk)))
                provider_ids.update(((a, p), (m, s)) for a, p, m, s in found)
            changes, answers, overtaking, interim = [], [], [], []
            for index, (account_id, report) in enumerate(reports):
                message_id, status = None, None
                if report.message_id is not None:
                    found_account, status = found_by_id.get(report.message_id, (None, None))
                    message_id = report.message_id if found_account == account_id else None
                elif (known := provider_ids.get((account_id, report.provider_message_id))) is not None:
                    message_id, status = known
                else:
                    overtaking.append(index)
                if message_id is not None:
                    if status == statuses.READY:
                        changes.append(implied_send(message_id, report))
                    changes.append(StatusChange(message_id, report.status, report.error_code, report.description))
                    if report.interim:
                        interim.append((message_id, report.interim))
                answers.append(message_id is not None)
            applied = await change_statuses(session, changes)
            applied += await follow(session, applied)
            # After the changes: an interim report on a message they made Sent (its implied send) is reported.
            await store.report_interim(session, interim)
            await session.commit()
            for index in overtaking:
                answers[index], parked = await self._park(session, *reports[index])
                applied += parked
        self.work_due.statuses_changed()
        if applied.now_due:
            await self.work_due.messages()
        return answers

    async def _park(self, session: AsyncSession, account_id: UUID, report: StatusReport) -> tuple[bool, Applied]:
        """A report on a provider id not recorded yet: it may have overtaken the recording of the send
        answer, so it is kept until that id is known (applied at once if it was recorded meanwhile)."""
        if await session.get(TrafficAccount, account_id) is None:
            return False, Applied()
        await park(session, account_id, report)
        assert report.provider_message_id is not None
        applied = await apply_parked(session, [(account_id, report.provider_message_id)])
        applied += await follow(session, applied)
        await session.commit()
        return True, applied

    async def inbound_message_id(self, account_id: UUID, provider_message_id: str) -> UUID | None:
        async with self.session_maker() as session:
            return await session.scalar(
                select(Message.id).where(
                    Message.traffic_account_id == account_id,
                    Message.direction == "inbound",
                    Message.provider_message_id == provider_message_id,
                )
            )

    async def sandbox_account_ids(self, channel: str) -> list[UUID]:
        async with self.session_maker() as session:
            query = select(TrafficAccount.id).where(TrafficAccount.channel == channel, TrafficAccount.sandbox.is_(True))
            return list(await session.scalars(query))

    async def account(self, account_id: UUID, channel: str) -> Account | None:

        async def load() -> tuple[str, Account] | None:
            async with self.session_maker() as session:
                row = await session.get(TrafficAccount, account_id)
            return None if row is None else (row.channel, adapter_account(row, self.public_url, self.tokens.keys[0]))

        found = await self.lookups.remember(("callback account", account_id), load)
        if found is None or found[0] != channel:
            return None
        return found[1]

    async def receive(self, account_id: UUID, inbound: InboundMessage) -> bool:
        async with self.session_maker() as session:
            account = await session.get(TrafficAccount, account_id)
            if account is None:
                return False
            if inbound.provider_message_id and await session.scalar(
                select(Message.id).where(
                    Message.traffic_account_id == account_id,
                    Message.direction == "inbound",
                    Message.provider_message_id == inbound.provider_message_id,
                )
            ):
                return True  # a provider's retry of a message we have: processed once
            note_callback_message(None, inbound.provider_message_id)
            sender = all_channels()[account.channel].canonical_address(inbound.sender)
            conversation = await conversation_for(session, account, sender)
            if await store.receive(session, account, conversation, sender, inbound):
                self.work_due.statuses_changed()
            return True  # stored now, or by the provider's concurrent repeat of it


def implied_send(message_id: UUID, report: StatusReport) -> StatusChange:
    """A report on a message still Ready: the provider has it, so it was sent, by a worker that died
    before recording that (its lease then runs out, but only Ready messages are claimed: it isn't sent
    again), or whose recording this report overtook. The Sent comes first, with the provider's id."""
    provider_id = (report.provider_message_id or "")[:256] or None
    return StatusChange(message_id, statuses.SENT, values={"provider_message_id": provider_id} if provider_id else {})


def provider_callback_url(
    public_url: str, tokens: CallbackTokens, channel: str, account_id: UUID, version: int = 0
) -> str:
    """The URL an operator gives the provider for one traffic account's callbacks (inbound messages)."""
    suffix = all_channels()[channel].inbound_callback_suffix
    token = tokens.issue_for_account(account_id, version)
    return f"{public_url.rstrip('/')}{callback_path(channel, account_id)}{suffix}?token={token}"
