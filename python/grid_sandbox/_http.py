"""What the sync and async transports share on top of httpx: building a request from a
:class:`Call` and classifying httpx's errors."""

from __future__ import annotations

from typing import Any, Dict, Optional

import httpx

from ._protocol import Call
from .errors import TransportError

# Failures before any byte of the request left: always safe to try again.
UNSENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The most of an error answer's body that is read.
MAX_ERROR_BODY = 64 << 10


def client_headers(token: Optional[str], user_agent: str) -> Dict[str, str]:
    headers = {"User-Agent": user_agent, "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def timeout_for(call: Call, default: Optional[float]) -> httpx.Timeout:
    if call.read_timeout == "default":
        return httpx.Timeout(default)
    return httpx.Timeout(default, read=call.read_timeout)  # type: ignore[arg-type]


def request_kwargs(call: Call, default_timeout: Optional[float]) -> Dict[str, Any]:
    """Arguments of httpx's build_request for the call, except the body source's stream."""
    kwargs: Dict[str, Any] = {"params": call.params, "headers": dict(call.headers),
                              "timeout": timeout_for(call, default_timeout)}
    if call.json is not None:
        kwargs["json"] = call.json
    elif isinstance(call.body, (bytes, bytearray)):
        kwargs["content"] = bytes(call.body)
    elif call.body is not None:
        kwargs["headers"]["Content-Length"] = str(call.body.length)
    return kwargs


def transport_error(call: Call, error: Exception) -> TransportError:
    kind = type(error).__name__
    return TransportError(f"{kind}: {error}", method=call.method, path=call.path)
