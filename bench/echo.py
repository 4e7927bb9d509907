"""A bare Litestar + msgspec app that decodes a send body and answers it: the fastest a Python API on this
stack can answer on this machine (bench/limits.py serves it with uvicorn as `gateway serve` is served)."""

from __future__ import annotations

import msgspec
from litestar import Litestar, get, post


class Sms(msgspec.Struct):
    sender: str
    text: str


class Send(msgspec.Struct, rename="camel"):
    traffic_account_id: str
    destination: str
    sms: Sms


@post("/echo", status_code=200)
async def echo(data: Send) -> Send:
    return data


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar([echo, health])
