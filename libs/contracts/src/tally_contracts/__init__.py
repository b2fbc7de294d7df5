"""Tally's contracts: topic names, the event envelope and every event schema (pydantic only)."""
