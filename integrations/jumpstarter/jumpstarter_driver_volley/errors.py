"""Errors of the Volley driver, and how they cross Jumpstarter's gRPC transport.

The classes are the ones the Jumpstarter TFTP documentation names: `TftpError` (the base),
`ServerNotRunning` and `FileNotFound`, and `TransferFailed` and `TransferTimeout` of
`wait_for_transfer`. They subclass the stock driver's classes
(`jumpstarter_driver_tftp.driver.TftpError` and `.ServerNotRunning`), so code written
against the stock driver (`except TftpError`) keeps catching them. `FileNotFound`, which the
stock 0.9.0 package no longer ships, is also a `FileNotFoundError`. `HttpServerError`, of
the HTTP driver, subclasses `jumpstarter_driver_http.driver.HttpServerError` the same way.

Jumpstarter turns any exception raised by a driver call into a generic `DriverError` on
the client, whose message is `str(exception)`. While the driver answers a remote call,
`str()` of these errors is prefixed with a tag naming the class (`[volley:FileNotFound]
...`); `error_from_message` on the client side reads the tag back so the client raises the
same class with the original message. Used directly (no exporter), they print as usual.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar

import jumpstarter_driver_http.driver as _stock_http
import jumpstarter_driver_tftp.driver as _stock

_answering_remote_call: ContextVar[bool] = ContextVar("volley_answering_remote_call", default=False)
_TAG = re.compile(r"\[volley:(?P<name>[A-Za-z_][A-Za-z0-9_]*)\] (?P<message>.*)\Z", re.DOTALL)


class _Tagged(Exception):
    """An error whose `str()` names its class while the driver answers a remote call."""

    def __str__(self) -> str:
        message = " ".join(str(a) for a in self.args)
        if _answering_remote_call.get():
            return f"[volley:{type(self).__name__}] {message}"
        return message


class TftpError(_Tagged, _stock.TftpError):
    """Base exception for TFTP server errors"""


class ServerNotRunning(TftpError, _stock.ServerNotRunning):
    """Server is not running"""


class FileNotFound(TftpError, FileNotFoundError):
    """File not found"""


class TransferFailed(TftpError):
    """A transfer that wait_for_transfer waited for ended without delivering the file"""


class TransferTimeout(TftpError, TimeoutError):
    """wait_for_transfer saw no transfer of the file end in time"""


class HttpServerError(_Tagged, _stock_http.HttpServerError):
    """Base exception for HTTP server errors"""


ERRORS: dict[str, type[Exception]] = {
    cls.__name__: cls
    for cls in (TftpError, ServerNotRunning, FileNotFound, TransferFailed, TransferTimeout, HttpServerError)
}


@contextmanager
def answering_remote_call():
    """Within this block, `str()` of the errors above carries their class name."""
    token = _answering_remote_call.set(True)
    try:
        yield
    finally:
        _answering_remote_call.reset(token)


class TagsRemoteErrors:
    """Driver mixin: while it answers a remote call, its errors carry their class name across."""

    async def DriverCall(self, request, context):
        """:meta private: answer a remote call; our errors carry their class name across."""
        with answering_remote_call():
            return await super().DriverCall(request, context)


def error_from_message(message: str) -> Exception | None:
    """The driver error a client-side error message carries, if it carries one."""
    index = message.find("[volley:")
    if index < 0:
        return None
    match = _TAG.match(message[index:])
    if match is None:
        return None
    cls = ERRORS.get(match.group("name"), TftpError)
    return cls(match.group("message"))
