"""The API documentation pages work with no internet access: everything they load is the gateway's."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import assert_no_external_requests


async def test_the_redoc_page_renders_from_the_gateway_alone(page: Any) -> None:
    answer = await page.goto("/schema")
    assert answer is not None and answer.ok, answer
    # Rendered by Redoc's script from the OpenAPI document: the title, and an operation from the sidebar.
    await expect(page.locator("h1").first).to_contain_text("Omnichannel gateway")
    await expect(page.get_by_role("menuitem").filter(has_text="Send a message").first).to_be_visible()
    await page.wait_for_load_state("networkidle")
    assert_no_external_requests(page)


async def test_the_swagger_page_renders_from_the_gateway_alone(page: Any) -> None:
    answer = await page.goto("/schema/swagger")
    assert answer is not None and answer.ok, answer
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Omnichannel gateway")
    await expect(page.locator(".opblock-summary-description").filter(has_text="Send a message").first).to_be_visible()
    await page.wait_for_load_state("networkidle")
    assert_no_external_requests(page)
