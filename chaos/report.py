"""A scenario's outcome, and the report every run writes: JSON for machines, markdown for people."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPORT_DIR = Path(__file__).parent


@dataclass
class ScenarioResult:
    """What one scenario found: `figures` are exact counts, `failures` name each broken rule."""

    name: str
    bar: str
    form: str  # "full" or "short"
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def require(self, ok: bool, failure: str) -> None:
        """Record `failure` unless `ok`: a checker's rule, kept as data rather than an assert."""
        if not ok:
            self.failures.append(failure)


def seeded(name: str, bar: str, short: bool) -> tuple[ScenarioResult, int]:
    """A scenario's empty result and a fresh seed for its randomness, noted in the result, so
    that a failing run's report says which random choices led to it."""
    result = ScenarioResult(name, bar, "short" if short else "full")
    seed = random.SystemRandom().randrange(1 << 30)
    result.notes.append(f"seed {seed}")
    return result, seed


def write_report(results: list[ScenarioResult], directory: Path = REPORT_DIR) -> None:
    rows = [asdict(r) | {"passed": r.passed} for r in results]
    (directory / "report.json").write_text(json.dumps(rows, indent=2, default=str) + "\n")
    header = "| scenario | form | bar | result | figures |"
    lines = ["# Chaos report", "", header, "|---|---|---|---|---|"]
    for r in results:
        figures = ", ".join(f"{k} {v}" for k, v in r.figures.items())
        verdict = "pass" if r.passed else "FAIL: " + "; ".join(r.failures)
        lines.append(f"| {r.name} | {r.form} | {r.bar} | {verdict} | {figures} |")
    notes = [f"- {r.name}: {note}" for r in results for note in r.notes]
    if notes:
        lines += ["", "## Notes", "", *notes]
    (directory / "report.md").write_text("\n".join(lines) + "\n")
