"""The `tally` command line."""


def main() -> None:
    raise SystemExit("tally: not built yet")
