"""A minimal JSON-over-HTTP transport on urllib (standard library only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import Unreachable

# The daemon is local: never send budget traffic (and its bearer token) through an HTTP proxy
# picked up from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, Any] | None


def base_url(url: str) -> str:
    """`ws://127.0.0.1:7878` (as in the daemon's daemon.json) or `http://…` → `http://host:port`."""
    parts = urllib.parse.urlsplit(url.strip())
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"spendguard URL must look like http://127.0.0.1:7878 or ws://127.0.0.1:7878, got {url!r}")
    return f"{scheme}://{parts.netloc}"


def request(method: str, url: str, headers: Mapping[str, str], body: Mapping[str, Any] | None, timeout_s: float) -> Response:
    data = None if body is None else json.dumps(body).encode("utf-8")
    all_headers = {"accept": "application/json", **headers}
    if data is not None:
        all_headers["content-type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with _OPENER.open(req, timeout=timeout_s) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        raise Unreachable(f"spendguard daemon unreachable at {url}: {e}") from e
    if not raw:
        return Response(status, None)
    try:
        payload = json.loads(raw)
    except ValueError as e:
        raise Unreachable(f"{url} answered HTTP {status} with a body that is not JSON; is this a spendguard daemon?") from e
    return Response(status, payload if isinstance(payload, dict) else None)
