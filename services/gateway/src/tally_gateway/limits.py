"""The largest request body the gateway reads: anything larger is refused before parsing."""

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tally_runtime.problems import ProblemError, problem_response


class LimitBodySize:
    """Refuses a body above `max_bytes` with a 413 problem, unread when its size is declared.

    A body sent without `Content-Length` (chunked) is counted as it arrives and refused at
    the first byte too many, so nothing larger is ever held in memory or parsed.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await problem_response(self._too_large().problem)(scope, receive, send)
            return
        received = 0

        async def receive_counting() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise self._too_large()  # answered by the app's problem handlers
            return message

        await self.app(scope, receive_counting, send)

    def _too_large(self) -> ProblemError:
        detail = f"the gateway reads at most {self.max_bytes} bytes"
        return ProblemError(413, "Request body too large", detail=detail)
