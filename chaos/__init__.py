"""Tally's chaos suite (`make chaos`): QUALITY.md's reliability table, run on the real stack.

Each scenario in `chaos.scenarios` drives the real system, keeps a history of what producers
were acknowledged, and checks it offline against what the services stored (Jepsen-style
checkers). `python -m chaos` runs them and writes `chaos/report.json` and `chaos/report.md`.
"""
