"""`python -m tally_usage`: run the usage service."""

import uvicorn

from tally_usage.app import create_app
from tally_usage.config import UsageSettings

settings = UsageSettings()
uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port)
