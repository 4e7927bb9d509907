"""The channels' fixture harness (channels/testing.py) on its own: how it matches, how it loads a file of
several cases, and that it runs a channel whose routes are declared relative to the gateway's prefixes
(``/callbacks/<name>/{account_id}``, ``/sandbox/<name>``) as well as one whose routes name their full path."""

from __future__ import annotations

import json
from uuid import UUID

import httpx
import pytest
from litestar import Request, Response, post
from litestar.params import FromPath

from channels.base import Account, CallbacksDependency, Channel, InboundMessage, Outbound, SendResult, SettingsSpec
from channels.testing import ACCOUNT_ID, cases, load, mismatches, run_incoming, run_outgoing, run_sandbox


@pytest.mark.parametrize(
    ("expected", "actual", "problems"),
    [
        ({"a": 1}, {"a": 1}, 0),
        ({"a": 1}, {"a": 1, "b": 2}, 1),  # exact unless partial
        ({"$partial": True, "a": 1}, {"a": 1, "b": 2}, 0),
        ({"a": {"$any": True}}, {"a": "x"}, 0),
        ({"a": {"$any": True}}, {"a": None}, 1),
        ({"a": {"$contains": "ell"}}, {"a": "hello"}, 0),
        ({"a": {"$contains": "ell"}}, {"a": 5}, 1),
        ({"a": {"$absent": True}}, {}, 0),
        ({"a": {"$absent": True}}, {"a": None}, 1),
        ({"a": False}, {"a": 0}, 1),  # a boolean is no number
        ({"a": 3.0}, {"a": 3}, 0),
        ([1, 2], [1], 1),
    ],
)
def test_matching(expected, actual, problems):
    assert len(mismatches(expected, actual)) == problems


def test_a_file_of_several_cases_gives_each_the_files_defaults(tmp_path):
    (tmp_path / "a.json").write_text(
        json.dumps({"source": "docs", "json": {"x": 1}, "status": 200, "cases": [{"label": "one"}, {"text": "raw"}]})
    )
    one, two = load(tmp_path / "a.json")
    assert one.data == {"source": "docs", "json": {"x": 1}, "status": 200, "label": "one"} and one.id == "a[0]"
    assert two.data == {"source": "docs", "status": 200, "text": "raw"}  # a case's payload replaces the file's
    (tmp_path / "b.json").write_text(json.dumps({"label": "bug", "known": "channels/x.py:1 drops it"}))
    assert [p.marks[0].kwargs for p in cases(tmp_path) if p.marks] == [
        {"strict": True, "reason": "channels/x.py:1 drops it"}
    ]


# A channel declaring its routes relative to the gateway's prefixes (as the channel kit will have them).


async def send(http: httpx.AsyncClient, account: Account, outbound: Outbound) -> SendResult:
    answer = await http.post(f"{account.base_url}/echo", json={"to": outbound.destination, **outbound.block})
    return SendResult(status="Sent", provider_message_id=answer.json()["id"])


@post("/", status_code=200)
async def echo_callback(request: Request, callbacks: CallbacksDependency, account_id: FromPath[UUID]) -> Response[dict]:
    body = await request.json()
    await callbacks.receive(
        account_id, InboundMessage(sender=body["from"], content={"type": "text", "text": body["text"]})
    )
    return Response({"ok": True})


@post("/echo", status_code=200)
async def echo_sandbox(callbacks: CallbacksDependency) -> Response[dict]:
    account = await callbacks.account(ACCOUNT_ID, "echo")
    return Response({"id": "e-1", "sandbox": account.sandbox})


ECHO = Channel(
    name="echo",
    settings=SettingsSpec(),
    send=send,
    block_shape=dict,
    default_base_url="https://echo.invalid",
    callback_routes=(echo_callback,),
    sandbox_routes=(echo_sandbox,),
)


async def test_relative_routes_are_mounted_under_the_gateways_prefixes(tmp_path):
    (tmp_path / "out.json").write_text(
        json.dumps(
            {
                "label": "a send",
                "block": {"text": "hi"},
                "destination": "u1",
                "request": {"url": "https://echo.invalid/echo", "json": {"to": "u1", "text": "hi"}},
                "answer": {"status": 200, "json": {"id": "e-1"}},
                "result": {"status": "Sent", "provider_message_id": "e-1"},
            }
        )
    )
    (tmp_path / "in.json").write_text(
        json.dumps(
            {
                "label": "a user's text",
                "path": "/",
                "json": {"from": "u1", "text": "hey"},
                "status": 200,
                "response": {"json": {"ok": True}},
                "inbound": [{"sender": "u1", "content": {"type": "text", "text": "hey"}}],
            }
        )
    )
    (tmp_path / "sandbox.json").write_text(
        json.dumps(
            {
                "label": "the sandbox",
                "path": "/echo",
                "status": 200,
                "response": {"json": {"id": "e-1", "sandbox": True}},
            }
        )
    )
    await run_outgoing(ECHO, load(tmp_path / "out.json")[0])
    gateway = await run_incoming(ECHO, load(tmp_path / "in.json")[0])
    assert gateway.received[0][0] == ACCOUNT_ID
    await run_sandbox(ECHO, load(tmp_path / "sandbox.json")[0])
    with pytest.raises(AssertionError, match="inbound messages"):
        case = load(tmp_path / "in.json")[0]
        case.data["inbound"] = []
        await run_incoming(ECHO, case)
