"""Every chaos scenario's short form (`python -m chaos --short`), one test each.

The scenarios are discovered in `chaos/scenarios/`, so a new one is tested here without a
line changed. Each runs on the chaos suite's own Kafka and PostgreSQL (chaos/infra.py), never
on the tests' infra: some restart brokers and databases. That infra is wiped and started for
this module when it is not running, and stopped after. `make chaos` runs the full forms.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from types import ModuleType

import pytest

from chaos.__main__ import all_scenarios
from chaos.infra import ChaosInfra

SCENARIOS = all_scenarios()


@pytest.fixture(scope="module")
def chaos_infra() -> Iterator[ChaosInfra]:
    infra = ChaosInfra()
    started_here = not infra.running()
    if started_here:
        infra.reset()
        infra.up()
    try:
        yield infra
    finally:
        if started_here:
            infra.down()


@pytest.mark.timeout(900)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS), ids=str)
def test_given_the_short_form_of_a_chaos_scenario_then_every_rule_holds(
    scenario: str, chaos_infra: ChaosInfra
) -> None:
    module: ModuleType = SCENARIOS[scenario]
    # Its own event loop: a scenario is a program of its own (`python -m chaos`), not a fixture.
    result = asyncio.run(module.run(True))
    print(f"\nchaos {scenario} (short): {json.dumps(result.figures, default=str)}")
    assert result.form == "short"
    assert result.figures, f"{scenario} measured nothing"
    assert result.passed, f"{scenario}: {result.failures}; figures {result.figures}"
