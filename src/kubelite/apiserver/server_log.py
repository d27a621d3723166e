"""aiohttp's server log, sorted: a client's doing at debug (and counted), the server's at ERROR.

aiohttp logs through `aiohttp.server`, at ERROR with a traceback, both what a client did (a
request it could not parse, which it answers 400 and closes: `BadHttpMessage`, `LineTooLong`,
...; a client that hung up while its answer was being written: `ConnectionResetError`) and what
went wrong in the server. Every scanner and every impatient client would then fill the log with
tracebacks, and real errors would drown in them. Go's http.Server, under kube-apiserver, says
nothing of a request it cannot parse (it answers 400) nor of a client gone, and kube-apiserver
logs TLS handshake errors at verbosity 5 and counts them. Here the client's doing is logged at
debug, in one line without a traceback, and counted in the API server's metrics; anything else,
an exception in a handler included, stays at ERROR with its traceback.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from kubelite.apiserver import metrics

AIOHTTP_SERVER_LOGGER = "aiohttp.server"

_ExcInfo = (
    BaseException | tuple[type[BaseException], BaseException, TracebackType | None] | bool | None
)


def client_fault(exc: BaseException | None) -> str | None:
    """The dropped-connection reason if `exc` is the client's doing, else None."""
    # RequestPayloadError: a body that is not what its headers say (a Content-Encoding it does
    # not decode, a chunk that does not parse), met while aiohttp drains a body its handler
    # left unread.
    if isinstance(exc, HttpProcessingError | RequestPayloadError):
        return metrics.MALFORMED_REQUEST
    if isinstance(exc, ConnectionError | asyncio.CancelledError):
        return metrics.CLIENT_DISCONNECT
    return None


def _exception(exc_info: _ExcInfo) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple):
        return exc_info[1]
    if exc_info:
        return sys.exc_info()[1]
    return None


class ServerLog(logging.LoggerAdapter[logging.Logger]):
    """The logger aiohttp's request handlers are given (`handler_args["logger"]`)."""

    def __init__(self, on_client_fault: Callable[[str], None]) -> None:
        super().__init__(logging.getLogger(AIOHTTP_SERVER_LOGGER), {})
        self._on_client_fault = on_client_fault

    def log(  # type: ignore[override]  # aiohttp passes exc_info as a keyword
        self,
        level: int,
        msg: object,
        *args: object,
        exc_info: _ExcInfo = None,
        **kwargs: Any,
    ) -> None:
        exc = _exception(exc_info)
        reason = client_fault(exc) if level > logging.DEBUG else None
        if reason is None:
            super().log(level, msg, *args, exc_info=exc_info, **kwargs)
            return
        self._on_client_fault(reason)
        if self.isEnabledFor(logging.DEBUG):
            self.logger.debug(f"{msg} (%s: %r)", *args, reason, exc, **kwargs)
