"""Named crash points, so tests can kill a process exactly where recovery matters."""

import os
import signal

from tally_runtime.settings import ServiceSettings

AFTER_DB_COMMIT = "after-db-commit"
"""The state change is committed in PostgreSQL but the Kafka offset is not yet committed."""


def crash_if_armed(settings: ServiceSettings, name: str) -> None:
    """Kill this process with SIGKILL when `settings.failpoint` names this point."""
    if settings.failpoint == name:
        os.kill(os.getpid(), signal.SIGKILL)
