"""The server's and the sandbox's app factories keep their startup objects out of the garbage collector's
walks (gateway.lib.gc_tuning): a full collection over them stopped the event loop for 70-140 ms under load."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gateway.lib.gc_tuning import THRESHOLDS

PROBE = """
import gc, json, gateway.cli
before = gc.get_freeze_count()
app = getattr(gateway.cli, {factory!r})()
print(json.dumps({{"before": before, "frozen": gc.get_freeze_count(), "thresholds": gc.get_threshold()}}))
"""


@pytest.mark.parametrize("factory", ["server_app", "sandbox_app"])
def test_the_app_factories_freeze_what_startup_built(factory, tmp_path):
    # In a process of its own: frozen objects stay frozen, and the test process must not be.
    env = {**os.environ, "GATEWAY_DATA_DIR": str(tmp_path), "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/db"}
    run = subprocess.run(
        [sys.executable, "-c", PROBE.format(factory=factory)], env=env, capture_output=True, text=True, check=True
    )
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["before"] == 0
    assert found["frozen"] > 50_000  # the modules and the app: most of a started process's objects
    assert tuple(found["thresholds"]) == THRESHOLDS
