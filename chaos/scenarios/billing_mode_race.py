"""The billing-mode race: the property-based test and the soak, on the chaos infra.

Both exist as tests (issue 9) and are run here as pytest subprocesses against the chaos
suite's own Kafka and PostgreSQL; their printed counts become this scenario's figures:

- `services/notifications/tests/integration/test_billing_mode_race.py`: a hypothesis
  `RuleBasedStateMachine` on the real notifications service and database, mode switches racing
  alerts delivered late, twice and out of order (5,000 examples in full);
- `tests/e2e/test_billing_mode_soak.py`: the whole system, accounts switched to invoiced while
  their balances cross thresholds (10,000 accounts in full): 0 forbidden notifications, 0 card
  charges of invoiced accounts, >= 99.9 % of legitimate alerts sent within 60 s.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.infra import ROOT, ChaosInfra
from chaos.report import ScenarioResult
from chaos.stack import LOG_ROOT

NAME = "billing_mode_race"
BAR = (
    "0 recharge, card-charge or suspension notifications and 0 card charges for an account"
    " invoiced when it was sent; >= 99.9 % of legitimate pay-as-you-go alerts sent"
)
PROPERTY_TEST = "services/notifications/tests/integration/test_billing_mode_race.py"
SOAK_TEST = "tests/e2e/test_billing_mode_soak.py"
SOAK_FIGURES = (
    "accounts",
    "switched",
    "forbidden_sent",
    "card_charges",
    "card_charges_of_invoiced",
    "legitimate_alerts",
    "legitimate_sent_within_60s",
    "legitimate_sent_within_60s_ratio",
    "legitimate_alerts_missing",
    "not_settled",
    "raced_s",
)


@dataclass(frozen=True)
class Sizes:
    examples: int
    accounts: int


FULL = Sizes(examples=5_000, accounts=10_000)
SHORT = Sizes(examples=20, accounts=20)


async def pytest_run(test: str, env: dict[str, str], log: Path) -> tuple[int, str]:
    """Run one test file with pytest (`-s`, so its counts are printed); its output is returned
    and kept in `log`, where a failure's traceback can be read."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-s",
        "--timeout",
        "0",
        "-p",
        "no:cacheprovider",
        test,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    await asyncio.to_thread(log.write_bytes, output)
    return int(process.returncode or 0), output.decode(errors="replace")


def property_counts(output: str) -> dict[str, int]:
    """The property test's `decisions by outcome (mode when decided): {...}` line."""
    found = re.search(r"decisions by outcome \(mode when decided\): (\{.*\})", output)
    return dict(ast.literal_eval(found.group(1))) if found else {}


def soak_figures(output: str) -> dict[str, Any]:
    """The JSON object the soak prints after `billing-mode soak (<path>):`."""
    marker = output.find("billing-mode soak (")
    if marker < 0:
        return {}
    start = output.find("{", marker)
    figures, _ = json.JSONDecoder().raw_decode(output[start:])
    return dict(figures)


def verdict_line(output: str) -> str:
    """pytest's last line (`1 passed in 12.3s` or the failure's summary)."""
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else ""


async def run(short: bool) -> ScenarioResult:
    sizes = SHORT if short else FULL
    result = ScenarioResult(NAME, BAR, "short" if short else "full")
    logs = LOG_ROOT / f"{NAME}-{uuid.uuid4().hex[:8]}"
    logs.mkdir(parents=True, exist_ok=True)
    infra = ChaosInfra()
    if not infra.running():
        await asyncio.to_thread(infra.up)
    env = infra.environment() | {
        "KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "DATABASE_URL": infra.postgres_url,
        "TALLY_CHAOS_EXAMPLES": str(sizes.examples),
        "TALLY_SOAK_ACCOUNTS": str(sizes.accounts),
    }
    code, output = await pytest_run(PROPERTY_TEST, env, logs / "property.log")
    counts = property_counts(output)
    result.figures |= {"property_examples": sizes.examples, "property_exit": code} | {
        f"property {k}": v for k, v in counts.items()
    }
    result.require(code == 0, f"property test failed: {verdict_line(output)}")
    result.require(bool(counts), "the property test printed no counts")
    result.notes.append(f"property test: {verdict_line(output)}")

    code, output = await pytest_run(SOAK_TEST, env, logs / "soak.log")
    figures = soak_figures(output)
    result.figures |= {"soak_exit": code} | {
        f"soak_{k}": figures[k] for k in SOAK_FIGURES if k in figures
    }
    result.require(code == 0, f"soak failed: {verdict_line(output)}")
    result.require(bool(figures), "the soak printed no figures")
    result.require(figures.get("forbidden_sent", 1) == 0, "forbidden notifications in the soak")
    result.require(
        figures.get("card_charges_of_invoiced", 1) == 0, "card charges of invoiced accounts"
    )
    result.notes.append(f"soak: {verdict_line(output)}")
    result.notes.append(f"pytest output: {logs.relative_to(ROOT)}/{{property,soak}}.log")
    return result
