"""`python -m tally_gateway`: serve the public REST API."""

import uvicorn

from tally_gateway.app import create_app
from tally_gateway.config import Settings

settings = Settings()
uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port)
