"""spendguard client for Python: the agent protocol v1 over the daemon's HTTP API.

Standard library only. See README.md in this folder.
"""

from .client import Client
from .errors import Denied, RequestError, SpendguardError, Unreachable
from .frames import Ack, Delegated, Grant, Kill, Pending, Pong, Welcome
from .guard import Guarded

__all__ = [
    "Ack",
    "Client",
    "Delegated",
    "Denied",
    "Grant",
    "Guarded",
    "Kill",
    "Pending",
    "Pong",
    "RequestError",
    "SpendguardError",
    "Unreachable",
    "Welcome",
]
