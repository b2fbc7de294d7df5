"""Named crash points, so tests can kill a process exactly where recovery matters."""

import os
import signal

from tally_runtime.settings import ServiceSettings

AFTER_DB_COMMIT = "after-db-commit"
"""A batch's state change is committed in PostgreSQL but its Kafka offsets are not yet."""


def armed(point: str, topic: str) -> str:
    """The `failpoint` setting that fires at `point` for batches of `topic` only."""
    return f"{point}:{topic}"


def crash_if_armed(settings: ServiceSettings, point: str, topic: str) -> None:
    """Kill this process with SIGKILL when `settings.failpoint` names this point and topic."""
    if settings.failpoint == armed(point, topic):
        os.kill(os.getpid(), signal.SIGKILL)
