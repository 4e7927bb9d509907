"""Database tables. Every row that belongs to a tenant carries ``tenant_id``; services always filter on it."""

from __future__ import annotations

import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.base import UUIDAuditBase, UUIDBase
from advanced_alchemy.types import DateTimeUTC, JsonB
from advanced_alchemy.types.encrypted_string import EncryptedText
from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.lib.crypto import RotatingFernetBackend, encryption_keys

NAME_MAX = 256  # characters of a user's name kept (a longer one is cut)


def _encrypted() -> EncryptedText:
    return EncryptedText(key=encryption_keys, backend=RotatingFernetBackend)


def _tenant_fk(index: bool = True) -> Mapped[UUID]:
    return mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=index)


def _where_set(column: str) -> dict[str, Any]:
    """An index's options that keep only the rows where ``column`` is set: a query for a value still finds
    them (equality implies NOT NULL), and rows stored without one (most, when they are accepted) cost no entry."""
    where = text(f"{column} IS NOT NULL")
    return {"postgresql_where": where, "sqlite_where": where}


class Tenant(UUIDAuditBase):
    __tablename__ = "tenant"
    name: Mapped[str] = mapped_column(String(200))
    # Customer API requests per rate-limit window; None: the installation's GATEWAY_RATE_LIMIT_QUOTA.
    rate_limit_quota: Mapped[int | None] = mapped_column(Integer, default=None)


class Customer(UUIDAuditBase):
    __tablename__ = "customer"
    tenant_id: Mapped[UUID] = _tenant_fk()
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(200))
    # Part of every token; bumping it (password change) makes all earlier tokens invalid.
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    # Part of every inbox session (gateway.inbox.auth); bumping it (signing out) ends them all, in every process,
    # while the API's tokens stay valid.
    inbox_session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class ApiKey(UUIDAuditBase):
    __tablename__ = "api_key"
    tenant_id: Mapped[UUID] = _tenant_fk()
    name: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, so an operator can tell keys apart
    # The traffic account the key sends through on a channel's compatible API (the SMS API's /sms): None, the
    # tenant's only account of that channel. No foreign key: a deleted account must refuse the key's sends,
    # not hand them to another account.
    traffic_account_id: Mapped[UUID | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class TrafficAccount(UUIDAuditBase):
    __tablename__ = "traffic_account"
    tenant_id: Mapped[UUID] = _tenant_fk()
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(32))
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)  # the non-secret settings
    credentials: Mapped[str] = mapped_column(_encrypted())  # JSON object of the secret settings
    # Part of the token in the account's callbackUrl; bumping it (rotateCallbackToken) makes earlier URLs invalid.
    callback_token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Webhook(UUIDAuditBase):
    __tablename__ = "webhook"
    __table_args__ = (
        # A tenant's ``compatible`` webhooks: one per method and URL origin (the reports' full URLs are per
        # message), made by INSERT … ON CONFLICT DO NOTHING when two first sends race.
        Index(
            "uq_webhook_compatible",
            "tenant_id",
            "method",
            "url",
            unique=True,
            postgresql_where=text("kind = 'compatible'"),
            sqlite_where=text("kind = 'compatible'"),
        ),
    )
    tenant_id: Mapped[UUID] = _tenant_fk()
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(500), default="")
    triggers: Mapped[list[str]] = mapped_column(JsonB, default=list)
    headers: Mapped[str] = mapped_column(_encrypted())  # JSON object; often holds the receiver's own auth
    secret: Mapped[str] = mapped_column(_encrypted())
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Delivery (gateway.webhooks.deliverer): the secret before the last rotation still signs for a day after it;
    # ``failing_since`` is the first failed attempt of the current run of failures.
    previous_secret: Mapped[str | None] = mapped_column(_encrypted(), default=None)
    secret_rotated_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    failing_since: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    # ``chat``: the customer's webhook (the Chat API's payloads, signed, POST). ``compatible``: where a channel's
    # compatible API (the SMS API) sends its own callbacks (delivery reports, inbound forwarding): made by the
    # gateway, not listed by the webhook API; each event's payload is the request to make ({method, url, body}).
    kind: Mapped[str] = mapped_column(String(16), default="chat", server_default="chat")
    method: Mapped[str] = mapped_column(String(8), default="POST", server_default="POST")


class WebhookTrafficAccount(UUIDBase):
    __tablename__ = "webhook_traffic_account"
    __table_args__ = (UniqueConstraint("webhook_id", "traffic_account_id"),)
    tenant_id: Mapped[UUID] = _tenant_fk()
    webhook_id: Mapped[UUID] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"))
    traffic_account_id: Mapped[UUID] = mapped_column(ForeignKey("traffic_account.id", ondelete="CASCADE"), index=True)


class MessageTemplate(UUIDAuditBase):
    __tablename__ = "message_template"
    __table_args__ = (UniqueConstraint("traffic_account_id", "name", "language"),)
    tenant_id: Mapped[UUID] = _tenant_fk()
    traffic_account_id: Mapped[UUID] = mapped_column(ForeignKey("traffic_account.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    components: Mapped[list[dict[str, Any]]] = mapped_column(JsonB)
    status: Mapped[str] = mapped_column(String(32))  # APPROVED, PENDING or REJECTED, as Meta reports it


class LoginFailure(UUIDBase):
    """One failed login, kept for the lockout window; counted per email across all processes."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_email_at", "email", "failed_at"),)
    email: Mapped[str] = mapped_column(String(320))
    failed_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))


class Conversation(UUIDAuditBase):
    """One user of one traffic account: every message to or from ``participant`` belongs to it."""

    __tablename__ = "conversation"
    __table_args__ = (
        UniqueConstraint("traffic_account_id", "participant"),
        Index("ix_conversation_tenant_created", "tenant_id", "created_at", "id"),
    )
    tenant_id: Mapped[UUID] = _tenant_fk(index=False)  # ix_conversation_tenant_created leads with it
    traffic_account_id: Mapped[UUID] = mapped_column(ForeignKey("traffic_account.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    participant: Mapped[str] = mapped_column(String(256))  # phone number, chat id or conversation id
    # The user's name as their latest message that gave one showed it (profile name); None until then.
    participant_name: Mapped[str | None] = mapped_column(String(NAME_MAX), default=None)


class Message(UUIDAuditBase):
    """A message in either direction. Its status only moves forward (gateway.store.statuses)."""

    __tablename__ = "message"
    __table_args__ = (
        Index("ix_message_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_message_conversation_created", "conversation_id", "created_at", "id"),
        Index("ix_message_due", "status", "next_attempt_at"),
        Index(
            "ix_message_provider_id", "traffic_account_id", "provider_message_id", **_where_set("provider_message_id")
        ),
        Index("ix_message_bulk_id", "bulk_id", **_where_set("bulk_id")),
        Index("ix_message_failover_chain_id", "failover_chain_id", **_where_set("failover_chain_id")),
        # A user's message is stored once, however often (or however concurrently) the provider repeats it.
        Index(
            "uq_message_inbound_provider_id",
            "traffic_account_id",
            "provider_message_id",
            unique=True,
            postgresql_where=text("direction = 'inbound'"),
            sqlite_where=text("direction = 'inbound'"),
        ),
    )
    tenant_id: Mapped[UUID] = _tenant_fk(index=False)  # ix_message_tenant_created leads with it
    traffic_account_id: Mapped[UUID] = mapped_column(ForeignKey("traffic_account.id", ondelete="CASCADE"))
    conversation_id: Mapped[UUID] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(16))  # outbound or inbound
    destination: Mapped[str] = mapped_column(String(256))  # the user's address (the sender, for inbound)
    status: Mapped[str] = mapped_column(String(16))
    sequence: Mapped[int] = mapped_column(Integer, default=1)  # grows with every status change
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    description: Mapped[str | None] = mapped_column(String(1000), default=None)
    message_parts: Mapped[int] = mapped_column(Integer, default=1)
    content: Mapped[dict[str, Any]] = mapped_column(JsonB)  # the channel block as sent, or the inbound content
    reference: Mapped[str | None] = mapped_column(String(256), default=None)
    provider_message_id: Mapped[str | None] = mapped_column(String(256), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    valid_until: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    bulk_id: Mapped[UUID | None] = mapped_column(default=None)  # the bulk send it came with
    # A step of a Timeout failover chain: which chain, and its place in it (0: the first sent). No
    # foreign key (SQLite could only add one by copying the table); both go with their tenant.
    failover_chain_id: Mapped[UUID | None] = mapped_column(default=None)
    failover_step: Mapped[int | None] = mapped_column(Integer, default=None)
    # Inbound: the user's name as this message gave it (InboundMessage.sender_name), when it did.
    sender_name: Mapped[str | None] = mapped_column(String(NAME_MAX), default=None)
    # Sent through a channel's compatible API: the ``compatible`` webhook its status reports go to (None: none
    # asked for). No foreign key, as for failover_chain_id.
    notify_webhook_id: Mapped[UUID | None] = mapped_column(default=None)
    # ... and what to report there: {"url": the Notify's URL template, "statuses": its statuses, sorted} (None: none).
    notify: Mapped[dict[str, Any] | None] = mapped_column(JsonB, default=None)
    # When the customer told that the message converted (the SMS API's POST /sms/converted).
    converted_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class MessageEvent(UUIDBase):
    """The status history of a message, one row per change."""

    __tablename__ = "message_event"
    __table_args__ = (
        Index("ix_message_event_message", "message_id", "sequence"),
        Index("ix_message_event_occurred", "occurred_at"),  # read in order by the event stream and long-polls
    )
    message_id: Mapped[UUID] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    description: Mapped[str | None] = mapped_column(String(1000), default=None)
    occurred_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))


class WebhookEvent(UUIDAuditBase):
    """The outbox: one event for one webhook, written in the transaction of the change it reports."""

    __tablename__ = "webhook_event"
    __table_args__ = (
        Index("ix_webhook_event_webhook_created", "webhook_id", "created_at", "id"),
        Index("ix_webhook_event_due", "status", "next_attempt_at"),
    )
    tenant_id: Mapped[UUID] = _tenant_fk()
    webhook_id: Mapped[UUID] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"))
    message_id: Mapped[UUID] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(32))  # Delivered, Failed, Read or UserMessage
    sequence: Mapped[int] = mapped_column(Integer)  # the message's sequence at this event
    payload: Mapped[dict[str, Any]] = mapped_column(JsonB)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, succeeded or failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # in the current round (a replay starts a new one)
    next_attempt_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class PendingReport(UUIDBase):
    """A provider's report on a provider message id no message has yet: it overtook the recording of
    the send answer. Applied, in arrival order, as soon as that id is recorded (gateway.store.parked)."""

    __tablename__ = "pending_report"
    __table_args__ = (Index("ix_pending_report_provider_id", "traffic_account_id", "provider_message_id"),)
    traffic_account_id: Mapped[UUID] = mapped_column(ForeignKey("traffic_account.id", ondelete="CASCADE"))
    provider_message_id: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    description: Mapped[str | None] = mapped_column(String(1000), default=None)
    received_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)


class WebhookAttempt(UUIDBase):
    """One try at delivering a webhook event: what the receiver answered, or why there was no answer."""

    __tablename__ = "webhook_attempt"
    __table_args__ = (Index("ix_webhook_attempt_event", "webhook_event_id", "attempted_at"),)
    tenant_id: Mapped[UUID] = _tenant_fk()
    webhook_event_id: Mapped[UUID] = mapped_column(ForeignKey("webhook_event.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    latency_ms: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(String(1024), default="")  # the first 1 KB, decoded leniently
    error: Mapped[str | None] = mapped_column(String(1000), default=None)


class IdempotencyKey(UUIDBase):
    """A tenant's ``Idempotency-Key`` of a send (gateway.idempotency): claimed by the first request that
    carries it, then holding that request's answer to replay. ``response_status`` is None while the first
    request is in flight; ``claim`` changes with every claim, so that only its holder finishes or releases it."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)
    tenant_id: Mapped[UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of method, path and body
    claim: Mapped[str] = mapped_column(String(32))
    claimed_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    response_content_type: Mapped[str | None] = mapped_column(String(255), default=None)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)


ACTIVE, DONE, EXHAUSTED = "active", "done", "exhausted"  # a failover chain's states


class FailoverChain(UUIDAuditBase):
    """A Timeout failover (seed 002): one message per traffic account, sent one after the other until
    one reaches ``required_status``. ``due_at`` is when the active step times out (None once the chain
    has ended); moving to the next step is a compare-and-set on ``active_step``."""

    __tablename__ = "failover_chain"
    __table_args__ = (Index("ix_failover_chain_due", "state", "due_at"),)
    tenant_id: Mapped[UUID] = _tenant_fk()
    required_status: Mapped[str] = mapped_column(String(16))  # Delivered or Read
    timeout_seconds: Mapped[int] = mapped_column(Integer)
    steps: Mapped[int] = mapped_column(Integer)
    active_step: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="active")  # active, done (reached) or exhausted
    due_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class WorkerHeartbeat(UUIDBase):
    """A process running the worker's loops (`gateway worker`, or a server in the embedded mode), as it last
    told (gateway.workers): written every few seconds, removed when it stops, left behind when it dies."""

    __tablename__ = "worker_heartbeat"
    owner: Mapped[str] = mapped_column(String(64), unique=True)  # the name its leases carry
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    embedded: Mapped[bool] = mapped_column(Boolean)  # the loops run in an API server
    started_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    beat_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    in_flight_sends: Mapped[int] = mapped_column(Integer)
    in_flight_deliveries: Mapped[int] = mapped_column(Integer)


# The local-mock workbench (sandbox traffic accounts only).


class SandboxExchange(UUIDBase):
    """One HTTP exchange between the gateway and a sandbox provider (the journal): a request an adapter sent
    (``direction`` request) or a callback the provider made (callback), with the answer given. Headers are
    stored with secrets redacted; bodies as text, cut at 64 KB."""

    __tablename__ = "sandbox_exchange"
    __table_args__ = (Index("ix_sandbox_exchange_tenant_occurred", "tenant_id", "occurred_at", "id"),)
    tenant_id: Mapped[UUID] = _tenant_fk()
    traffic_account_id: Mapped[UUID] = mapped_column(ForeignKey("traffic_account.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(16))  # request (gateway to provider) or callback
    # The message the exchange was about, when one (no foreign key: the journal outlives nothing, but is
    # written after the message's transaction, from another connection).
    message_id: Mapped[UUID | None] = mapped_column(default=None, index=True)
    destination: Mapped[str | None] = mapped_column(String(256), default=None)
    method: Mapped[str] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(String(2048))  # secrets in its path or query redacted
    request_headers: Mapped[dict[str, str]] = mapped_column(JsonB, default=dict)
    request_body: Mapped[str] = mapped_column(Text, default="")
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)  # None: no answer (error)
    response_headers: Mapped[dict[str, str]] = mapped_column(JsonB, default=dict)
    response_body: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(String(1000), default=None)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    occurred_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))


class SandboxBehaviour(UUIDAuditBase):
    """Provider chaos for one sandbox traffic account (PUT /api/v1/sandbox/trafficAccounts/{id}/behaviour)."""

    __tablename__ = "sandbox_behaviour"
    tenant_id: Mapped[UUID] = _tenant_fk()
    traffic_account_id: Mapped[UUID] = mapped_column(
        ForeignKey("traffic_account.id", ondelete="CASCADE"), unique=True
    )
    latency_min_ms: Mapped[int] = mapped_column(Integer, default=0)
    latency_max_ms: Mapped[int] = mapped_column(Integer, default=0)  # equal to min: a fixed latency
    error_rate: Mapped[float] = mapped_column(Float, default=0.0)  # share of sends answered a transient error
    fail_next_count: Mapped[int] = mapped_column(Integer, default=0)  # counted down by each send it fails
    fail_next_with: Mapped[str | None] = mapped_column(String(32), default=None)


class SandboxCatcher(UUIDAuditBase):
    """A webhook catcher: a URL of the gateway's own that stores what it receives."""

    __tablename__ = "sandbox_catcher"
    tenant_id: Mapped[UUID] = _tenant_fk()
    # Answer ``answer_status`` to the next ``answer_remaining`` requests (then 200 again).
    answer_status: Mapped[int | None] = mapped_column(Integer, default=None)
    answer_remaining: Mapped[int] = mapped_column(Integer, default=0)


class SandboxCatcherRequest(UUIDBase):
    """One request a catcher received."""

    __tablename__ = "sandbox_catcher_request"
    __table_args__ = (Index("ix_sandbox_catcher_request_catcher", "catcher_id", "received_at", "id"),)
    tenant_id: Mapped[UUID] = _tenant_fk()
    catcher_id: Mapped[UUID] = mapped_column(ForeignKey("sandbox_catcher.id", ondelete="CASCADE"))
    received_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    method: Mapped[str] = mapped_column(String(8))
    headers: Mapped[dict[str, str]] = mapped_column(JsonB, default=dict)
    body: Mapped[str] = mapped_column(Text, default="")
    answered_status: Mapped[int] = mapped_column(Integer)
    # Whether the Standard Webhooks signature verified against the secret of the tenant's webhook whose
    # URL is this catcher's (None: no such webhook, or the request was not signed).
    signature_verified: Mapped[bool | None] = mapped_column(Boolean, default=None)
    webhook_id: Mapped[UUID | None] = mapped_column(default=None)
