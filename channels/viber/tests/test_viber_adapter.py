"""What Viber's fixture files (outgoing/, incoming/, sandbox/) can't say: the channel's wiring, the bot's name
remembered across sends (and asked again after invalidAuthToken), set_webhook on its own, and the sandbox's
magic receivers."""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

import httpx
import pytest

from channels.base import Account, Outbound
from channels.registry import all_channels
from channels.viber import adapter, sandbox
from channels.viber.blocks import validate_block

TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
ACCOUNT = Account(uuid.UUID(int=7), "https://chatapi.viber.com/pa", {}, {"authToken": TOKEN}, False)
CALLBACK = f"https://gw.example.com/callbacks/viber/{ACCOUNT.id}?token=abc.def.ghi"
# Recorded answers (developers.viber.com/docs/api/rest-bot-api)
SENT = {"status": 0, "status_message": "ok", "message_token": 5741311803571721087, "chat_hostname": "SN-CHAT-05_"}
ACCOUNT_INFO = {
    "status": 0,
    "status_message": "ok",
    "id": "pa:75346594275468546724",
    "name": "Mitto Viber bot with a long name here",
    "uri": "accountUri",
    "icon": "http://example.com",
    "category": "category",
    "webhook": "https://my.site.com",
    "event_types": ["delivered", "seen"],
    "subscribers_count": 35,
    "members": [{"id": "01234567890A=", "name": "my name", "avatar": "http://avatar.example.com", "role": "admin"}],
}


def outbound(block: dict[str, Any], destination: str = "01234567890A=") -> Outbound:
    assert validate_block(block) == [], validate_block(block)
    return Outbound(
        uuid.uuid4(), destination, block, datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1), CALLBACK
    )


class Viber:
    """A recorded Viber: answers per method, and every request it got."""

    def __init__(self, **answers: Any) -> None:
        self.answers = {"get_account_info": [ACCOUNT_INFO], "send_message": [SENT], **answers}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        method = request.url.path.rsplit("/", 1)[1]
        queue = self.answers[method]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    def bodies(self, method: str) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path.endswith("/" + method)]


async def send(viber: Viber, block: dict[str, Any], destination: str = "01234567890A="):
    async with httpx.AsyncClient(transport=httpx.MockTransport(viber)) as http:
        return await adapter.send(http, ACCOUNT, outbound(block, destination))


def test_the_channel_is_wired():
    channel = all_channels()["viber"]
    assert channel.send is adapter.send and channel.register_callbacks is adapter.register_callbacks
    assert channel.default_base_url == "https://chatapi.viber.com/pa"
    # Relative to /callbacks/viber/<account id> and /sandbox/viber, where the gateway mounts them.
    assert {path for route in channel.callback_routes for path in route.paths} == {"/", "/business"}
    sandbox_paths = {path for route in channel.sandbox_routes for path in route.paths}
    bot = {"/send_message", "/set_webhook", "/get_account_info", "/inbound"}
    assert sandbox_paths == {*bot, "/business/viber/2/messages"}


async def test_the_bots_name_is_asked_once():
    viber = Viber()
    await send(viber, {"type": "regular", "ttl": 90, "text": "Hi"})
    await send(viber, {"type": "session", "text": "again"})
    assert len(viber.bodies("get_account_info")) == 1 and len(viber.bodies("send_message")) == 2


async def test_an_invalid_token_is_asked_about_again():
    viber = Viber(send_message=[{"status": 2, "status_message": "invalidAuthToken"}, SENT])
    await send(viber, {"type": "session", "text": "x"})
    await send(viber, {"type": "session", "text": "x"})
    assert len(viber.bodies("get_account_info")) == 2


async def test_register_callbacks():
    viber = Viber(set_webhook=[{"status": 0, "status_message": "ok"}])
    async with httpx.AsyncClient(transport=httpx.MockTransport(viber)) as http:
        await adapter.register_callbacks(http, ACCOUNT, "https://gw.example.com/callbacks/viber/x")
        assert str(viber.requests[0].url) == "https://chatapi.viber.com/pa/set_webhook"
        viber.answers["set_webhook"] = [{"status": 1, "status_message": "invalidUrl"}]
        with pytest.raises(ValueError, match="invalidUrl"):
            await adapter.register_callbacks(http, ACCOUNT, "http://not-https.example.com/")


@pytest.mark.parametrize(
    ("receiver", "expected"),
    [
        ("447700900001", ("silent", None)),
        ("447700900002", ("seen", None)),
        ("447700900003", ("failed", None)),
        ("447700901005", ("refused", 5)),
        ("447700901012", ("refused", 12)),
        ("447700900500", ("error", None)),
        ("447700900429", ("throttled", None)),
        ("447700900408", ("timeout", None)),
        ("447700901000", ("delivered", None)),
        ("447700900123", ("delivered", None)),
        ("01234567890A=", ("delivered", None)),
        ("sandboxUser0002", ("seen", None)),  # a Viber user id ends in the digits too
    ],
)
def test_sandbox_magic_receivers(receiver, expected):
    assert sandbox.behaviour(receiver) == expected


@pytest.mark.parametrize(
    ("block", "kind"),
    [
        ({"type": "session", "text": "x"}, "viberId"),
        ({"type": "Regular", "text": "x"}, "viberId"),  # a raw block may spell the type in any case
        ({"type": "promotional", "text": "x"}, "phoneNumber"),
        ({"type": "TRANSACTIONAL", "text": "x"}, "phoneNumber"),
    ],
)
def test_bot_messages_go_to_a_viber_id_business_messages_to_a_phone_number(block, kind):
    channel = all_channels()["viber"]
    assert channel.address_kind == "viberId" and channel.destination_kind(block) == kind


@pytest.mark.parametrize(
    ("destination", "block", "problem"),
    [
        ("01234567890A=", {"type": "session"}, None),
        ("01234567890", {"type": "regular"}, None),  # seed 002's regular example
        ("nq8ZW7MOWrMSBdX+0nZfIg==", {"type": "session"}, None),
        ("+385911234567", {"type": "session"}, "not a phone number"),
        ("0123 4567", {"type": "session"}, "no spaces"),
        ("a" * 257, {"type": "session"}, "1-256 characters"),
        ("", {"type": "regular"}, "1-256 characters"),
        ("user@example", {"type": "session"}, "A-Z, a-z, 0-9"),
        ("+385911234567", {"type": "promotional"}, None),
        ("01234567890A=", {"type": "promotional"}, "phone number"),
        ("01234567890A=", {"type": "transactional"}, "phone number"),
    ],
)
def test_destinations_are_checked_for_their_kind(destination, block, problem):
    found = all_channels()["viber"].destination_problem(destination, block)
    assert (found is None) if problem is None else (problem in (found or "")), found


def test_stored_addresses_are_told_apart():
    channel = all_channels()["viber"]
    assert channel.kind_of_address("+385911234567") == "phoneNumber"
    assert channel.kind_of_address("01234567890A=") == "viberId"
    assert channel.kind_of_address("01234567890") == "viberId"
    assert channel.canonical_address(" 385 91 123 4567", {"type": "promotional"}) == "+385911234567"
    assert channel.canonical_address(" 01234567890A= ", {"type": "session"}) == "01234567890A="


def test_the_business_settings_are_optional_and_checked():
    channel = all_channels()["viber"]
    assert channel.validate_settings({"authToken": "t"}, sandbox=False) == []
    errors = channel.validate_settings({"authToken": "t", "businessBaseUrl": "ftp://x"}, sandbox=False)
    assert [e.field for e in errors] == ["settings.businessBaseUrl"]
