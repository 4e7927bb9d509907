"""Table-driven tests of a channel from fixture files of provider payloads, in the way nyaruka/courier tests
its handlers: one harness for every channel (a third-party one too), the cases in JSON files beside the
channel's tests (``channels/<name>/tests/{outgoing,incoming,sandbox}/*.json``).

A case file holds one case (a JSON object), or several: ``{"source": ..., "cases": [...]}`` where every key
of the file but ``cases`` is a default of each case. Every file names the provider document its payloads
follow (``source``). A case the channel gets wrong today says so in ``known`` (the bug, where it is): it
runs as a strict xfail, so fixing the bug makes the suite say so.

Strings in a case may name ``{account_id}``, ``{message_id}``, ``{message_token}``, ``{account_token}``
(the fake gateway's ids and tokens below) and any placeholder the channel's test module adds.

**Outgoing** (:func:`run_outgoing`): the channel's ``send`` with an httpx ``MockTransport`` that checks each
request the adapter makes against the case and answers as the provider would::

    {"label", "block" (the send request's block, decoded and stored as the gateway does; "decode": false
     passes it as written), "destination", "valid_for"? (minutes the message is still valid, default 60),
     "account": {"settings", "credentials", "sandbox", "id"?},
     "request": {"method", "url" or "path", "query"?, "headers"? (a subset), "json" | "form" | "text"},
     "answer": {"status", "headers"?, "json" | "text"} or {"error": "timeout" | "connect"},
     "exchanges"?: [{"request", "answer"}, ...] (several requests, in order, instead of request/answer),
     "result": {SendResult fields (and "accepted") to compare}}

**Incoming** (:func:`run_incoming`): the channel's callback routes in a small Litestar app with a fake
gateway (:class:`RecordingCallbacks`) that records what they ask of it::

    {"label", "method"? (POST), "path" (below /callbacks/<name>/<account id>), "query"?, "headers"?,
     "json" | "text" | "hex" (the provider's payload), "sign"? (false: leave the test module's signer out),
     "account"?, "gateway"? ({"account": false, "known": [message ids], "receive": false}),
     "status", "response"? ({"json" | "text" | "contains", "headers"?}),
     "reports": [StatusReport fields], "inbound": [InboundMessage fields]}

**Sandbox** (:func:`run_sandbox`): a request to the channel's sandbox provider and its answer::

    {"label", "method"?, "path" (below /sandbox/<name>), "query"?, "headers"?, "json" | "text" | "form",
     "account"? (the fake gateway's account {account_id}: sandbox unless it says otherwise),
     "status", "response"?}

Expected values match exactly, except that an object ``{"$any": true}`` matches any present value,
``{"$type": "integer"}`` any value of that JSON type, ``{"$contains": "text"}`` (or a list of texts) any
string containing the text, ``{"$regex": "..."}`` a string the regular expression matches in full,
``{"$absent": true}`` (an object's member) a key that isn't there, and an
object with ``"$partial": true`` only the keys it names.
"""

from __future__ import annotations

import datetime
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import msgspec
from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.testing import AsyncTestClient

from channels.base import Account, Channel, InboundMessage, Outbound, SendResult, StatusReport
from channels.inbound import decode_content
from wire.shapes import decode

ACCOUNT_ID = uuid.UUID("59af552a-e2f2-11eb-b862-482ae3643973")
MESSAGE_ID = uuid.UUID("5b3a1c2e-8d4f-4e6a-9b7c-0d1e2f3a4b5c")
MESSAGE_TOKEN = "message-token.of.the-gateway"  # a per-message callback token the fake gateway issued
ACCOUNT_TOKEN = "account-token.of.the-gateway"  # the token of an account's provider callback URL
GATEWAY = "https://gateway.example"  # where the fake gateway takes callbacks
# The statuses a report may carry (the gateway refuses any other).
STATUSES = ("Sent", "Delivered", "Read", "Failed", "Expired")

JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
}
# (account, raw body, the case) -> {"headers": {...}, "query": {...}} to add: how the provider signs a callback
Signer = Callable[[Account, bytes, dict[str, Any]], dict[str, dict[str, str]]]


@dataclass(frozen=True)
class Case:
    """One case of a fixture file (``index`` is its place in a file of several)."""

    path: Path
    index: int | None
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return self.path.stem if self.index is None else f"{self.path.stem}[{self.index}]"

    def __str__(self) -> str:
        return f"{self.path.parent.name}/{self.id}: {self.data.get('label', '')}"


def load(path: Path) -> list[Case]:
    """The cases of one fixture file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a fixture file holds a JSON object")
    if "cases" not in data:
        return [Case(path, None, data)]
    defaults = {key: value for key, value in data.items() if key != "cases"}
    return [Case(path, i, _merged(defaults, case)) for i, case in enumerate(data["cases"])]


BODIES = ("json", "form", "text", "hex")  # a payload is one of these


def _merged(defaults: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """A case of a file of several: the file's defaults, then the case (whose payload replaces the file's)."""
    if any(key in case for key in BODIES):
        defaults = {key: value for key, value in defaults.items() if key not in BODIES}
    return defaults | case


def load_all(directory: Path) -> list[Case]:
    return [case for path in sorted(Path(directory).glob("*.json")) for case in load(path)]


def cases(directory: Path | str) -> list[Any]:
    """The cases of a directory as pytest parameters: a case that says ``known`` is a strict xfail."""
    import pytest

    found = load_all(Path(directory))
    if not found:
        raise ValueError(f"no fixture files in {directory}")
    return [
        pytest.param(
            case,
            id=case.id,
            marks=[pytest.mark.xfail(strict=True, reason=case.data["known"])] if case.data.get("known") else [],
        )
        for case in found
    ]


# --------------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------------


def mismatches(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where ``actual`` differs from ``expected`` (with the matchers of the module docstring)."""
    where = path or "(the value)"
    if (
        isinstance(expected, dict)
        and len(expected) == 1
        and next(iter(expected)) in ("$any", "$contains", "$type", "$regex")
    ):
        [(matcher, argument)] = expected.items()
        if matcher == "$any":
            return [] if actual is not None else [f"{where}: expected a value, got none"]
        if matcher == "$type":
            ok = isinstance(actual, JSON_TYPES[argument]) and (argument == "boolean" or not isinstance(actual, bool))
            return [] if ok else [f"{where}: expected a JSON {argument}, got {actual!r}"]
        if matcher == "$regex":
            ok = isinstance(actual, str) and re.fullmatch(argument, actual) is not None
            return [] if ok else [f"{where}: expected text matching {argument!r}, got {actual!r}"]
        wanted = argument if isinstance(argument, list) else [argument]
        ok = isinstance(actual, str) and all(text in actual for text in wanted)
        return [] if ok else [f"{where}: expected text containing {argument!r}, got {actual!r}"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        found: list[str] = []
        partial = expected.get("$partial") is True
        for key, value in expected.items():
            if key == "$partial":
                continue
            if value == {"$absent": True}:
                if key in actual:
                    found.append(f"{path}.{key}: not expected" if path else f"{key}: not expected")
                continue
            if key not in actual:
                found.append(f"{path}.{key}: missing" if path else f"{key}: missing")
            else:
                found += mismatches(value, actual[key], f"{path}.{key}" if path else key)
        if not partial:
            found += [
                f"{path}.{key}: not expected" if path else f"{key}: not expected"
                for key in actual
                if key not in expected
            ]
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: expected {json.dumps(expected)}, got {_show(actual)}"]
        return [
            problem
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for problem in mismatches(e, a, f"{path}[{i}]")
        ]
    same = expected == actual and isinstance(expected, bool) == isinstance(actual, bool)
    if isinstance(expected, float) or isinstance(actual, float):
        same = same and isinstance(actual, (int, float))
    return [] if same else [f"{where}: expected {expected!r}, got {actual!r}"]


def check(what: str, expected: Any, actual: Any) -> None:
    if found := mismatches(expected, actual):
        raise AssertionError(f"{what}:\n  " + "\n  ".join(found) + f"\n  (got {_show(actual)})")


def _show(value: Any) -> str:
    try:
        return json.dumps(value, default=str)[:2000]
    except (TypeError, ValueError):
        return repr(value)[:2000]


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def substitute(value: Any, names: dict[str, str]) -> Any:
    """``value`` with every ``{name}`` of ``names`` filled in (other braces are left alone)."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: names.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [substitute(item, names) for item in value]
    if isinstance(value, dict):
        return {substitute(key, names): substitute(item, names) for key, item in value.items()}
    return value


def _names(extra: dict[str, str] | None) -> dict[str, str]:
    return {
        "account_id": str(ACCOUNT_ID),
        "message_id": str(MESSAGE_ID),
        "message_token": MESSAGE_TOKEN,
        "account_token": ACCOUNT_TOKEN,
        **(extra or {}),
    }


def account_of(channel: Channel, given: dict[str, Any] | None, *, sandbox: bool = False) -> Account:
    """The traffic account of a case as its adapter sees it: the provider's URL is ``settings.baseUrl``, else
    the channel's own (a sandbox account without one: the sandbox provider's, as the gateway gives it)."""
    given = given or {}
    settings = dict(given.get("settings") or {})
    is_sandbox = bool(given.get("sandbox", sandbox))
    base_url = settings.get("baseUrl") or (
        f"{GATEWAY}/sandbox/{channel.name}" if is_sandbox else channel.default_base_url
    )
    return Account(
        id=uuid.UUID(given.get("id") or str(ACCOUNT_ID)),
        base_url=base_url,
        settings=settings,
        credentials=dict(given.get("credentials") or {}),
        sandbox=is_sandbox,
    )


def _body(data: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The raw body of a payload and the Content-Type it goes with."""
    if "json" in data:
        return json.dumps(data["json"], ensure_ascii=False).encode(), {"Content-Type": "application/json"}
    if "form" in data:
        return urlencode(data["form"]).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    if "text" in data:
        return data["text"].encode(), {}
    if "hex" in data:
        return bytes.fromhex(data["hex"]), {}
    return b"", {}


# --------------------------------------------------------------------------------------------------
# Outgoing
# --------------------------------------------------------------------------------------------------


async def run_outgoing(channel: Channel, case: Case, *, placeholders: dict[str, str] | None = None) -> SendResult:
    """Send the case's block through ``channel.send`` against the case's provider; checks every request and
    the result. Returns the SendResult (for a test that checks more)."""
    data = substitute(case.data, _names(placeholders))
    account = account_of(channel, data.get("account"))
    block = data["block"]
    if data.get("decode", True):
        decoded = decode(block, channel.block_shape)
        if decoded.errors:
            raise AssertionError(f"{case}: the block doesn't decode: {decoded.errors}")
        block = msgspec.to_builtins(decoded.value)  # as the gateway stores it
    # Half a minute more than the case says: the whole minutes left don't change while the case runs.
    valid_for = datetime.timedelta(minutes=data.get("valid_for", 60), seconds=30)
    outbound = Outbound(
        message_id=MESSAGE_ID,
        destination=data["destination"],
        block=block,
        valid_until=datetime.datetime.now(datetime.UTC) + valid_for,
        callback_url=data.get("callback_url", f"{GATEWAY}/callbacks/{channel.name}/{account.id}?token={MESSAGE_TOKEN}"),
    )
    exchanges = data.get("exchanges")
    if exchanges is None:
        exchanges = [{"request": data["request"], "answer": data["answer"]}] if "request" in data else []
    provider = _Provider(exchanges)
    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as http:
        try:
            result = await channel.send(http, account, outbound)
        except httpx.HTTPError as error:  # what the dispatcher makes of it: transient
            result = SendResult(description=f"{type(error).__name__}: {error}"[:1000])
    if provider.problems:
        raise AssertionError(f"{case}: the requests differ:\n  " + "\n  ".join(provider.problems))
    if provider.left:
        raise AssertionError(f"{case}: {len(provider.left)} expected request(s) not made: {_show(provider.left)}")
    actual = {f.name: getattr(result, f.name) for f in fields(result)} | {"accepted": result.accepted}
    check(f"{case}: the SendResult", {"$partial": True, **data["result"]}, actual)
    return result


class _Provider:
    """The provider of an outgoing case: expects the case's requests in order, answers each."""

    def __init__(self, exchanges: list[dict[str, Any]]) -> None:
        self.left = list(exchanges)
        self.problems: list[str] = []
        self.count = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        if not self.left:
            self.problems.append(f"request {self.count} ({request.method} {request.url}) was not expected")
            return httpx.Response(599, text="no such request in the case")
        exchange = self.left.pop(0)
        self.problems += [f"request {self.count}: {p}" for p in request_mismatches(exchange["request"], request)]
        return answer_of(exchange["answer"], request)


def request_mismatches(expected: dict[str, Any], request: httpx.Request) -> list[str]:
    found: list[str] = []
    if request.method != expected.get("method", "POST"):
        found.append(f"method: expected {expected.get('method', 'POST')}, got {request.method}")
    path = request.url.raw_path.split(b"?", 1)[0].decode("ascii")
    if "url" in expected:
        url = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}{path}"
        if url != expected["url"]:
            found.append(f"url: expected {expected['url']}, got {url}")
    if "path" in expected and path != expected["path"]:
        found.append(f"path: expected {expected['path']}, got {path}")
    query = {
        key: values[0] if len(values) == 1 else values for key, values in parse_qs(request.url.query.decode()).items()
    }
    found += mismatches(expected.get("query", {}), query, "query")
    headers = {key.lower(): value for key, value in request.headers.items()}
    wanted = {key.lower(): value for key, value in (expected.get("headers") or {}).items()}
    found += mismatches({"$partial": True, **wanted}, headers, "headers")
    if "json" in expected:
        try:
            body = json.loads(request.content)
        except ValueError:
            found.append(f"body: expected JSON, got {request.content[:200]!r}")
        else:
            found += mismatches(expected["json"], body, "json")
    if "form" in expected:
        form = parse_qs(request.content.decode(), keep_blank_values=True)
        found += mismatches(expected["form"], {k: v[0] if len(v) == 1 else v for k, v in form.items()}, "form")
    if "text" in expected and request.content.decode(errors="replace") != expected["text"]:
        found.append(f"body: expected {expected['text']!r}, got {request.content[:200]!r}")
    return found


def answer_of(answer: dict[str, Any], request: httpx.Request) -> httpx.Response:
    error = answer.get("error")
    if error == "timeout":
        raise httpx.ReadTimeout("the provider didn't answer in time", request=request)
    if error == "connect":
        raise httpx.ConnectError("connection refused", request=request)
    if error is not None:
        raise ValueError(f"unknown answer error {error!r}")
    content, headers = _body(answer)
    return httpx.Response(answer.get("status", 200), content=content, headers=headers | (answer.get("headers") or {}))


# --------------------------------------------------------------------------------------------------
# Incoming and sandbox: the channel's routes with a fake gateway
# --------------------------------------------------------------------------------------------------


@dataclass
class RecordingCallbacks:
    """The gateway as a channel's callback and sandbox routes see it (``channels.base.Callbacks``), with one
    traffic account (``ACCOUNT_ID``, of ``channel``), one message (``MESSAGE_ID``, named by ``MESSAGE_TOKEN``)
    and a record of the reports and messages the routes hand it."""

    channel: str
    account_: Account | None = None
    known: list[str] | None = None  # the message ids (ours or the provider's) a report finds; None: every one
    receives: bool = True  # whether the account takes inbound messages (False: as if it didn't exist)
    reports: list[tuple[uuid.UUID, StatusReport]] = field(default_factory=list)
    received: list[tuple[uuid.UUID, InboundMessage]] = field(default_factory=list)

    def message_of_token(self, token: str | None) -> uuid.UUID | None:
        return MESSAGE_ID if token == MESSAGE_TOKEN else None

    async def account_of_token(self, token: str | None) -> uuid.UUID | None:
        return ACCOUNT_ID if token == ACCOUNT_TOKEN else None

    def callback_url(self, channel: str, account_id: uuid.UUID) -> str:
        return f"{GATEWAY}/callbacks/{channel}/{account_id}"

    async def provider_callback_url(self, channel: str, account_id: uuid.UUID) -> str:
        return f"{GATEWAY}/callbacks/{channel}/{account_id}?token={ACCOUNT_TOKEN}"

    def is_own_callback(self, url: str) -> bool:
        return False  # nothing leaves a test: a sandbox provider calls no one back

    async def report(self, account_id: uuid.UUID, report: StatusReport) -> bool:
        if report.status not in STATUSES:
            raise ValueError(f"unknown status {report.status!r}")
        self.reports.append((account_id, report))
        if account_id != ACCOUNT_ID or self.account_ is None:
            return False
        named = {str(report.message_id) if report.message_id else None, report.provider_message_id} - {None}
        return self.known is None or bool(named & set(self.known))

    async def receive(self, account_id: uuid.UUID, inbound: InboundMessage) -> bool:
        self.received.append((account_id, inbound))
        return account_id == ACCOUNT_ID and self.account_ is not None and self.receives

    async def inbound_message_id(self, account_id: uuid.UUID, provider_message_id: str) -> uuid.UUID | None:
        """A stable id per provider id of a message received (the fake stores nothing)."""
        if any(a == account_id and m.provider_message_id == provider_message_id for a, m in self.received):
            return uuid.uuid5(ACCOUNT_ID, provider_message_id)
        return None

    async def sandbox_account_ids(self, channel: str) -> list[uuid.UUID]:
        return [ACCOUNT_ID] if self.account_ is not None and self.account_.sandbox and channel == self.channel else []

    async def account(self, account_id: uuid.UUID, channel: str) -> Account | None:
        if account_id != ACCOUNT_ID or channel != self.channel:
            return None
        return self.account_


def given_callbacks(callbacks: Any) -> dict[str, Provide]:
    """The ``callbacks`` dependency the channels' callback and sandbox routes take, as the app provides it."""
    return {"callbacks": Provide(lambda: callbacks, sync_to_thread=False)}


# (the routes, where they go) -> a small app serving them, and the fake gateway its routes get
_apps: dict[tuple[Any, ...], tuple[Litestar, list[RecordingCallbacks]]] = {}


def app_for(routes: Iterable[Any], mount_at: str, gateway: RecordingCallbacks) -> Litestar:
    """A small app serving a channel's routes with ``gateway`` as their ``callbacks``, mounted under
    ``mount_at`` as the gateway mounts them (a channel declares them relative to its prefixes: see
    gateway/channel_routes.py). One app per set of routes, made once (making one takes longer than running a
    case); each case gets it with its own gateway and an empty ``app.state`` (where sandbox providers keep
    what they remember)."""
    routes = tuple(routes)
    key = (*routes, mount_at)
    if key not in _apps:
        current: list[RecordingCallbacks] = [gateway]
        app = Litestar(
            route_handlers=[Router(path=mount_at, route_handlers=list(routes))],
            dependencies={"callbacks": Provide(lambda: current[0], sync_to_thread=False)},
            openapi_config=None,
        )
        _apps[key] = (app, current)
    app, current = _apps[key]
    current[0] = gateway
    app.state = State()
    return app


def gateway_of(channel: Channel, data: dict[str, Any], account: Account | None) -> RecordingCallbacks:
    gateway = data.get("gateway") or {}
    return RecordingCallbacks(
        channel=channel.name,
        account_=None if gateway.get("account") is False else account,
        known=gateway.get("known"),
        receives=gateway.get("receive", True),
    )


async def run_incoming(
    channel: Channel,
    case: Case,
    *,
    account: dict[str, Any] | None = None,
    signer: Signer | None = None,
    placeholders: dict[str, str] | None = None,
) -> RecordingCallbacks:
    """Post the case's provider payload to the channel's callback routes; checks the answer and what the
    routes asked of the gateway. ``account`` is the traffic account of cases that give none, ``signer`` how
    the provider authenticates a callback."""
    data = substitute(case.data, _names(placeholders))
    the_account = account_of(channel, data.get("account", substitute(account, _names(placeholders))))
    gateway = gateway_of(channel, data, the_account)
    body, headers = _body(data)
    query = dict(data.get("query") or {})
    headers |= data.get("headers") or {}
    if signer is not None and data.get("sign", True):
        signed = signer(the_account, body, data)
        headers |= signed.get("headers", {})
        query |= signed.get("query", {})
    url = f"/callbacks/{channel.name}/{ACCOUNT_ID}{data.get('path', '')}"
    prefix = f"/callbacks/{channel.name}"
    app = app_for(channel.callback_routes, f"{prefix}/{{account_id:str}}", gateway)
    async with AsyncTestClient(app=app) as client:
        response = await client.request(
            data.get("method", "POST"), url, params=query, content=body, headers=_wire(headers)
        )
    _check_answer(case, data, response)
    reports = [_fields(report) for _, report in gateway.reports]
    check(f"{case}: the reports", [_defaults(StatusReport) | r for r in data.get("reports", [])], reports)
    inbound = [_fields(message) for _, message in gateway.received]
    check(f"{case}: the inbound messages", [_defaults(InboundMessage) | m for m in data.get("inbound", [])], inbound)
    for index, (_, message) in enumerate(gateway.received):  # one vocabulary for every channel
        try:
            decode_content(message.content)
        except msgspec.ValidationError as error:
            raise AssertionError(f"{case}: inbound[{index}].content is no channels.inbound content: {error}") from None
    if any(account_id != ACCOUNT_ID for account_id, _ in [*gateway.reports, *gateway.received]):
        raise AssertionError(f"{case}: a report or message was handed to another account than the path's")
    return gateway


async def run_sandbox(
    channel: Channel,
    case: Case,
    *,
    account: dict[str, Any] | None = None,
    placeholders: dict[str, str] | None = None,
) -> RecordingCallbacks:
    """Send the case's request to the channel's sandbox provider; checks its answer."""
    data = substitute(case.data, _names(placeholders))
    the_account = account_of(channel, data.get("account", substitute(account, _names(placeholders))), sandbox=True)
    gateway = gateway_of(channel, data, the_account)
    body, headers = _body(data)
    headers |= data.get("headers") or {}
    app = app_for(channel.sandbox_routes, f"/sandbox/{channel.name}", gateway)
    async with AsyncTestClient(app=app) as client:
        response = await client.request(
            data.get("method", "POST"),
            f"/sandbox/{channel.name}{data['path']}",
            params=data.get("query") or {},
            content=body,
            headers=_wire(headers),
        )
    _check_answer(case, data, response)
    return gateway


def _check_answer(case: Case, data: dict[str, Any], response: httpx.Response) -> None:
    if response.status_code != data["status"]:
        raise AssertionError(
            f"{case}: status {response.status_code}, expected {data['status']}: {response.text[:1000]}"
        )
    expected = data.get("response") or {}
    if "json" in expected:
        try:
            body = response.json()
        except ValueError:
            raise AssertionError(f"{case}: the answer is no JSON: {response.text[:1000]!r}") from None
        check(f"{case}: the answer", expected["json"], body)
    if "text" in expected and response.text != expected["text"]:
        raise AssertionError(f"{case}: the answer is {response.text[:1000]!r}, expected {expected['text']!r}")
    for text in _listed(expected.get("contains")):
        if text not in response.text:
            raise AssertionError(f"{case}: the answer doesn't contain {text!r}: {response.text[:1000]}")
    headers = {key.lower(): value for key, value in response.headers.items()}
    wanted = {key.lower(): value for key, value in (expected.get("headers") or {}).items()}
    check(f"{case}: the answer's headers", {"$partial": True, **wanted}, headers)


def _wire(headers: dict[str, str]) -> dict[str, str | bytes]:
    """Headers as a client sends them: a value outside ASCII as its UTF-8 bytes."""
    return {key: value if value.isascii() else value.encode() for key, value in headers.items()}


def _listed(value: Any) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def _defaults(kind: type) -> dict[str, Any]:
    """The fields of a dataclass a case may leave out, with their defaults."""
    return {f.name: f.default for f in fields(kind) if f.default is not MISSING}


def _fields(value: Any) -> dict[str, Any]:
    return {key: str(item) if isinstance(item, uuid.UUID) else item for key, item in asdict(value).items()}
