"""`python -m tally_accounts`: serve the accounts API."""

import uvicorn

from tally_accounts.app import create_app
from tally_accounts.config import Settings

settings = Settings()
uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port)
