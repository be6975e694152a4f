"""Exceptions raised by the spendguard client."""

from __future__ import annotations

from typing import Any, Mapping


class SpendguardError(Exception):
    """Base class of every error this package raises."""


class Denied(SpendguardError):
    """The daemon refused a request (a `deny` frame): the call must not be made."""

    def __init__(self, code: str, scope: str, message: str, retry_after_ms: int | None = None) -> None:
        super().__init__(f"{code} on {scope}: {message}")
        self.code = code
        self.scope = scope
        self.message = message
        self.retry_after_ms = retry_after_ms

    @classmethod
    def from_frame(cls, frame: Mapping[str, Any]) -> Denied:
        retry = frame.get("retry_after_ms")
        return cls(str(frame.get("code")), str(frame.get("scope")), str(frame.get("message")), retry if isinstance(retry, int) else None)


class RequestError(SpendguardError):
    """The daemon answered with an `error` frame (bad request, wrong token, unknown session…).

    `status` is the HTTP status; `code` is the frame's code (`INVALID`, `TOO_LARGE`,
    `UNKNOWN_RESERVATION`, `UNSUPPORTED_VERSION`, `UNAUTHORIZED`, or `UNAVAILABLE` for HTTP-only
    conditions such as the session limit).
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class Unreachable(SpendguardError):
    """No answer from the daemon (not running, wrong URL, timed out)."""
