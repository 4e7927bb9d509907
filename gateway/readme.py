"""The README's part made from the registered channels: for every channel its limits and a complete send
request per message type (``Channel.limits``, ``Channel.examples``). ``make openapi`` writes it between
the README's markers; a test fails when it is stale, and sends every request it shows."""

from __future__ import annotations

import json

from channels.registry import all_channels
from gateway.api.templates import TemplateController
from gateway.messages.requests import EXAMPLE_ACCOUNT, examples

TEMPLATES = TemplateController.path.rsplit("/", 1)[1]
BEGIN = "<!-- channel-messages: made by `make openapi` from the channels' examples and limits -->"
END = "<!-- channel-messages: end -->"


def channel_messages() -> str:
    """The Markdown between the markers."""
    shown: dict[str, list[tuple[str, str]]] = {}
    for example in examples():
        body = json.dumps(example.request, indent=2, ensure_ascii=False)
        shown.setdefault(example.channel, []).append((example.message_type, f"```json\n{body}\n```\n"))
    parts = [
        f"Each request below is sent as it stands by the test suite (with `{EXAMPLE_ACCOUNT}` replaced by a "
        "sandbox traffic account of the channel).\n"
    ]
    for name, channel in all_channels().items():
        rows = "".join(f"| `{field}` | {limit} |\n" for field, limit in channel.limits)
        requests = "".join(f"`{message_type}`:\n\n{body}\n" for message_type, body in shown.get(name, []))
        summary = ", ".join(message_type for message_type, _ in shown.get(name, []))
        for template, body in channel.template_examples.items():
            path = f"/api/v1/trafficAccounts/{EXAMPLE_ACCOUNT}/{TEMPLATES}/{template}"
            requests += (
                f"A template message sends a stored, approved template; the test suite first stores `{template}` "
                f"with `POST {path}`:\n\n```json template={template}\n{json.dumps(body, indent=2, ensure_ascii=False)}\n```\n\n"
            )
        parts.append(
            f"#### `{channel.block_key or name}`\n\n| field | limit |\n| --- | --- |\n{rows}\n"
            f"<details><summary>The requests: {summary}</summary>\n\n{requests}</details>\n"
        )
    return "\n".join(parts)


def updated(readme: str) -> str:
    """``readme`` with its generated part made anew."""
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{channel_messages()}{END}{tail}"
