"""Tally's producer SDK: validate usage with the contract models, batch it, publish it.

- `UsageClient`: over the gateway's HTTP API (account SID + auth token or API key).
- `KafkaUsagePublisher`: straight onto `usage.events.v1`.
- `OpsClient`: snapshots, billing runs, parked records (ops key).
- `send_usage`, `usage_receipts`, `publish_usage`: blocking versions for scripts.

Every `send` answers one `Ack` per event given, in order: `accepted`, `invalid` (refused by
the SDK, never sent, naming the field), `rejected` (refused by Tally) or `failed` (send again:
the event id makes it safe).
"""

from tally_contracts.usage import UsageEvent

from tally_sdk.acks import Ack, AckStatus
from tally_sdk.errors import TallyApiError, TallyError, TallyUnavailable
from tally_sdk.events import InvalidUsageEvent, validate_event
from tally_sdk.http_client import Receipt, UsageClient
from tally_sdk.kafka_publisher import KafkaUsagePublisher
from tally_sdk.ops_client import OpsClient
from tally_sdk.retry import RetryPolicy
from tally_sdk.sync import publish_usage, send_usage, usage_receipts

__all__ = [
    "Ack",
    "AckStatus",
    "InvalidUsageEvent",
    "KafkaUsagePublisher",
    "OpsClient",
    "Receipt",
    "RetryPolicy",
    "TallyApiError",
    "TallyError",
    "TallyUnavailable",
    "UsageClient",
    "UsageEvent",
    "publish_usage",
    "send_usage",
    "usage_receipts",
    "validate_event",
]
