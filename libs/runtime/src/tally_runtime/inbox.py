"""The inbox: the record of which messages a consumer has already applied."""

from tally_runtime.database import Connection


async def first_delivery(conn: Connection, consumer: str, message_id: str) -> bool:
    """Record `message_id` for `consumer`; False when it was recorded before (a redelivery).

    Call it inside the transaction that applies the message, so the record and the state
    change commit or roll back together.
    """
    status = await conn.execute(
        "INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        consumer,
        message_id,
    )
    return bool(status == "INSERT 0 1")
