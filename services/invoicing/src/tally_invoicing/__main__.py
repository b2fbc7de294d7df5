"""`python -m tally_invoicing`: serve the HTTP API and the consumers in one process."""

import uvicorn

from tally_invoicing.app import create_app
from tally_invoicing.config import InvoicingSettings

settings = InvoicingSettings()
uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port)
