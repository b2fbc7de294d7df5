"""One module per scenario: `NAME`, `BAR`, `async def run(short: bool) -> ScenarioResult`.

`python -m chaos` finds them here; a scenario brings up and tears down what it needs.
"""
