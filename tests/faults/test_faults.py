"""The fault suite's experiments (faults/, `make faults`), shorter: 360 sends each at 30/s, a 20 s
lease, kills every 3 s (faults.experiments.SHORT), asserting issue 14's targets. Each experiment
runs its own gateway (API, two workers, the counting fake provider) on private Postgres and Redis
servers started once for the module from the machine's server programs; missing programs fail the
run in CI and skip it elsewhere. Select them with `-m faults`, leave them out with `-m "not faults"`.
"""

from __future__ import annotations

import json

import pytest

from faults import services
from faults.experiments import EXPERIMENTS, SHORT, run
from tests.conftest import IN_CI

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def servers():
    try:
        services.check_programs()
    except services.ServersMissing as error:
        if IN_CI:
            pytest.fail(f"the fault suite needs Postgres and Redis server programs in CI: {error}")
        pytest.skip(f"the fault suite can't start its own servers: {error}")
    with services.postgres() as postgres, services.redis() as redis:
        yield postgres, redis


@pytest.mark.parametrize("name", list(EXPERIMENTS))
async def test_the_experiment_meets_the_targets(name, servers, tmp_path):
    experiment = EXPERIMENTS[name]
    figures = await run(experiment, SHORT, *servers, tmp_path)
    print(json.dumps(figures))
    seconds = SHORT.messages / (SHORT.rate * experiment.rate_factor)
    assert figures["fault moments"] == len(experiment.schedule(SHORT, seconds))
    assert figures["missed"] == [], json.dumps(figures, indent=1)
