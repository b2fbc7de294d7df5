"""`python -m tally_notifications`: serve the HTTP API and the consumers in one process."""

import uvicorn

from tally_notifications.app import create_app
from tally_notifications.config import NotificationsSettings

settings = NotificationsSettings()
uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port)
