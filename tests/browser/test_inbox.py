"""The inbox in a real browser, against a real `gateway serve` (tests/browser/conftest.py): sign in, watch a
message sent through the API appear and turn Delivered without a reload, open its timeline and see the provider
request, reply as the user, and load nothing from anywhere but the gateway. The conversation page's screenshot
is the README's: `INBOX_SCREENSHOT=docs/inbox.png .venv/bin/python -m pytest tests/browser -k turns_delivered`
writes it there (otherwise it goes to the test's temporary directory, so a test run leaves the tree clean)."""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import expect

from channels.base import UserReply
from tests.browser.conftest import assert_no_external_requests


def unique_destination() -> str:
    """A number of this test's own (the gateway is the session's), whose last four digits start with 2-9: no
    magic destination of the sandbox (0001, 1NNN, 0500...), so its messages are Delivered."""
    return f"+4477009{random.randrange(10)}{random.choice('23456789')}{random.randrange(1000):03d}"


async def sign_in(page: Any, gateway: Any) -> None:
    await page.goto("/inbox/")  # redirected to the sign-in page
    await expect(page).to_have_url(f"{gateway.url}/inbox/login")
    await page.fill("input[name=email]", gateway.email)
    await page.fill("input[name=password]", gateway.password)
    await page.click("button[type=submit]")
    await expect(page.get_by_role("heading", name="Conversations")).to_be_visible()


async def test_a_sent_message_appears_turns_delivered_live_and_shows_its_provider_request(
    page: Any, api: Any, gateway: Any, tmp_path: Path
) -> None:
    await sign_in(page, gateway)
    await expect(page.locator("body[data-stream=open]")).to_have_count(1)  # subscribed to the live events
    await page.evaluate("window.notReloaded = true")
    destination = unique_destination()
    sent = await api.post(
        "/api/v1/Message/send",
        json={
            "trafficAccountId": gateway.traffic_accounts["sms"],
            "destination": destination,
            "sms": {"text": "Your parcel arrives today", "sender": "MITTO SMS"},
        },
    )
    assert sent.status_code == 200, sent.text
    row = page.locator("tr", has=page.get_by_role("link", name=destination))
    await expect(row).to_be_visible()
    await expect(row.locator(".status")).to_have_text("Delivered")
    assert await page.evaluate("window.notReloaded === true"), "the page was reloaded"

    await row.get_by_role("link", name=destination).click()
    message = page.locator(f"[data-message='{sent.json()['messageId']}']")
    await expect(message.locator("[data-status]")).to_have_text("Delivered")
    await message.get_by_text("Timeline").click()
    request = message.locator("details.exchange.request").first
    await expect(request).to_contain_text("/sandbox/sms")
    await request.locator("summary").click()
    await expect(request.locator("pre").first).to_contain_text("Your parcel arrives today")
    await expect(message.locator(".history")).to_contain_text("Sent")

    await page.fill("form.reply input[name=text]", "Thanks, I'll be home")
    await page.click("form.reply button[type=submit]")
    await expect(page.locator(".notice")).to_have_text("The user's message was sent.")
    inbound = page.locator("li.message.inbound")
    await expect(inbound).to_contain_text("Thanks, I'll be home")
    await expect(inbound.locator("[data-status]")).to_have_text("Received")

    await message.get_by_text("Timeline").click()
    await request.locator("summary").click()
    screenshot = Path(os.environ.get("INBOX_SCREENSHOT") or tmp_path / "inbox.png")
    image = await page.screenshot(path=str(screenshot), full_page=True)
    assert len(image) > 10_000  # a rendered page, not a blank one
    assert_no_external_requests(page)


USERS = {  # a sandbox user's address on each channel (random: the gateway is the session's)
    "sms": lambda: unique_destination(),
    "whatsapp": lambda: unique_destination(),
    "telegram": lambda: str(random.randrange(10**8, 10**9)),
    "viber": lambda: f"inboxuser{random.randrange(10**6)}=",
    "gbm": lambda: f"inbox-conversation-{random.randrange(10**6)}",
}
# What each kind of reply is stored as (the inbound content's type), per channel.
STORED_AS = {
    "sms": {"text": "text"},
    "whatsapp": {"text": "text", "media": "image", "location": "location", "button": "postback"},
    "telegram": {"text": "text", "media": "image", "location": "location", "button": "postback"},
    "viber": {"text": "text", "media": "image", "location": "location"},
    "gbm": {"text": "text", "button": "postback"},
}


async def signed_in_client(gateway: Any) -> httpx.AsyncClient:
    """The inbox's forms posted as a browser posts them (its cookies, the CSRF token of the page)."""
    client = httpx.AsyncClient(base_url=gateway.url, timeout=30)
    page = await client.get("/inbox/login")
    form = {"email": gateway.email, "password": gateway.password, "_csrf_token": csrf_of(page.text)}
    assert (await client.post("/inbox/login", data=form)).status_code == 303
    return client


def csrf_of(html: str) -> str:
    return re.search(r'name="_csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


async def test_reply_as_the_user_sends_each_kind_of_the_channel(api: Any, gateway: Any) -> None:
    inbox = await signed_in_client(gateway)
    try:
        for channel, kinds in STORED_AS.items():
            user, account = USERS[channel](), gateway.traffic_accounts[channel]
            first = await api.post(
                f"/sandbox/{channel}/inbound", json={"trafficAccountId": account, "from": user, "text": "hi"}
            )
            assert first.status_code == 200, first.text
            message = (await api.get(f"/api/v1/Message/{first.json()['messageId']}")).json()
            conversation = f"/inbox/conversations/{message['conversation']['id']}"
            token = csrf_of((await inbox.get(conversation)).text)
            for kind in kinds:
                form = {"kind": kind, "text": f"{kind} from the inbox", "payload": "yes", "_csrf_token": token}
                answer = await inbox.post(f"{conversation}/reply", data=form)
                assert answer.status_code == 303, (channel, kind, answer.text)
                shown = await inbox.get(answer.headers["location"])
                assert "The user&#39;s message was sent." in shown.text, (channel, kind, shown.text)
            stored = (await api.get("/api/v1/Messages", params={"destination": user, "direction": "inbound"})).json()
            types = [m["content"]["type"] for m in stored["items"][1:]]
            assert types == list(kinds.values()), (channel, stored["items"])
            shown = await inbox.get(conversation)
            expected = {  # each as its kind, with what tells it apart
                "text": "text from the inbox",
                "media": "[image] media from the inbox",
                "location": f"[location] {UserReply().latitude}, {UserReply().longitude}",
                "button": "[postback] ",  # a title where the channel shows one, else the data
            }
            for kind in kinds:
                assert expected[kind] in shown.text, (channel, kind)
    finally:
        await inbox.aclose()


async def test_a_webhook_delivery_is_replayed_from_the_inbox(page: Any, api: Any, gateway: Any) -> None:
    catcher = (await api.post("/api/v1/sandbox/catchers")).json()  # a receiver of the gateway's own
    webhook = await api.post(
        "/api/v1/Webhook",
        json={
            "url": catcher["url"],
            "webhookTriggers": ["Delivered"],
            "description": "inbox browser test",
            "linkTrafficAccountIds": [gateway.traffic_accounts["sms"]],
        },
    )
    assert webhook.status_code == 201, webhook.text
    try:
        sent = await api.post(
            "/api/v1/Message/send",
            json={
                "trafficAccountId": gateway.traffic_accounts["sms"],
                "destination": unique_destination(),
                "sms": {"text": "Deliver me twice", "sender": "MITTO SMS"},
            },
        )
        assert sent.status_code == 200, sent.text
        message_id = sent.json()["messageId"]
        await sign_in(page, gateway)
        await page.goto("/inbox/webhooks")
        section = page.locator(f"[data-webhook='{webhook.json()['id']}']")
        delivery = section.locator("tr", has_text=message_id)
        for _ in range(50):  # the delivery is made once the message is Delivered (about 0.1 s)
            if await delivery.count() and "succeeded" in await delivery.inner_text():
                break
            await page.wait_for_timeout(200)
            await page.reload()
        await expect(delivery.locator(".delivery")).to_have_text("succeeded")
        await expect(delivery).to_contain_text("1 attempt(s)")

        await delivery.get_by_role("button", name="Replay").click()
        await expect(page.locator(".notice")).to_have_text("The event is queued for delivery again.")
        for _ in range(50):
            if "2 attempt(s)" in await delivery.inner_text():
                break
            await page.wait_for_timeout(200)
            await page.reload()
        await expect(delivery).to_contain_text("2 attempt(s)")
        await delivery.get_by_text("2 attempt(s)").click()
        await expect(delivery.locator(".attempts b").first).to_have_text("200")
        received = (await api.get(f"/api/v1/sandbox/catchers/{catcher['id']}/requests")).json()["items"]
        assert len(received) == 2 and all(r["signatureVerified"] for r in received), received
    finally:
        await api.delete(f"/api/v1/Webhook/{webhook.json()['id']}", params={"forceDelete": "true"})
