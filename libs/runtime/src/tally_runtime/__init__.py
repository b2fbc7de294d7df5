"""Plumbing shared by Tally's services: settings, telemetry, Kafka, PostgreSQL, inbox, outbox."""
