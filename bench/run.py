"""`python -m bench.run [--quick]`: measure Tally on this machine; see bench/README.md.

Starts the local Kafka and PostgreSQL if needed, does the runs (`bench.one_run`), and writes
bench/report.json, report.md and report.png with the medians of the runs, each figure against
its bar (`bench.report`).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.one_run import Run, log
from bench.processes import infra_up
from bench.settings import (
    FULL,
    OUT_DIR,
    QUICK,
    RUN_DIR,
    TRACE_SAMPLE_RATIO,
    Sizes,
    Target,
    describe,
    machine,
)


async def main(sizes: Sizes, quick: bool) -> dict[str, Any]:
    target, host = Target.from_environment(), machine()
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    runs = []
    for number in range(1, sizes.runs + 1):
        runs.append(await Run(number, sizes, target).execute())
    figures, memory = report.aggregate(runs)
    return {
        # The keys, as medians over the runs (null: not measured; `figures` says why).
        **{key: figure["value"] for key, figure in figures.items()},
        "rating_lag_growing": any(r["pipeline"]["rating_lag_growing"] for r in runs),
        "rss_mb_start": memory["rss_mb_start"],
        "rss_mb_end": memory["rss_mb_end"],
        "quick": quick,
        "finished_at": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "machine": host,
        "trace_sample_ratio": float(TRACE_SAMPLE_RATIO),
        "runs_requested": sizes.runs,
        "runs_completed": len(runs),
        "sizes": describe(sizes),
        "figures": figures,
        "memory": memory,
        "notes": [f"run {run['run']}: {note}" for run in runs for note in run["notes"]],
        "runs": runs,
    }


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short run, smaller sizes")
    parser.add_argument("--runs", type=int, help="override the number of runs")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where report.* go")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    if args.runs:
        sizes = replace(sizes, runs=args.runs)
    Target.from_environment()  # refuse anything but 127.0.0.1 before starting anything
    infra_up()  # leaves servers named by KAFKA_BOOTSTRAP / DATABASE_URL alone
    shutil.rmtree(RUN_DIR, ignore_errors=True)  # logs and traces of the previous bench only
    try:
        result = asyncio.run(main(sizes, args.quick))
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted: no report written; every process the bench started is stopped")
        return 130
    args.out.mkdir(parents=True, exist_ok=True)
    report.write_json(args.out / "report.json", result)
    report.write_markdown(args.out / "report.md", result)
    report.write_plot(args.out / "report.png", result["runs"])
    log(f"wrote {args.out}/report.json, report.md, report.png")
    print((args.out / "report.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(cli())
