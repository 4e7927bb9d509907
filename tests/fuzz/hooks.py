"""Schemathesis hooks of the fuzz run (the CLI loads them through SCHEMATHESIS_HOOKS).

Callbacks to the fuzz tenant's own accounts are signed as their provider signs them, with the account's
credential, so that the fuzzer's payloads reach the parsers behind the signature check; other accounts'
callbacks (and unsigned parts of the run) still meet the 401.
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis
from schemathesis.core import NOT_SET

from channels.gbm.callbacks import SIGNATURE_HEADER as GBM_HEADER
from channels.gbm.callbacks import signature as gbm_signature
from channels.viber.callbacks import SIGNATURE_HEADER as VIBER_HEADER
from channels.viber.callbacks import signature as viber_signature
from channels.whatsapp.callbacks import SIGNATURE_HEADER as WHATSAPP_HEADER
from channels.whatsapp.callbacks import signature as whatsapp_signature

SIGNING_ENV = "GATEWAY_FUZZ_SIGNING"  # {"viber": [account id, key], ...}, set by the test
SIGNERS = {
    "viber": (VIBER_HEADER, viber_signature),
    "whatsapp": (WHATSAPP_HEADER, whatsapp_signature),
    "gbm": (GBM_HEADER, gbm_signature),
}


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    signing = json.loads(os.environ.get(SIGNING_ENV, "{}"))
    channel = case.operation.path.split("/")[2] if case.operation.path.startswith("/callbacks/") else None
    if channel not in SIGNERS or channel not in signing or case.method.upper() != "POST" or case.body is NOT_SET:
        return
    account_id, key = signing[channel]
    if (case.path_parameters or {}).get("account_id") != account_id:
        return
    # Schemathesis may generate raw bytes (a body that is no JSON); they are signed as they are.
    body = case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()
    header, sign = SIGNERS[channel]
    kwargs["data"] = body
    case.headers = {**(case.headers or {}), header: sign(key, body), "Content-Type": "application/json"}
