"""Typed exceptions built from ``mlrc_error_last()`` (codes mirror ``mlrc_error_code``)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Type

# Error codes, as in capi/include/mlrcopilot.h (append only; values never change).
OK = 0
EINVALID = -1
ECONFIG = -2
EIO = -3
ENETWORK = -4
ETLS = -5
ETIMEOUT = -6
ECANCELLED = -7
EHTTP = -8
EAUTH = -9
ERATELIMIT = -10
ESERVER = -11
EPROTOCOL = -12
EPROVIDER = -13
EBUDGET = -14
ENOTFOUND = -15
EUNSUPPORTED = -16
EPARSE = -17
EINTERNAL = -18
EDONE = -19
EUSER = -100


class MlrcError(Exception):
    """Base class: ``code`` (negative MLRC_E* value), ``message``, ``provider_text``.

    ``result`` holds the RunSummary dict when a run failed but still produced one (e.g. cancelled).
    """

    code: int = EINTERNAL

    def __init__(self, code: int, message: str, provider_text: str = "",
                 result: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.provider_text = provider_text
        self.result = result

    def __str__(self) -> str:
        text = f"{self.message} (code {self.code})"
        if self.provider_text:
            text += f"; provider said: {self.provider_text}"
        return text


class InvalidArgument(MlrcError, ValueError):
    code = EINVALID


class HandleClosedError(InvalidArgument):
    """A method was called on a handle after ``close()``."""


class ConfigError(MlrcError):
    code = ECONFIG


class MlrcIOError(MlrcError):
    code = EIO


class NetworkError(MlrcError):
    code = ENETWORK


class TLSError(NetworkError):
    code = ETLS


class Timeout(MlrcError):
    code = ETIMEOUT


class Cancelled(MlrcError):
    code = ECANCELLED


class HTTPError(MlrcError):
    code = EHTTP


class AuthError(HTTPError):
    code = EAUTH


class RateLimitError(HTTPError):
    code = ERATELIMIT


class ServerError(HTTPError):
    code = ESERVER


class ProtocolError(MlrcError):
    code = EPROTOCOL


class ProviderError(MlrcError):
    code = EPROVIDER


class BudgetExceeded(MlrcError):
    code = EBUDGET


class NotFound(MlrcError, LookupError):
    code = ENOTFOUND


class Unsupported(MlrcError):
    code = EUNSUPPORTED


class ParseError(MlrcError, ValueError):
    code = EPARSE


class InternalError(MlrcError):
    code = EINTERNAL


class Done(MlrcError):
    """The run has finished (mlrc_run_next_event / mlrc_run_cancel)."""
    code = EDONE


class UserError(MlrcError):
    """A Python callback (event or gate handler) raised; the original exception is ``__cause__``."""
    code = EUSER


_BY_CODE: Dict[int, Type[MlrcError]] = {
    cls.code: cls
    for cls in (InvalidArgument, ConfigError, MlrcIOError, NetworkError, TLSError, Timeout,
                Cancelled, HTTPError, AuthError, RateLimitError, ServerError, ProtocolError,
                ProviderError, BudgetExceeded, NotFound, Unsupported, ParseError, InternalError,
                Done, UserError)
}


def error_class(code: int) -> Type[MlrcError]:
    return _BY_CODE.get(code, MlrcError)


def make_error(code: int, message: str, provider_text: str = "",
               result: Optional[Dict[str, Any]] = None) -> MlrcError:
    return error_class(code)(code, message, provider_text, result)


__all__ = [name for name in dir() if name[0].isupper() and not name.startswith("_")] + [
    "error_class", "make_error"]
