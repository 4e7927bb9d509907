"""SMS through the SMS HTTP API (seeds 001 and 004)."""

import datetime

from channels.base import Channel, SettingsSpec
from channels.sms import compatible
from channels.sms.adapter import DEFAULT_BASE_URL, send
from channels.sms.blocks import BLOCK, EXAMPLES, LIMITS, message_parts
from channels.sms.callbacks import delivery_report, delivery_report_query, inbound_sms, inbound_sms_query
from channels.sms.sandbox import FAILURES, send_sms, user_sends_sms


def validity(block: dict) -> datetime.timedelta | None:
    """The SMS API's ``validity`` is in minutes (seed 004)."""
    return datetime.timedelta(minutes=block["validity"]) if block.get("validity") else None


def text_of(block: dict) -> str | None:
    """The text of a text SMS (a Binary one's is hex)."""
    return None if str(block.get("type", "")).lower() == "binary" else block.get("text")


channel = Channel(
    name="sms",
    settings=SettingsSpec(
        public=("phoneNumber", *compatible.SETTINGS),
        credentials=("apiKey",),
        optional=("phoneNumber", *compatible.SETTINGS),
        typed=compatible.TYPED_SETTINGS,
    ),
    setting_problem=compatible.setting_problem,
    default_send_rate=100.0,
    receipts=("Delivered",),  # delivery reports only, never Read
    reports_by_provider_id=False,  # each report names ours through its callback token
    block_shape=BLOCK,
    examples=EXAMPLES,
    limits=LIMITS,
    message_parts=message_parts,
    validity=validity,
    send=send,
    default_base_url=DEFAULT_BASE_URL,
    callback_routes=(delivery_report, delivery_report_query, inbound_sms, inbound_sms_query),
    inbound_callback_suffix="/inbound",
    sandbox_routes=(send_sms, user_sends_sms),
    sandbox_failures=FAILURES,
    account_addresses=(("phoneNumber", "phoneNumber"),),  # the number users text (2-way SMS)
    text_of=text_of,
    # The SMS HTTP API served to customers (issue 20).
    compatible_routes=compatible.ROUTES,
    compatible_report=compatible.report,
    compatible_inbound_target=compatible.inbound_target,
    compatible_inbound=compatible.inbound,
)
