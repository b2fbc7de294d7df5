"""`python -m chaos [--short] [scenario ...]`: run the scenarios, print and write the report."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import sys
import traceback
from types import ModuleType

import click

from chaos import scenarios
from chaos.report import ScenarioResult, write_report


def all_scenarios() -> dict[str, ModuleType]:
    modules = (
        importlib.import_module(f"chaos.scenarios.{info.name}")
        for info in pkgutil.iter_modules(scenarios.__path__)
    )
    return {module.NAME: module for module in modules}


def run_one(module: ModuleType, short: bool) -> ScenarioResult:
    """Run a scenario; one that raises is a failed scenario, and the next ones still run."""
    try:
        result: ScenarioResult = asyncio.run(module.run(short))
    except Exception as error:
        result = ScenarioResult(module.NAME, module.BAR, "short" if short else "full")
        result.failures.append(f"the scenario itself failed: {type(error).__name__}: {error}")
        traceback.print_exc()
    return result


@click.command()
@click.option("--short", is_flag=True, help="the short forms `make test` runs")
@click.argument("names", nargs=-1)
def main(short: bool, names: tuple[str, ...]) -> None:
    known = all_scenarios()
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise click.BadParameter(f"unknown scenario(s) {unknown}; known: {sorted(known)}")
    results: list[ScenarioResult] = []
    for name in names or sorted(known):
        click.echo(f"chaos: {name} ({'short' if short else 'full'}) ...")
        result = run_one(known[name], short)
        results.append(result)
        click.echo(f"chaos: {name}: {'pass' if result.passed else 'FAIL'} {result.figures}")
        for failure in result.failures:
            click.echo(f"chaos:   {failure}")
    write_report(results)
    sys.exit(0 if all(r.passed for r in results) else 1)


if __name__ == "__main__":
    main()
