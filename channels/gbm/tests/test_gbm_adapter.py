"""What the Business Messages fixture files (outgoing/, incoming/, sandbox/) can't say: the channel's wiring,
the JWT of the OAuth 2.0 grant (signed with the key's private key, checked here with its public key), the
access token kept across sends, and the sandbox's read conversations."""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt

from channels.base import Account, Outbound
from channels.gbm import adapter, sandbox
from channels.gbm.tests.keys import KEY, PUBLIC_PEM
from channels.registry import all_channels

LIVE = Account(
    uuid.UUID(int=9), "https://businessmessages.googleapis.com/v1", {"agentId": "a1"}, {"serviceAccountKey": KEY}, False
)
CONVERSATION = "bb8ceef0-90b4-4876-9467-c8c9ecc1c4e0"
TOKEN_ANSWER = {"access_token": "ya29.c.b0Aaek-recorded", "expires_in": 3599, "token_type": "Bearer"}


class Google:
    """The token endpoint and the Business Messages API, answering every request, and what they got."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == "oauth2.googleapis.com":
            return httpx.Response(200, json=TOKEN_ANSWER)
        body = json.loads(request.content)
        return httpx.Response(200, json={**body, "name": f"conversations/{CONVERSATION}/messages/{body['messageId']}"})


async def send(google: Google, block: dict[str, Any]):
    outbound = Outbound(
        uuid.uuid4(),
        CONVERSATION,
        block,
        datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1),
        f"https://gw.example.com/callbacks/gbm/{LIVE.id}?token=abc",
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(google)) as http:
        return await adapter.send(http, LIVE, outbound)


def test_the_channel_is_wired():
    channel = all_channels()["gbm"]
    assert channel.send is adapter.send and channel.register_callbacks is None
    assert channel.default_base_url == "https://businessmessages.googleapis.com/v1"
    # Relative to /callbacks/gbm/<account id> and /sandbox/gbm, where the gateway mounts them.
    assert {path for route in channel.callback_routes for path in route.paths} == {"/"}
    sandbox_paths = {path for route in channel.sandbox_routes for path in route.paths}
    assert sandbox_paths == {"/conversations/{conversation_id:str}/messages", "/inbound"}


async def test_the_grant_is_an_rs256_jwt_of_the_service_account_and_its_token_is_kept():
    google = Google()
    result = await send(google, {"text": {"message": "Hi"}})
    assert result.status == "Sent"
    token_request, message = google.requests
    form = parse_qs(token_request.content.decode())
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assertion = form["assertion"][0]
    assert jwt.get_unverified_header(assertion) == {"alg": "RS256", "typ": "JWT", "kid": "4f1c0e9a2b"}
    claims = jwt.decode(assertion, PUBLIC_PEM, algorithms=["RS256"], audience="https://oauth2.googleapis.com/token")
    assert claims["iss"] == "bm-agent@bm-partner-123.iam.gserviceaccount.com"
    assert claims["scope"] == "https://www.googleapis.com/auth/businessmessages"
    assert claims["exp"] - claims["iat"] == 3600
    assert message.headers["Authorization"] == "Bearer ya29.c.b0Aaek-recorded"
    # The access token is kept: a second send asks for none.
    await send(google, {"text": {"message": "again"}})
    assert [r.url.host for r in google.requests].count("oauth2.googleapis.com") == 1 and len(google.requests) == 3


def test_the_sandboxs_read_conversations():
    assert sandbox.behaviour("bb8ceef0-0002") == "read" and sandbox.behaviour(CONVERSATION) == "delivered"
