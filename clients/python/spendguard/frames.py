"""Typed shapes of the daemon's replies (protocol v1, SPEC §4). Extra fields may appear."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict


class Welcome(TypedDict):
    type: Literal["welcome"]
    v: int
    scopes: list[str]
    budgets: dict[str, dict[str, Any]]


class Grant(TypedDict):
    type: Literal["grant"]
    id: str
    reservation: str
    max_output_tokens: int
    cost_usd: float
    delay_ms: int
    pressure: str
    expires_ms: int
    warnings: list[str]
    suggested_model: NotRequired[str]


class Ack(TypedDict):
    type: Literal["ack"]
    id: str
    cost_usd: NotRequired[float]
    duplicate: NotRequired[bool]
    over: NotRequired[bool]
    warnings: NotRequired[list[str]]


class Delegated(TypedDict):
    type: Literal["delegated"]
    id: str
    child: str
    limits: dict[str, float]


class Pong(TypedDict):
    type: Literal["pong"]
    id: str


class Pending(TypedDict):
    type: Literal["pending"]
    id: str
    prompt: str


class Kill(TypedDict):
    type: Literal["kill"]
    scope: str
    reason: str
