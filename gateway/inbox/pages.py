"""The inbox's pages and forms under /inbox (out of the OpenAPI document). Every form posts back and is
answered with a redirect to the page it came from (Post/Redirect/Get), with a notice kept in the session for
that page to show once (not in the URL, where a link could fake one)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, ServerSentEvent, ServerSentEventMessage, Template
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_303_SEE_OTHER
from litestar.template.config import TemplateConfig

from channels.base import UserReply
from channels.registry import channel_names
from gateway import sandbox_behaviour
from gateway.api.deps import Caller, DbSession, Webhooks, provide_webhook_service, runtime_of
from gateway.api.sandbox_journal import BehaviourIn
from gateway.events.stream import KINDS, LISTENING, event_stream
from gateway.inbox import auth, reads, replies
from gateway.inbox.auth import INBOX_PATH, InboxUser, SignInFirst
from gateway.lib.problems import Problem
from gateway.lib.validation import parse
from gateway.settings import Settings
from gateway.store import outbox, statuses
from gateway.tenants.login import LoginService
from gateway.webhooks.service import DeliveryFilters, WebhookService

STATIC_PATH = f"{INBOX_PATH}/static"
STATIC_DIR = Path(__file__).parent / "static"
TEMPLATE_DIR = Path(__file__).parent / "templates"
DELIVERIES_SHOWN = 50  # per webhook, the newest
SignedIn = NamedDependency[InboxUser]  # the customer signed in (auth.current_user); else a redirect to sign in

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def back(request: Request, path: str, notice: str | None = None) -> Redirect:
    if notice:
        request.session["notice"] = notice
    return Redirect(path, status_code=HTTP_303_SEE_OTHER)


def _uuid(value: str | None) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None


def _page(name: str, request: Request, user: InboxUser | None, status_code: int = 200, **context: Any) -> Template:
    context |= {"user": user, "notice": request.session.pop("notice", None), "static": STATIC_PATH}
    context["event_kinds"] = KINDS  # the live pages' script listens for each
    return Template(template_name=name, context=context, status_code=status_code)


# Signing in and out.


@get("/login")
async def login_page(request: Request) -> Template:
    return _page("login.html", request, None, email="", error=None)


@post("/login")
async def login(request: Request, db_session: DbSession, data: Form) -> Response[Any]:
    runtime = runtime_of(request)
    email = data.get("email", "")
    try:
        token, _expires = await LoginService(db_session, runtime.settings, runtime.token_issuer).login(
            email, data.get("password", "")
        )
    except Problem as problem:  # wrong credentials (401), locked (429): said on the page, with its status
        return _page("login.html", request, None, problem.status_code, email=email, error=problem.detail)
    await auth.sign_in(request, db_session, token)
    return back(request, INBOX_PATH + "/")


@post("/logout")
async def logout(request: Request, db_session: DbSession, user: SignedIn) -> Redirect:
    await auth.sign_out(request, db_session, user)
    return back(request, f"{INBOX_PATH}/login")


# Conversations.


@get("/")
async def conversations(request: Request, db_session: DbSession, user: SignedIn) -> Template:
    q = request.query_params
    filters = reads.ConversationFilters(
        traffic_account_id=_uuid(q.get("trafficAccountId")),
        channel=q.get("channel") or None,
        destination=(q.get("destination") or "").strip() or None,
        status=q.get("status") or None,
        text=(q.get("text") or "").strip() or None,
    )
    return _page(
        "conversations.html",
        request,
        user,
        rows=await reads.conversations(db_session, user.tenant_id, filters),
        accounts=await reads.accounts(db_session, user.tenant_id),
        channels=channel_names(),
        statuses=statuses.ALL,
        query={key: q.get(key) or "" for key in ("trafficAccountId", "channel", "destination", "status", "text")},
    )


@get("/conversations/{conversation_id:uuid}")
async def conversation(
    request: Request, db_session: DbSession, user: SignedIn, conversation_id: FromPath[UUID]
) -> Template:
    page = await reads.conversation_page(db_session, user.tenant_id, conversation_id)
    return _page("conversation.html", request, user, page=page, kinds=replies.kinds(page.conversation.channel), place=UserReply())


@post("/conversations/{conversation_id:uuid}/reply")
async def reply(
    request: Request, db_session: DbSession, user: SignedIn, conversation_id: FromPath[UUID], data: Form
) -> Redirect:
    page = await reads.conversation_page(db_session, user.tenant_id, conversation_id)
    here = f"{INBOX_PATH}/conversations/{conversation_id}"
    if not page.account.sandbox:
        return back(request, here, "Only a sandbox account's users can be simulated.")
    kind = data.get("kind") or replies.TEXT
    if kind not in replies.kinds(page.conversation.channel):
        return back(request, here, f"A {page.conversation.channel} user can't send {kind}.")
    try:
        form = UserReply(
            text=data.get("text", ""),
            payload=data.get("payload", ""),
            **{key: float(data[key]) for key in ("latitude", "longitude") if data.get(key)},
        )
    except ValueError:
        return back(request, here, "The latitude and longitude must be numbers.")
    await db_session.close()  # the simulated user's callback is stored on other connections
    answer = await replies.send_as_user(request.app, page.conversation, kind, form)
    if not answer.is_success:
        return back(request, here, f"The simulated user refused it ({answer.status_code}): {answer.text[:300]}")
    simulated = answer.json()  # channels.sandbox_support.SimulatedMessage
    if simulated.get("messageId") is None:  # the provider's callback reached the gateway, which didn't store it
        return back(
            request, here, f"The gateway did not store it (its callback answered {simulated.get('gatewayStatus')})."
        )
    return back(request, here, "The user's message was sent.")


# Live updates.


@get("/events")
async def events(request: Request, db_session: DbSession, user: SignedIn) -> ServerSentEvent:
    """The tenant's events as GET /api/v1/events streams them (gateway.events.stream): each page's script
    fetches its live part again when one comes. It starts with the event "listening" (the API's comment, which
    a script can't see): subscribed. A reconnection doesn't resume: the page reads it all again instead."""
    await db_session.close()  # a stream holds no connection while it waits
    listening = ServerSentEventMessage(event=LISTENING, data="")
    return ServerSentEvent(event_stream(runtime_of(request).event_tail, user.tenant_id, listening=listening))


# Webhooks.


@get("/webhooks")
async def webhooks(request: Request, user: SignedIn, webhook_service: Webhooks) -> Template:
    shown = []
    for view in await webhook_service.list(user.tenant_id):
        deliveries, _next = await webhook_service.deliveries(
            user.tenant_id, view.webhook.id, DeliveryFilters(), DELIVERIES_SHOWN, None
        )
        shown.append((view.webhook, deliveries))
    now = datetime.datetime.now(datetime.UTC)
    return _page("webhooks.html", request, user, webhooks=shown, since=(now - datetime.timedelta(hours=1)))


@post("/webhooks/{webhook_id:uuid}/deliveries/{event_id:uuid}/replay")
async def replay(
    request: Request, user: SignedIn, webhook_service: Webhooks, webhook_id: FromPath[UUID], event_id: FromPath[UUID]
) -> Redirect:
    try:
        await webhook_service.replay(user.tenant_id, webhook_id, event_id)
    except Problem as problem:
        if problem.status_code == 404:
            raise
        return back(request, f"{INBOX_PATH}/webhooks", problem.detail)
    return back(request, f"{INBOX_PATH}/webhooks", "The event is queued for delivery again.")


@post("/webhooks/{webhook_id:uuid}/recover")
async def recover(
    request: Request, user: SignedIn, webhook_service: Webhooks, webhook_id: FromPath[UUID], data: Form
) -> Redirect:
    try:
        since = datetime.datetime.fromisoformat(data.get("since", "")).replace(tzinfo=datetime.UTC)
    except ValueError:
        return back(request, f"{INBOX_PATH}/webhooks", "Give the time to recover from.")
    try:
        count = await webhook_service.recover(user.tenant_id, webhook_id, since, None)
    except Problem as problem:
        if problem.status_code == 404:
            raise
        return back(request, f"{INBOX_PATH}/webhooks", problem.detail)
    return back(request, f"{INBOX_PATH}/webhooks", f"{count} failed event(s) queued for delivery again.")


# The sandbox accounts' provider behaviour (gateway.sandbox_behaviour).


@get("/accounts")
async def accounts(request: Request, db_session: DbSession, user: SignedIn) -> Template:
    shown = [
        (account, await sandbox_behaviour.behaviour_of(db_session, user.tenant_id, account.id))
        for account in await reads.accounts(db_session, user.tenant_id)
        if account.sandbox
    ]
    return _page("accounts.html", request, user, accounts=shown, failures=sandbox_behaviour.FAILURES)


def _number(text: str | None, kind: type[int] | type[float]) -> Any:
    """A form's number; what isn't one is passed on as it is, for BehaviourIn to name."""
    try:
        return kind(text or 0)
    except ValueError:
        return text


@post("/accounts/{account_id:uuid}/behaviour")
async def set_behaviour(
    request: Request, db_session: DbSession, user: SignedIn, account_id: FromPath[UUID], data: Form
) -> Redirect:
    """The form of the API's PUT .../behaviour, checked by its schema (every problem named)."""
    raw = {
        "latencyMs": {"min": _number(data.get("latencyMin"), int), "max": _number(data.get("latencyMax"), int)},
        "errorRate": _number(data.get("errorRate"), float),
        "failNext": {"count": _number(data.get("failNextCount"), int), "with": data.get("failNextWith") or "transient"},
    }
    here = f"{INBOX_PATH}/accounts"
    try:
        behaviour = parse(raw, BehaviourIn).behaviour()
    except Problem as problem:
        errors = "; ".join(f"{e['field']} {e['message']}" for e in (problem.extra or {}).get("errors", []))
        return back(request, here, f"Not set: {errors or problem.detail}")
    await sandbox_behaviour.set_behaviour(db_session, user.tenant_id, account_id, behaviour)
    return back(request, here, "The behaviour is set.")


@post("/accounts/{account_id:uuid}/behaviour/clear")
async def clear_behaviour(
    request: Request, db_session: DbSession, user: SignedIn, account_id: FromPath[UUID]
) -> Redirect:
    await sandbox_behaviour.clear_behaviour(db_session, user.tenant_id, account_id)
    return back(request, f"{INBOX_PATH}/accounts", "The behaviour is cleared: the provider answers as usual.")


def _sign_in_first(request: Request, _exc: SignInFirst) -> Response[Any]:
    return Redirect(f"{INBOX_PATH}/login", status_code=HTTP_303_SEE_OTHER)


def _not_found(request: Request, _exc: Exception) -> Response[Any]:
    """Another tenant's conversation or webhook is as unknown as one that never was."""
    return _page("not_found.html", request, None, 404)


def provide_inbox_webhooks(request: Request, db_session: DbSession, principal: Caller) -> WebhookService:
    """The API's webhook service, showing the compatible APIs' webhooks too (their deliveries, replays)."""
    service = provide_webhook_service(request, db_session, principal)
    service.kinds = (outbox.CHAT, outbox.COMPATIBLE)
    return service


def routes(settings: Settings) -> list[Router]:
    """The inbox's router (pages behind the session and CSRF middleware) and its static files."""
    pages = Router(
        path=INBOX_PATH,
        route_handlers=[
            *(login_page, login, logout, conversations, conversation, reply, webhooks, replay, recover),
            *(accounts, set_behaviour, clear_behaviour, events),
        ],
        middleware=auth.middleware(settings),
        dependencies={
            "user": Provide(auth.current_user),
            "principal": Provide(auth.principal, sync_to_thread=False),
            "webhook_service": Provide(provide_inbox_webhooks, sync_to_thread=False),
        },
        exception_handlers={SignInFirst: _sign_in_first, 404: _not_found},
        include_in_schema=False,
    )
    static = create_static_files_router(
        path=STATIC_PATH, directories=[STATIC_DIR], name="inbox-assets", include_in_schema=False
    )
    return [pages, static]


def _when(moment: datetime.datetime | None) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if moment else ""


def template_config() -> TemplateConfig:
    """Jinja2, with the filters the pages use; autoescaping on (Litestar's default for .html)."""

    def filters(engine: JinjaTemplateEngine) -> None:
        engine.engine.filters |= {"when": _when, "pretty": reads.pretty_body, "summary": reads.summary_of}

    return TemplateConfig(directory=TEMPLATE_DIR, engine=JinjaTemplateEngine, engine_callback=filters)
