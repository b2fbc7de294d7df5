"""Where a webhook may go: never into the network Tally itself runs in.

An account chooses its own `webhook_url`, so without a check a customer could have the
notifications service POST to addresses only it can reach: the databases, the other services'
internal APIs, a cloud's metadata endpoint (server-side request forgery). Outside development
and test, every address the URL's host resolves to must be public (`ipaddress`'s `is_global`:
not loopback, private, link-local, shared, reserved or multicast), checked right before each
POST. A refused destination fails the delivery for good, with the reason in its log.

The window that remains is DNS rebinding: a name that resolves to a public address for this
check and to a private one a moment later, when httpx connects. Closing it means connecting
to the checked address itself (an httpx transport that pins it), which is not done yet.
"""

import asyncio
import ipaddress
import socket

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationRefused(Exception):
    """The webhook's host is, or resolves to, an address that is not public."""


async def require_public(url: str) -> None:
    """Raise DestinationRefused unless every address of `url`'s host is public."""
    parsed = httpx.URL(url)
    host = parsed.host
    if not host:
        raise DestinationRefused(f"webhook_url {url!r} has no host")
    for address in await _addresses(host, parsed.port or (443 if parsed.scheme == "https" else 80)):
        if not address.is_global:
            raise DestinationRefused(
                f"webhook_url host {host} is not a public address ({address});"
                " webhooks never go to loopback, private or link-local networks"
            )


async def _addresses(host: str, port: int) -> set[IPAddress]:
    try:
        return {ipaddress.ip_address(host)}
    except ValueError:
        pass  # a name, not a literal address
    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # An IPv6 answer can carry a scope ("fe80::1%eth0"), which ip_address does not take.
    return {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found}
