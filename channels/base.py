"""The contract between the gateway and a channel adapter.

The gateway never names a channel: it asks the registry (entry-point group ``gateway.channels``)
for the ``Channel`` of a traffic account and works through this interface only.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import msgspec
import phonenumbers
from litestar.di import NamedDependency
from litestar.params import SkipValidation
from phonenumbers import phonenumberutil
from phonenumbers.phonemetadata import PhoneMetadata
from phonenumbers.phonenumberutil import ValidationResult

from wire.errors import FieldError


@dataclass(frozen=True, slots=True)
class SettingsSpec:
    """The provider settings a traffic account of a channel takes.

    ``public`` keys are plain configuration (returned to operators); ``credentials`` are secrets,
    stored encrypted and never returned. Every channel also takes ``baseUrl`` and ``sendRate``. A live
    account needs every key but the ``optional`` ones (of either kind).
    """

    public: tuple[str, ...] = ()
    credentials: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    # Credentials a sandbox account leaves unset unless given, rather than deriving them (gateway/messages/
    # accounts.py): ones whose absence chooses a behaviour (Telegram's webhookSecret).
    sandbox_unset: tuple[str, ...] = ()
    # Public keys whose value may be any JSON value (a flag, a table), not a non-empty string: the channel's
    # ``setting_problem`` alone checks them.
    typed: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return (*COMMON_KEYS, *self.public, *self.credentials)


COMMON_KEYS = ("baseUrl", "sendRate")
DESCRIPTION_MAX = 1000  # characters of a provider's description kept with a message
# The longest address (a user's phone number, chat or conversation id) or provider message id the gateway
# stores: a callback naming a longer one is malformed.
ID_MAX = 256


@dataclass(frozen=True, slots=True)
class Account:
    """A traffic account as its adapter sees it."""

    id: UUID
    base_url: str  # the provider's URL, the operator's baseUrl, or the sandbox provider's
    settings: dict[str, Any]
    credentials: dict[str, str]
    sandbox: bool


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message to send."""

    message_id: UUID
    destination: str
    block: dict[str, Any]
    valid_until: datetime.datetime
    callback_url: str  # where the provider reports on this message (the channel's callback route)


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider made of a send.

    Accepted: ``provider_message_id`` and ``status`` (Sent, or Delivered where the provider has no
    receipts). Rejected for good: ``permanent`` with the provider's code and text. Anything else
    (connection errors, timeouts, 5xx, 429) is transient: retried, after ``retry_after`` when given.
    """

    status: str | None = None
    provider_message_id: str | None = None
    permanent: bool = False
    error_code: str | None = None
    description: str | None = None
    retry_after: float | None = None

    @property
    def accepted(self) -> bool:
        return self.status is not None

    @classmethod
    def sent(cls, provider_id: str | None, status: str = "Sent", description: str | None = None) -> SendResult:
        """Accepted, under the provider's id of the message (None when its answer named none)."""
        return cls(status=status, provider_message_id=provider_id, description=description)

    @classmethod
    def transient(cls, description: str, retry_after: float | None = None) -> SendResult:
        """Not sent this time: tried again later, after ``retry_after`` seconds at least when given."""
        return cls(description=description[:DESCRIPTION_MAX], retry_after=retry_after)

    @classmethod
    def rejected(cls, code: str, description: str) -> SendResult:
        """Refused for good: the message is Failed with the channel's ``code`` (``<channel>.<provider code>``)."""
        return cls(permanent=True, error_code=code, description=description[:DESCRIPTION_MAX])

    @classmethod
    def invalid_block(cls, channel: str) -> SendResult:
        """A block the adapter can't turn into a request. Only a block its shape decoded is stored, so one
        that doesn't can never be sent."""
        return cls.rejected(f"{channel}.invalid_block", f"the {channel} block is not valid")


Send = Callable[[httpx.AsyncClient, Account, Outbound], Awaitable[SendResult]]


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A provider's report on a message: ours by id (from a signed callback token) or the provider's id."""

    status: str  # one of the gateway's statuses (Sent, Delivered, Read, Failed, Expired)
    message_id: UUID | None = None
    provider_message_id: str | None = None
    error_code: str | None = None
    description: str | None = None
    # An interim report, by the channel's name for it (the SMS API's BUFFERED: the provider still tries): the
    # status (Sent) is all it changes, and a message sent through the channel's compatible API that is still Sent
    # reports it to the customer (``compatible_report`` gets this name in place of a status). Kept only with a
    # message found: a report parked for a provider id not recorded yet keeps its status alone.
    interim: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """What a user sent, as the channel gave it."""

    sender: str  # the user's address on the channel (phone number, chat id, Viber user id)
    # One of channels.inbound's contents, as its dict (``inbound.content(...)``).
    content: dict[str, Any]
    provider_message_id: str | None = None  # a repeat of the same id is stored once
    sender_name: str | None = None  # the user's name as the channel shows it (profile name), when given
    # The account's own address the user wrote to, when the provider names it (an SMS's receiver: the number the
    # user texted, which may be another than the account's phoneNumber setting).
    recipient: str | None = None


class Callbacks(Protocol):
    """What a channel's callback and sandbox routes may ask of the gateway: their handlers take it as the
    ``callbacks`` dependency."""

    def message_of_token(self, token: str | None) -> UUID | None:
        """The message a per-message callback token was issued for; None when missing, forged or expired."""
        ...

    async def account_of_token(self, token: str | None) -> UUID | None:
        """The traffic account of the token in a callback URL the operator configured at the provider; None
        when missing, forged or rotated away (the account's current callbackUrl is the only good one)."""
        ...

    def callback_url(self, channel: str, account_id: UUID) -> str:
        """Where this gateway takes the callbacks of one traffic account (``/callbacks/<channel>/<id>``)."""
        ...

    async def provider_callback_url(self, channel: str, account_id: UUID) -> str:
        """The URL (with its account token) an operator configures at the provider for inbound messages:
        the account's ``callbackUrl``."""
        ...

    def is_own_callback(self, url: str) -> bool:
        """Whether ``url`` is one of this gateway's callback URLs (a sandbox provider reports only there)."""
        ...

    async def report(self, account_id: UUID, report: StatusReport) -> bool:
        """Apply a status report; False when it names no message of this traffic account."""
        ...

    async def receive(self, account_id: UUID, inbound: InboundMessage) -> bool:
        """Store a user's message (and its UserMessage webhook events); False when the traffic account
        doesn't exist. A repeat (same provider message id) is accepted and stored once."""
        ...

    async def inbound_message_id(self, account_id: UUID, provider_message_id: str) -> UUID | None:
        """The id of the user's message stored for this traffic account under the provider's id; None when
        there is none (a sandbox provider tells its simulated user which message was stored)."""
        ...

    async def sandbox_account_ids(self, channel: str) -> list[UUID]:
        """The ids of this channel's sandbox traffic accounts (a sandbox provider that can only tell an
        account by its credentials looks them up among these)."""
        ...

    async def account(self, account_id: UUID, channel: str) -> Account | None:
        """The traffic account with its credentials, to check a callback's signature; None when it
        doesn't exist or belongs to another channel."""
        ...


# The ``callbacks`` parameter of a channel's callback and sandbox routes: the gateway, injected by the app.
# Not validated per request (a Protocol can't be, and the app's own object needs no check).
CallbacksDependency = NamedDependency[SkipValidation[Callbacks]]


# A channel's compatible API: the provider's own API (the SMS HTTP API's /sms, /smsbulk...) served by the gateway to
# customers whose backends speak it. The channel declares its routes (``compatible_routes``, mounted at the root
# behind the customer API's authentication, rate limit and Idempotency-Key handling) and its callbacks' format
# (``compatible_report``, ``compatible_inbound``); the gateway stores, sends and delivers as for the Chat API.


@dataclass(frozen=True, slots=True)
class CompatibleAccount:
    """The traffic account a compatible API request acts on, as its channel sees it."""

    id: UUID
    tenant_id: UUID
    name: str
    sandbox: bool
    settings: dict[str, Any]  # the non-secret settings (the compatible API's own among them)


@dataclass(frozen=True, slots=True)
class Notify:
    """Where a message's status reports (or an account's users' messages) go in the compatible API's own callback
    format: a URL (a template the channel fills in), the HTTP method, and what to report (the channel's names of
    statuses, e.g. DELIVERED; empty: all). The gateway keeps one ``compatible`` webhook per method and URL origin
    (scheme://host[:port]), and each message's template and statuses beside it."""

    url: str
    method: str = "POST"  # GET or POST
    statuses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CompatibleSend:
    """One message of a compatible API request: the channel block and the address, as a Chat API send has them."""

    destination: str
    block: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Sent:
    """A message a compatible API request stored (None ids in test mode: nothing stored)."""

    message_id: UUID | None
    destination: str
    created_at: datetime.datetime


class Refused(Exception):
    """The gateway refuses a compatible API request: the channel answers it in its own format, with the problem's
    fields (``status``, ``code``, ``detail``, ``errors``) beside its own."""

    def __init__(self, status: int, code: str, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.errors = status, code, detail, errors or []


# (the message as stored, its new status (one of the gateway's) or an interim report's name (StatusReport.interim),
# when, the Notify it was sent with, the account's settings) -> the request to make ({"method", "url", "body"}: body
# a JSON object or None), or None: not reported.
CompatibleReport = Callable[[Any, str, datetime.datetime, Notify, dict[str, Any]], dict[str, Any] | None]
# (the account's settings) -> where its users' messages are forwarded, or None; and (the stored inbound message,
# the InboundMessage the channel made of the provider's callback, the account's settings, that Notify) -> the
# request to make.
CompatibleInboundTarget = Callable[[dict[str, Any]], Notify | None]
CompatibleInbound = Callable[[Any, InboundMessage, dict[str, Any], Notify], dict[str, Any]]


class CompatibleApi(Protocol):
    """What a channel's compatible API routes may ask of the gateway: their handlers take it as the
    ``compatible`` dependency. The caller is authenticated already (X-Mitto-API-Key, or a customer's token)."""

    async def account(self, request: Any, channel: str) -> CompatibleAccount:
        """The traffic account of ``channel`` the caller sends through: the one its API key is bound to, else the
        tenant's only one. Raises :class:`Refused` (403 ``no_traffic_account``, ``several_traffic_accounts``, or
        ``key_bound_elsewhere`` for a key bound to an account that is gone or of another channel)."""
        ...

    async def accounts(self, request: Any, channel: str) -> list[CompatibleAccount]:
        """The caller's tenant's traffic accounts of ``channel``."""
        ...

    async def send(
        self,
        request: Any,
        account: CompatibleAccount,
        sends: list[CompatibleSend],
        notify: Notify | None,
        render: Callable[[list[Sent]], tuple[bytes, str]],
        *,
        test: bool = False,
    ) -> tuple[bytes, str]:
        """Store one message per send (a destination given twice is two messages), as a Chat API send of these
        blocks would, and dispatch them; their status reports go to ``notify``. ``render`` makes the answer (body,
        content type) from the stored messages, in the order given; with an Idempotency-Key it is stored with the
        messages in one transaction and a repeat gets the same bytes. Test mode checks everything and stores
        nothing. Raises :class:`Refused` (400 ``validation_error`` with errors named ``messages[i].destination``,
        ``messages[i].<block key>.text``..., 404 for an account gone meanwhile)."""
        ...

    async def convert(self, request: Any, account_ids: list[UUID], message_id: UUID) -> bool:
        """Mark the tenant's outbound message of one of these accounts converted (again: no change); False when
        there is no such message."""
        ...

    async def usage(
        self, request: Any, account_id: UUID, start: datetime.datetime, end: datetime.datetime
    ) -> list[tuple[str, int, int]]:
        """(a destination, messages, billable parts) per destination prefix ("+" and 8 digits, enough to tell a
        number's country) of the account's outbound messages created in [start, end) that left: Sent, Delivered,
        Read, or Failed/Expired after the provider accepted them (messages never sent count nothing). The
        destination is one of the prefix's (the smallest), to tell its country by."""
        ...


CompatibleApiDependency = NamedDependency[SkipValidation[CompatibleApi]]


@dataclass(frozen=True, slots=True)
class ProviderAnswer:
    """An answer of a provider in its own wire format (status, JSON body, headers)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SandboxFailures:
    """How a channel's provider fails, for a sandbox account's behaviour (PUT /api/v1/sandbox/trafficAccounts/
    {id}/behaviour): the answers the gateway gives in the provider's place, so the adapter's own parsing
    runs. ``sends`` tells the requests that send a message (by their URL path's end) from the others a send
    may make (an OAuth token, a bot's name), which the behaviour leaves alone."""

    sends: tuple[str, ...]  # endings of the path of a send request
    transient: ProviderAnswer  # a 5xx: the message is tried again
    throttled: ProviderAnswer  # a 429 with Retry-After
    rejected: ProviderAnswer  # a permanent refusal: the message Fails with the channel's code

    def is_send(self, path: str) -> bool:
        return path.endswith(self.sends)


@dataclass(frozen=True, slots=True)
class UserReply:
    """What the inbox's "Reply as the user" form gives, for a channel's simulated user to send."""

    text: str = ""  # a media's caption, a button's title
    payload: str = ""  # a button's data
    latitude: float = 45.815  # a location (Zagreb unless given)
    longitude: float = 15.982


# A kind of message a simulated user can send besides text (``media``, ``location``, ``button``): the fields its
# sandbox simulator (``POST /sandbox/<channel>/inbound``) takes for it, beside ``trafficAccountId`` and ``from``.
UserReplyBody = Callable[[UserReply], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel adapter as the gateway sees it. Later parts (send, callbacks, sandbox) hang off this."""

    name: str
    settings: SettingsSpec
    send: Send  # the upstream request
    default_send_rate: float = 100.0
    # The statuses the provider reports after the send (a failover step can wait only for these).
    receipts: tuple[str, ...] = ("Delivered", "Read")
    # Whether a report can name only the provider's message id (a wamid, a Viber token). Such a report
    # may overtake the recording of the send answer and wait for it (gateway/store/parked.py);
    # one that names ours (a signed callback token) never waits.
    reports_by_provider_id: bool = True
    # (template name, request body) -> problems; None for channels that have no message templates.
    validate_template: Callable[[str, dict[str, Any]], list[FieldError]] | None = None
    # A send block that uses a stored template -> (name, language code); None otherwise.
    template_reference: Callable[[dict[str, Any]], tuple[str, str] | None] = lambda block: None
    # (send block, the stored template's components) -> problems, named relative to the block.
    template_send_errors: Callable[[dict[str, Any], list[dict[str, Any]]], list[FieldError]] = lambda block, c: []
    # The shape of the channel's block of a send request (wire.shapes decodes it): a msgspec Struct, or a
    # union of Structs tagged by ``type``, one per message type; rules beyond types are their ``problems()``.
    block_shape: Any = None  # required: the registry refuses a channel without one
    # The block's name in a send request, when it isn't the channel's name (seed 002 writes ``whatsApp``).
    block_key: str = ""
    # A complete block per message type, by its name: the OpenAPI document's request examples, the README's
    # and what the test suite sends.
    examples: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False, compare=False)
    # The block's limits, (field, limit) rows of the README's table.
    limits: tuple[tuple[str, str], ...] = ()
    # The stored templates the examples send, {name: the body that creates it}.
    template_examples: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False, compare=False)
    # The channel's own rule for a setting's value (a non-empty string, or any JSON value for a ``typed`` key):
    # what is wrong with it, or None.
    setting_problem: Callable[[str, Any], str | None] = lambda key, value: None
    # How long a valid block may still be delivered, when it says (SMS validity, Viber ttl).
    validity: Callable[[dict[str, Any]], datetime.timedelta | None] = lambda block: None
    # Billable parts of a valid block (SMS segments; 1 elsewhere).
    message_parts: Callable[[dict[str, Any]], int] = lambda block: 1
    # How the Chat API names a participant of this channel: "phoneNumber", "messagingAppIdentifier" or the
    # channel's own kind ("viberId"). The kind of users' messages and of blocks that don't say otherwise.
    address_kind: str = "phoneNumber"
    # The kind of address a (valid) block is sent to, when a channel's message types differ (Viber: bot
    # messages to a user id, business messages to a phone number); None: always ``address_kind``.
    block_address_kind: Callable[[dict[str, Any]], str] | None = None
    # The channel's rule for an address of a kind other than a phone number: (kind, address) -> what is wrong
    # with it, or None. The default takes any id of 1-256 characters without spaces.
    address_problem: Callable[[str, str], str | None] | None = None
    # The kind of a stored address, for channels with more than one (the views name the user by it).
    stored_address_kind: Callable[[str], str] | None = None
    # The traffic account's own addresses, shown in its participant (seed 002's ``sender``): (kind, setting)
    # pairs naming the public setting that holds each, e.g. ("phoneNumber", "phoneNumber"). A setting of
    # kind phoneNumber must be a phone number.
    account_addresses: tuple[tuple[str, str], ...] = ()
    # The text of a (valid) send block, for the message's top-level ``text``; None for a block without one.
    text_of: Callable[[dict[str, Any]], str | None] = lambda block: None
    # The provider's own URL, used when the traffic account has no baseUrl.
    default_base_url: str = ""
    # Litestar route handlers, their paths relative to the prefixes the gateway mounts them under: the
    # provider's callbacks (under /callbacks/<name>/{account_id:str}: each takes ``account_id``, e.g. at "/"
    # and "/inbound") and the sandbox provider that imitates it (under /sandbox/<name>, a sandbox account's
    # base URL).
    callback_routes: tuple[Any, ...] = ()
    sandbox_routes: tuple[Any, ...] = ()
    # Appended to /callbacks/<name>/<account id> in the URL the operator configures at the provider.
    inbound_callback_suffix: str = ""
    # Tells the provider where to send this account's callbacks (Telegram's setWebhook, Viber's
    # set_webhook...): the URL given is the account's callbackUrl, whose token authenticates callbacks that
    # carry no signature. Raises httpx.HTTPError or ValueError when the provider refuses.
    register_callbacks: Callable[[httpx.AsyncClient, Account, str], Awaitable[None]] | None = None
    # The provider's failing answers, which a sandbox account's behaviour gives (None: no behaviour applies).
    sandbox_failures: SandboxFailures | None = None
    # The kinds of message besides text its simulated user sends from the inbox (kind -> the simulator's fields).
    user_replies: dict[str, UserReplyBody] = field(default_factory=dict)
    # The provider's own API served to customers (see CompatibleApi): route handlers mounted at the root, and the
    # format of its callbacks (a message's status reports, the account's users' messages).
    compatible_routes: tuple[Any, ...] = ()
    compatible_report: CompatibleReport | None = None
    compatible_inbound_target: CompatibleInboundTarget | None = None
    compatible_inbound: CompatibleInbound | None = None

    def destination_kind(self, block: dict[str, Any] | None = None) -> str:
        """The kind of address ``block`` is sent to (a user's message: ``address_kind``)."""
        if block is None or self.block_address_kind is None:
            return self.address_kind
        return self.block_address_kind(block)

    def kind_of_address(self, address: str) -> str:
        """The kind of a stored address (a destination or a user who wrote)."""
        return self.address_kind if self.stored_address_kind is None else self.stored_address_kind(address)

    def canonical_address(self, address: str, block: dict[str, Any] | None = None) -> str:
        """One spelling per user, so a reply lands in the conversation of the messages sent to them:
        phone numbers as ``+`` and digits, other ids as given (trimmed)."""
        if self.destination_kind(block) == "phoneNumber" and phone_number_problem(address) is None:
            return "+" + normalise_phone_number(address)
        return address.strip()  # ids, and senders that are no phone number (an alphanumeric SMS sender)

    def destination_problem(self, destination: str, block: dict[str, Any] | None = None) -> str | None:
        """Why ``destination`` can't be the address ``block`` is sent to on this channel, or None."""
        kind = self.destination_kind(block)
        if kind == "phoneNumber":
            return phone_number_problem(destination)
        if self.address_problem is not None:
            return self.address_problem(kind, destination)
        if not destination.strip() or len(destination) > ID_MAX or any(c.isspace() for c in destination):
            return "must be the user's id on the channel: 1-256 characters, no spaces"
        return None

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
            elif key in self.settings.typed:
                if problem := self.setting_problem(key, value):
                    errors.append(FieldError(f"{prefix}.{key}", problem))
            elif not isinstance(value, str) or not value.strip():
                errors.append(FieldError(f"{prefix}.{key}", "must be a non-empty string"))
            elif key == "baseUrl" and not is_http_url(value):
                errors.append(FieldError(f"{prefix}.baseUrl", "must be an absolute http(s) URL"))
            elif key in self.settings.credentials and not value.isascii():
                # They go into the provider's requests (headers, URLs, signing keys), which take ASCII only: a
                # stored one would fail every send and registration.
                errors.append(FieldError(f"{prefix}.{key}", "must be ASCII characters"))
            elif problem := self._address_setting_problem(key, value) or self.setting_problem(key, value):
                errors.append(FieldError(f"{prefix}.{key}", problem))
        if not sandbox:
            for key in (*self.settings.public, *self.settings.credentials):
                if key not in settings and key not in self.settings.optional:
                    errors.append(
                        FieldError(
                            f"{prefix}.{key}", f"is required for a {self.name} traffic account that is not a sandbox"
                        )
                    )
        return errors

    def _address_setting_problem(self, key: str, value: str) -> str | None:
        """What is wrong with a setting that holds one of the account's own addresses."""
        for kind, setting in self.account_addresses:
            if setting == key:
                if kind == "phoneNumber":
                    return phone_number_problem(value)
                if len(value) > ID_MAX or any(c.isspace() for c in value):
                    return "must be the account's id on the channel: 1-256 characters, no spaces"
        return None

    def account_address_view(self, settings: dict[str, Any]) -> dict[str, str]:
        """The account's own addresses its settings give, by kind (phone numbers as ``+`` and digits)."""
        view = {}
        for kind, setting in self.account_addresses:
            if isinstance(value := settings.get(setting), str) and value:
                view[kind] = "+" + normalise_phone_number(value) if kind == "phoneNumber" else value
        return view


def normalise_phone_number(value: str) -> str:
    """``+44 7700-900123`` -> ``447700900123``: digits only, as providers take them."""
    # The usual spelling first (each recipient of a bulk send comes here twice): ``+`` and ASCII digits.
    digits = value[1:] if value[:1] == "+" else value
    if digits.isascii() and digits.isdigit():
        return digits
    return "".join(char for char in value if char in "0123456789")


_POSSIBLE = (ValidationResult.IS_POSSIBLE, ValidationResult.IS_POSSIBLE_LOCAL_ONLY)  # is_possible_number's


@functools.lru_cache(maxsize=65_536)  # a bulk send checks each number for every step and spelling
def phone_number_problem(value: str) -> str | None:
    digits = normalise_phone_number(value)
    spelt = value.strip()
    # "+" and digits, or digits alone, hold no other character (the usual spellings: no loop over them).
    if not spelt or (spelt not in (digits, "+" + digits) and any(c not in "0123456789+ -()" for c in spelt)):
        return "must be a phone number in international form, e.g. +447700900123"
    if (found := _international(digits)) is None:
        return "must be a phone number in international form, e.g. +447700900123"
    # phonenumbers.is_possible_number(number), from what was found on the way: the same national number
    # (its leading zeros as given) and metadata, without reading them again.
    national, metadata = found[1], found[2]
    if phonenumberutil._test_number_length(national, metadata) not in _POSSIBLE:
        return "is not a possible phone number (country code and length)"
    return None


_LENGTH_NOT_KEPT = (
    ValidationResult.TOO_SHORT,
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ValidationResult.INVALID_LENGTH,
)


def international_number(digits: str) -> phonenumbers.PhoneNumber | None:
    """``phonenumbers.parse("+" + digits)``, None where it raises: parse's own steps for a plus and digits,
    without those that clean up free-form text (RFC 3966, extensions, punctuation, letters), which such a
    string passes through unchanged. A quarter of parse's cost, which a bulk send pays per recipient (parse
    was a third of a 10,000-recipient sendbulk's CPU); tests/unit/test_phone_numbers.py holds it to parse."""
    found = _international(digits)
    return None if found is None else found[0]


def _international(digits: str) -> tuple[phonenumbers.PhoneNumber, str, PhoneMetadata] | None:
    """international_number's number, with its national significant number and its region's metadata."""
    if not 3 <= len(digits) < phonenumberutil._MAX_INPUT_STRING_LENGTH:  # parse: "+12" is no viable number; too long
        return None
    country_code, national = phonenumberutil._extract_country_code(digits)
    if country_code == 0 or len(national) < phonenumberutil._MIN_LENGTH_FOR_NSN:
        return None
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    # A national prefix is stripped when what remains still has a possible length (as parse does).
    _, stripped, _ = phonenumberutil._maybe_strip_national_prefix_carrier_code(national, metadata)
    if phonenumberutil._test_number_length(stripped, metadata) not in _LENGTH_NOT_KEPT:
        national = stripped
    if not phonenumberutil._MIN_LENGTH_FOR_NSN <= len(national) <= phonenumberutil._MAX_LENGTH_FOR_NSN:
        return None
    number = phonenumbers.PhoneNumber(country_code=country_code)
    phonenumberutil._set_italian_leading_zeros_for_phone_number(national, number)
    number.national_number = int(national)
    return number, national, metadata


def json_object(body: bytes) -> dict[str, Any] | None:
    """A request body that is a JSON object; None for anything else (not JSON, not UTF-8, another JSON value).
    msgspec, as the Chat API (gateway/lib/validation.py): unlike json.loads it refuses a lone surrogate
    ("\\ud800"), text no database or answer can hold, and NaN."""
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, dict) else None


def is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a host, a valid port and no whitespace (the one URL check of the project)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname) and not any(c.isspace() for c in value)
