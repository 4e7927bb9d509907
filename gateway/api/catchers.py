"""Webhook catchers (the local mock's test-control API): create one, point a webhook at its URL, read
what it received; and the catcher URL itself, served by the gateway without authentication."""

from __future__ import annotations

import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.enums import MediaType
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from channels.openapi import problem
from gateway.api.deps import Caller, Catchers, DbSession, runtime_of
from gateway.api.messages import CursorParam, Limit
from gateway.lib.pagination import Cursor
from gateway.lib.problems import not_found
from gateway.models import SandboxCatcher, SandboxCatcherRequest
from gateway.schemas import Out, Page, Schema
from gateway.webhooks.catchers import CATCHERS, CatcherService

MAX_ANSWERS = 1000  # requests one PUT .../answer may cover


class CatcherOut(Out):
    id: UUID
    url: Annotated[str, msgspec.Meta(description="Give it as a webhook's url: the gateway's own address")]
    answer_status: Annotated[
        int | None, msgspec.Meta(description="The status answered to the next answerRemaining requests; null: 200")
    ]
    answer_remaining: int
    created_at: datetime.datetime

    @classmethod
    def of(cls, catcher: SandboxCatcher, url: str) -> CatcherOut:
        c = catcher
        return cls(c.id, url, c.answer_status, c.answer_remaining, c.created_at)


class CatcherAnswer(Schema):
    """Answer ``status`` to the next ``count`` requests, then 200 again (count 0: 200 from now on)."""

    status: Annotated[int, msgspec.Meta(ge=200, le=599, examples=[500])]
    count: Annotated[int, msgspec.Meta(ge=0, le=MAX_ANSWERS, examples=[2])] = 1


class CatcherRequestOut(Out):
    id: UUID
    received_at: datetime.datetime
    method: str
    headers: dict[str, str]
    body: Annotated[str, msgspec.Meta(description="The body as text (invalid UTF-8 replaced), its first 64 KB")]
    answered_status: int
    signature_verified: Annotated[
        bool | None,
        msgspec.Meta(
            description="Whether the Standard Webhooks signature verified against the secret (or previous secret) "
            "of the tenant's webhook whose url is this catcher's; null: no such webhook, or the request was unsigned"
        ),
    ]
    webhook_id: Annotated[UUID | None, msgspec.Meta(description="That webhook")]

    @classmethod
    def of(cls, r: SandboxCatcherRequest) -> CatcherRequestOut:
        return cls(
            r.id, r.received_at, r.method, r.headers, r.body, r.answered_status, r.signature_verified, r.webhook_id
        )


NO_CATCHER = {404: problem("`not_found`: no catcher of the tenant with this id")}


class CatcherController(Controller):
    path = "/sandbox/catchers"
    tags = ["sandbox"]

    @post("/", summary="Create a webhook catcher: a URL of the gateway's that stores what it receives")
    async def create_catcher(self, catcher_service: Catchers, principal: Caller) -> CatcherOut:
        catcher = await catcher_service.create(principal.tenant_id)
        return CatcherOut.of(catcher, catcher_service.url(catcher))

    @get("/", summary="The tenant's webhook catchers")
    async def list_catchers(self, catcher_service: Catchers, principal: Caller) -> list[CatcherOut]:
        return [CatcherOut.of(c, catcher_service.url(c)) for c in await catcher_service.list(principal.tenant_id)]

    @get("/{catcher_id:str}", summary="One webhook catcher", responses=NO_CATCHER)
    async def get_catcher(self, catcher_service: Catchers, principal: Caller, catcher_id: FromPath[UUID]) -> CatcherOut:
        catcher = await catcher_service.get(principal.tenant_id, catcher_id)
        return CatcherOut.of(catcher, catcher_service.url(catcher))

    @delete("/{catcher_id:str}", summary="Delete a webhook catcher and its requests", responses=NO_CATCHER)
    async def delete_catcher(self, catcher_service: Catchers, principal: Caller, catcher_id: FromPath[UUID]) -> None:
        await catcher_service.delete(principal.tenant_id, catcher_id)

    @put(
        "/{catcher_id:str}/answer",
        summary="Answer a given status to the catcher's next N requests (to test retries), then 200 again",
        responses=NO_CATCHER,
    )
    async def set_answer(
        self, catcher_service: Catchers, principal: Caller, catcher_id: FromPath[UUID], data: JSONBody[CatcherAnswer]
    ) -> CatcherOut:
        catcher = await catcher_service.answer(principal.tenant_id, catcher_id, data.status, data.count)
        return CatcherOut.of(catcher, catcher_service.url(catcher))

    @get(
        "/{catcher_id:str}/requests",
        summary="The requests the catcher received, oldest first, with whether their signature verified",
        responses=NO_CATCHER,
    )
    async def list_requests(
        self,
        catcher_service: Catchers,
        principal: Caller,
        catcher_id: FromPath[UUID],
        limit: Limit = 100,
        cursor: CursorParam = None,
    ) -> Page[CatcherRequestOut]:
        rows, next_cursor = await catcher_service.requests(
            principal.tenant_id, catcher_id, limit, Cursor.decode(cursor)
        )
        return Page([CatcherRequestOut.of(row) for row in rows], next_cursor.encode() if next_cursor else None)


@post(
    f"{CATCHERS}/{{catcher_id:str}}",
    status_code=HTTP_200_OK,
    summary="A webhook catcher's URL: takes any POST, stores it, answers 200 (or the status it was told)",
    media_type=MediaType.TEXT,  # an empty answer, as many webhook receivers give
    tags=["sandbox"],
    responses={404: problem("`not_found`: no catcher with this id")},
)
async def catch(request: Request, db_session: DbSession, catcher_id: FromPath[str]) -> Response[bytes]:
    """Unauthenticated, like any webhook receiver: the catcher's id (a random UUID) is its only secret."""
    try:
        catcher = UUID(catcher_id)
    except ValueError:
        raise not_found("catcher") from None
    # Built here, not injected: the customer API's provider needs a caller, and a catcher's sender is none.
    service = CatcherService(db_session, runtime_of(request).settings.public_base_url)
    status = await service.receive(catcher, request.method, dict(request.headers), await request.body())
    if status is None:
        raise not_found("catcher")
    return Response(b"", status_code=status, media_type="text/plain")
