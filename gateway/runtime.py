"""What one gateway process is built of, built once and torn down in one place: the API server
(`gateway serve`), a worker process (`gateway worker`, with its callback routes), the standalone
sandbox (`gateway sandbox`) and the CLI's operator commands all use it.

Its parts are made when first used, so a process builds only what it serves: the API builds no
dispatcher, deliverer or failover timers unless it runs the worker's loops itself (the embedded
mode of a local mock), and the provider HTTP client only when it calls a provider.
"""

from __future__ import annotations

import asyncio
import datetime
from functools import cached_property
from types import TracebackType
from typing import Self

import httpx
from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.sandbox_support import close_callback_client
from gateway.events.tail import EventTail
from gateway.idempotency import IdempotencyKeys
from gateway.lib.crypto import configure_encryption
from gateway.lib.db import create_engine, session_maker
from gateway.lib.due import DueIndex, MemoryDueIndex, RedisDueIndex
from gateway.lib.lookups import Lookups
from gateway.lib.redis_client import redis_client
from gateway.lib.work_due import WorkDue
from gateway.messages.acceptor import Acceptor
from gateway.messages.callbacks import CallbackTokens, ProviderCallbacks
from gateway.messages.dispatcher import PROVIDER_CONNECTIONS, Dispatcher
from gateway.messages.failover import FAILOVER_INDEX_KEY, FailoverTimers, NewChain, schedule
from gateway.messages.send_rate import MemorySendRate, RedisSendRate
from gateway.rate_limits import RateLimits, counter_for
from gateway.sandbox_journal import Journal
from gateway.settings import Settings
from gateway.store.messages import NewMessage
from gateway.tenants.auth import TokenIssuer
from gateway.webhooks.deliverer import WebhookDeliverer
from gateway.workers import Heartbeat
from wire.http import DirectClient, Proxies


class Runtime:
    def __init__(self, settings: Settings) -> None:
        configure_encryption(settings.secret_keys)
        self.settings = settings
        self.engine = create_engine(settings.database_url)
        self.sessions: async_sessionmaker[AsyncSession] = session_maker(self.engine)
        self.redis = redis_client(settings.redis_url)
        self.callback_tokens = CallbackTokens(settings.callback_signing_keys, settings.callback_token_lifetime_seconds)
        self.lookups = Lookups()  # short-lived answers of the database: API keys, customers, traffic accounts
        self.work_due = WorkDue(self.redis)
        # Redis-backed (the timer index, send rates, wake-ups) when there is Redis, in memory otherwise.
        self.failover_index: DueIndex = (
            RedisDueIndex(self.redis, FAILOVER_INDEX_KEY) if self.redis else MemoryDueIndex()
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, _type: type[BaseException] | None, _error: BaseException | None, _trace: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close what was built, in the order that lets each part finish with the ones below it."""
        if "event_tail" in self.__dict__:
            await self.event_tail.aclose()
        if "deliverer" in self.__dict__:
            await self.deliverer.http.aclose()
        if "provider_http" in self.__dict__:
            await self.provider_http.aclose()
        if self.__dict__.get("journal") is not None:
            await self.journal.flush()  # type: ignore[union-attr]
        await close_callback_client()  # the sandbox providers' client, if they were served
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()

    # What the HTTP surfaces use.

    @cached_property
    def db_config(self) -> SQLAlchemyAsyncConfig:
        """The request's session (``db_session``), through advanced-alchemy's plugin."""
        return SQLAlchemyAsyncConfig(
            engine_instance=self.engine,
            session_maker=self.sessions,
            session_dependency_key="db_session",
            create_all=False,
            set_default_exception_handler=False,  # repository errors are problems too (gateway.lib.problems)
        )

    @cached_property
    def token_issuer(self) -> TokenIssuer:
        return TokenIssuer(self.settings.jwt_keys, self.settings.token_lifetime_seconds)

    @cached_property
    def rate_limits(self) -> RateLimits:
        return RateLimits(self.settings, counter_for(self.redis))

    @cached_property
    def idempotency_keys(self) -> IdempotencyKeys:
        return IdempotencyKeys(self.engine, self.settings.idempotency_ttl_seconds)

    @cached_property
    def acceptor(self) -> Acceptor:
        return Acceptor(self.engine, on_committed=self.accepted)

    @cached_property
    def callbacks(self) -> ProviderCallbacks:
        """The gateway as the channels' callback and sandbox routes see it."""
        return ProviderCallbacks(
            self.sessions,
            self.callback_tokens,
            self.settings.callback_base_url,
            self.lookups,
            public_url=self.settings.public_base_url,
            work_due=self.work_due,
        )

    @cached_property
    def provider_http(self) -> httpx.AsyncClient:
        """The client of the providers' APIs: sends, and callback registrations."""
        proxies = Proxies(self.settings.egress_proxy or None)
        return DirectClient(PROVIDER_CONNECTIONS, httpx.Timeout(15.0, connect=5.0), proxies)

    async def accepted(self, _messages: list[NewMessage], chains: list[NewChain]) -> None:
        """New messages were committed (the acceptor's hook): the dispatchers have work, the chains' timers
        are set."""
        self.work_due.statuses_changed()
        await self.work_due.messages()
        await schedule(self.failover_index, chains)

    @cached_property
    def event_tail(self) -> EventTail:
        """The message events as they are committed, for whoever listens in this process."""
        return EventTail(self.sessions, self.work_due)

    # The worker's loops: in `gateway worker`, or in the server in the embedded mode.

    @cached_property
    def dispatcher(self) -> Dispatcher:
        return Dispatcher(
            self.sessions,
            self.settings.public_base_url,
            self.callback_tokens,
            http=self.provider_http,
            send_rate=RedisSendRate(self.redis) if self.redis else MemorySendRate(),
            work_due=self.work_due,
            callback_url=self.settings.callback_base_url,
            lease=datetime.timedelta(seconds=self.settings.lease_seconds),
            journal=self.journal,
        )

    @cached_property
    def journal(self) -> Journal | None:
        """The sandbox journal (and the sandbox accounts' behaviour): None when GATEWAY_SANDBOX_JOURNAL=false."""
        return Journal(self.sessions) if self.settings.sandbox_journal else None

    @cached_property
    def deliverer(self) -> WebhookDeliverer:
        return WebhookDeliverer.from_settings(self.sessions, self.settings, self.work_due)

    @cached_property
    def failover_timers(self) -> FailoverTimers:
        return FailoverTimers(
            self.sessions,
            self.failover_index,
            on_activated=self.work_due.messages,
            retention=datetime.timedelta(days=self.settings.created_retention_days),
        )

    def heartbeat(self, *, embedded: bool) -> Heartbeat:
        return Heartbeat(
            self.sessions,
            self.dispatcher.owner,
            embedded=embedded,
            in_flight=lambda: (self.dispatcher.in_flight, self.deliverer.in_flight_total),
        )

    async def run_loops(self, stop: asyncio.Event, *, embedded: bool = False) -> None:
        """Dispatch messages, deliver webhook events and fire failover timers until ``stop``, telling
        (the heartbeat) that this process does; ``embedded``: it is an API server."""
        await asyncio.gather(
            self.dispatcher.run(stop),
            self.deliverer.run(stop),
            self.failover_timers.run(stop),
            self.heartbeat(embedded=embedded).run(stop),
        )
