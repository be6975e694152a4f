"""The agent side of spendguard's HTTP API (protocol v1 frames over `POST /v1/agent/<type>`)."""

from __future__ import annotations

import time
import urllib.parse
import uuid
from contextlib import AbstractContextManager
from typing import Any, Callable, Mapping, cast

from . import _http
from .errors import Denied, RequestError
from .frames import Ack, Delegated, Grant, Kill, Pending, Pong, Welcome
from .guard import Guarded, guard

SESSION_HEADER = "X-Spendguard-Session"
# The daemon holds a long-poll for at most 30 s; the socket timeout must outlast it.
WAIT_MS = 30_000
DEFAULT_TIMEOUT_S = 40.0


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


class Client:
    """One agent's connection to a spendguard daemon, over HTTP.

    `session` and `task` are budget scopes (`session:<session>`, `task:<task>`), not the HTTP
    session, which the client opens with `hello()` (or lazily on its first request) and reopens
    by itself if the daemon closed it for idleness.
    """

    def __init__(
        self,
        url: str,
        token: str,
        agent: str,
        session: str,
        task: str,
        user: str | None = None,
        parent: str | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        on_pending: Callable[[Pending], None] | None = None,
        on_kill: Callable[[Kill], None] | None = None,
    ) -> None:
        self.base = _http.base_url(url)
        self.token = token
        self.hello_frame: dict[str, Any] = {"v": 1, "agent": agent, "session": session, "task": task}
        if user is not None:
            self.hello_frame["user"] = user
        if parent is not None:
            self.hello_frame["parent"] = parent
        if labels is not None:
            self.hello_frame["labels"] = dict(labels)
        self.timeout_s = timeout_s
        self.on_pending = on_pending
        self.on_kill = on_kill
        self.http_session: str | None = None
        self.welcome: Welcome | None = None
        #: The latest `kill` the daemon pushed for this agent's chain, if any.
        self.kill: Kill | None = None

    # ------------------------------------------------------------------ protocol

    def hello(self) -> Welcome:
        """Opens an HTTP session; returns the `welcome` frame (scopes and budgets)."""
        resp = self._post("hello", self.hello_frame, session=None)
        body = self._check(resp)
        self.http_session = str(body["session"])
        self.welcome = cast(Welcome, body["welcome"])
        return self.welcome

    def reserve(self, *, id: str | None = None, max_wait_s: float | None = None, **fields: Any) -> Grant:
        """Asks for budget before a call. Waits through an operator approval if one is needed.

        Returns the `grant` (pass its `max_output_tokens` to the provider as `max_tokens`, wait
        its `delay_ms`); raises `Denied` when refused. `max_wait_s` bounds the wait for an
        approval (the daemon's own approval timeout ends it with `APPROVAL_TIMEOUT` anyway).
        """
        rid = id or new_id("res")
        frame = self._request("reserve", {"id": rid, **fields})
        if frame["type"] == "pending":
            if self.on_pending is not None:
                self.on_pending(cast(Pending, frame))
            frame = self._wait(rid, max_wait_s)
        if frame["type"] == "deny":
            raise Denied.from_frame(frame)
        return cast(Grant, frame)

    def commit(self, reservation: str, *, input_tokens: int, output_tokens: int, key: str | None = None, id: str | None = None, **fields: Any) -> Ack:
        """Reports the actual usage of a granted call. `key` (default: the reservation id) makes a resend count once."""
        frame: dict[str, Any] = {"id": id or new_id("com"), "reservation": reservation, "input_tokens": input_tokens, "output_tokens": output_tokens, **fields}
        if key is not None:
            frame["key"] = key
        return cast(Ack, self._request("commit", frame))

    def release(self, reservation: str, *, id: str | None = None) -> Ack:
        """Gives a reservation back unused (the call was not made)."""
        return cast(Ack, self._request("release", {"id": id or new_id("rel"), "reservation": reservation}))

    def spend(self, key: str, *, id: str | None = None, **fields: Any) -> Ack:
        """Reports usage after the fact, without a reservation; `key` makes a resend count once."""
        return cast(Ack, self._request("spend", {"id": id or new_id("spd"), "key": key, **fields}))

    def delegate(self, child: str, *, cost_usd: float | None = None, tokens: int | None = None, id: str | None = None) -> Delegated:
        """Moves part of this agent's budget to a child agent; raises `Denied` when refused."""
        limits: dict[str, float] = {}
        if cost_usd is not None:
            limits["cost_usd"] = cost_usd
        if tokens is not None:
            limits["tokens"] = tokens
        frame = self._request("delegate", {"id": id or new_id("del"), "child": child, "limits": limits})
        if frame["type"] == "deny":
            raise Denied.from_frame(frame)
        return cast(Delegated, frame)

    def ping(self) -> Pong:
        return cast(Pong, self._request("ping", {"id": new_id("png")}))

    def bye(self) -> None:
        """Releases this session's open reservations and closes it."""
        if self.http_session is None:
            return
        resp = self._post("bye", {}, session=self.http_session)
        self.http_session = None
        if resp.status not in (204, 404):
            self._check(resp)

    def guard(self, **reserve_fields: Any) -> AbstractContextManager[Guarded]:
        """`with client.guard(model=…, input_tokens=…, max_output_tokens=…) as g:` — see guard.py."""
        return guard(self, reserve_fields)

    def __enter__(self) -> Client:
        self.hello()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bye()

    # ------------------------------------------------------------------ plumbing

    def _request(self, type_: str, frame: dict[str, Any]) -> dict[str, Any]:
        """Sends a frame in this agent's session, reopening the session once if it expired."""
        if self.http_session is None:
            self.hello()
        resp = self._post(type_, frame, session=self.http_session)
        if resp.status == 404:
            # On a POST, 404 only ever means the session is unknown (closed for idleness, daemon
            # restarted); the frame never reached the engine, so sending it again is safe.
            self.hello()
            resp = self._post(type_, frame, session=self.http_session)
        return self._check(resp)

    def _wait(self, request_id: str, max_wait_s: float | None) -> dict[str, Any]:
        deadline = None if max_wait_s is None else time.monotonic() + max_wait_s
        while True:
            wait_ms = WAIT_MS
            if deadline is not None:
                left_ms = int((deadline - time.monotonic()) * 1000)
                if left_ms <= 0:
                    raise TimeoutError(f"request {request_id} still awaits approval after {max_wait_s} s")
                wait_ms = min(wait_ms, left_ms)
            query = f"?id={urllib.parse.quote(request_id)}&timeout_ms={wait_ms}"
            resp = _http.request("GET", f"{self.base}/v1/agent/wait{query}", self._headers(self.http_session), None, self.timeout_s)
            if resp.status != 204:
                return self._check(resp)

    def _post(self, type_: str, frame: Mapping[str, Any], session: str | None) -> _http.Response:
        return _http.request("POST", f"{self.base}/v1/agent/{type_}", self._headers(session), frame, self.timeout_s)

    def _headers(self, session: str | None) -> dict[str, str]:
        headers = {"authorization": f"Bearer {self.token}"}
        if session is not None:
            headers[SESSION_HEADER] = session
        return headers

    def _check(self, resp: _http.Response) -> dict[str, Any]:
        """Takes out a piggy-backed `kill`; raises `RequestError` for anything but a reply frame."""
        body = resp.body
        if body is not None and isinstance(body.get("kill"), dict):
            self.kill = cast(Kill, body.pop("kill"))
            if self.on_kill is not None:
                self.on_kill(self.kill)
        if body is None or resp.status >= 300 or body.get("type") == "error":
            code = str(body.get("code", "UNAVAILABLE")) if body else "UNAVAILABLE"
            message = str(body.get("message", "")) if body else "no body in the answer"
            raise RequestError(resp.status, code, message)
        return body
