"""Exceptions raised by the SDK.

Every error the server answers is ``{"error": "<sentence>", "code": "<token>"}`` with a 4xx/5xx
status. It becomes an instance of the class registered for its ``code`` (or, for a code this
version does not know, the class of its status), all subclasses of :class:`GridError`, so a
caller catches as broadly or as narrowly as it likes::

    try:
        client.get("nope")
    except NotFound as e:
        print(e.code, e.status, e.message)   # not_found 404 no sandbox 'nope'
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Type


class GridError(Exception):
    """An error from the Grid server or from talking to it.

    ``code`` is the server's token (``not_found``, ``conflict``, ...), ``status`` the HTTP status
    (``None`` when no answer arrived), ``message`` the server's sentence, ``body`` the whole JSON
    error object (e.g. ``exit_code`` and ``output`` of ``setup_failed``).
    """

    code: str = "error"

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        status: Optional[int] = None,
        body: Optional[Dict[str, Any]] = None,
        method: Optional[str] = None,
        path: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.status = status
        self.body = body or {}
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        status = f"{self.status} " if self.status is not None else ""
        return f"{where}{status}{self.code}: {self.message}"


class InvalidArgument(GridError):
    """400 ``invalid_argument``: bad JSON, a missing or mistyped field, a bad path."""

    code = "invalid_argument"


class Unsupported(GridError):
    """400 ``unsupported``: a feature the backend does not offer."""

    code = "unsupported"


class SetupFailed(GridError):
    """400 ``setup_failed``: the sandbox's setup commands failed (``exit_code``, ``output``)."""

    code = "setup_failed"

    @property
    def exit_code(self) -> Optional[int]:
        return self.body.get("exit_code")

    @property
    def output(self) -> str:
        return self.body.get("output", "")


class Unauthorized(GridError):
    """401 ``unauthorized``: missing or wrong bearer token."""

    code = "unauthorized"


class NotFound(GridError):
    """404 ``not_found``: unknown sandbox, process, path or route."""

    code = "not_found"


class ImageNotFound(NotFound):
    """404 ``image_not_found``: the backend does not have the image."""

    code = "image_not_found"


class MethodNotAllowed(GridError):
    """405 ``method_not_allowed``."""

    code = "method_not_allowed"


class RequestTimeout(GridError):
    """408 ``request_timeout``: the request was not sent in time."""

    code = "request_timeout"


class Conflict(GridError):
    """409 ``conflict``: wrong state (exec before start, a directory where a file is wanted)."""

    code = "conflict"


class SandboxExpired(Conflict):
    """409 ``sandbox_expired``: the sandbox was ended by its ttl or idle timeout
    (docs/lifetimes.md); a Conflict, so ``except Conflict`` catches it too."""

    code = "sandbox_expired"


class LengthRequired(GridError):
    """411 ``length_required``: an upload without Content-Length."""

    code = "length_required"


class PayloadTooLarge(GridError):
    """413 ``request_body_too_large``: a body or upload above the server's limit."""

    code = "request_body_too_large"


class NoSpace(GridError):
    """413 ``no_space``: the sandbox's disk or quota is full."""

    code = "no_space"


class UpgradeRequired(GridError):
    """426 ``upgrade_required``: GET /sandboxes/{id}/pty without a WebSocket handshake."""

    code = "upgrade_required"


class ResourceExhausted(GridError):
    """429 ``resource_exhausted``: too many sandbox records or background processes."""

    code = "resource_exhausted"


class HeaderTooLarge(GridError):
    """431 ``request_header_too_large``."""

    code = "request_header_too_large"


class InternalError(GridError):
    """500 ``internal``."""

    code = "internal"


class Unavailable(GridError):
    """503 ``unavailable``: no free slot in time, or the engine is unreachable."""

    code = "unavailable"


class ServerTimeout(GridError):
    """504 ``timeout``: an engine call (or a file transfer) timed out."""

    code = "timeout"


class TransportError(GridError):
    """No (complete) answer: the server could not be reached or the connection broke."""

    code = "transport"


class StreamBroken(TransportError):
    """A streamed answer ended without its final event (the server went away)."""

    code = "stream_broken"


_BY_CODE: Dict[str, Type[GridError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument, Unsupported, SetupFailed, Unauthorized, NotFound, ImageNotFound,
        MethodNotAllowed, RequestTimeout, Conflict, SandboxExpired, LengthRequired,
        PayloadTooLarge, NoSpace, UpgradeRequired, ResourceExhausted, HeaderTooLarge,
        InternalError, Unavailable, ServerTimeout,
    )
}

_BY_STATUS: Dict[int, Type[GridError]] = {
    400: InvalidArgument, 401: Unauthorized, 404: NotFound, 405: MethodNotAllowed,
    408: RequestTimeout, 409: Conflict, 411: LengthRequired, 413: PayloadTooLarge,
    426: UpgradeRequired, 429: ResourceExhausted, 431: HeaderTooLarge, 500: InternalError,
    503: Unavailable, 504: ServerTimeout,
}


def error_class(code: Optional[str], status: Optional[int]) -> Type[GridError]:
    """The class for a server error: by its code, else by its status, else GridError."""
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return GridError


def error_from_body(
    status: Optional[int],
    body: Any,
    *,
    method: Optional[str] = None,
    path: Optional[str] = None,
    fallback_message: str = "",
) -> GridError:
    """The exception for an error answer (or an NDJSON ``error`` event) with this JSON body."""
    if isinstance(body, dict):
        code = body.get("code") if isinstance(body.get("code"), str) else None
        message = body.get("error") if isinstance(body.get("error"), str) else fallback_message
        data = body
    else:
        code, message, data = None, fallback_message, {}
    cls = error_class(code, status)
    return cls(message or f"HTTP {status}", code=code or cls.code, status=status, body=data,
               method=method, path=path)
