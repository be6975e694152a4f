"""`Client.guard()`: reserve → wait the backpressure delay → call → commit (or release)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

from .errors import SpendguardError
from .frames import Ack, Grant

if TYPE_CHECKING:
    from .client import Client


class Guarded:
    """What a `guard()` block gets: the grant, and where to record the call's actual usage."""

    def __init__(self, grant: Grant) -> None:
        self.grant = grant
        self.usage: dict[str, Any] | None = None
        self.ack: Ack | None = None

    @property
    def reservation(self) -> str:
        return self.grant["reservation"]

    @property
    def max_output_tokens(self) -> int:
        """Pass this to the provider as `max_tokens`: the call then cannot overshoot the budget."""
        return self.grant["max_output_tokens"]

    def record(self, input_tokens: int, output_tokens: int, **fields: Any) -> None:
        """The provider's reported usage (uncached input; cache tokens in `cache_read_tokens` / `cache_write_tokens`)."""
        self.usage = {"input_tokens": input_tokens, "output_tokens": output_tokens, **fields}


def _settle(client: Client, g: Guarded) -> None:
    if g.usage is None:
        client.release(g.reservation)
    else:
        g.ack = client.commit(g.reservation, **g.usage)


@contextmanager
def guard(client: Client, reserve_fields: dict[str, Any]) -> Iterator[Guarded]:
    """Reserves (raising `Denied` if refused), sleeps the grant's `delay_ms`, yields, then settles.

    Recorded usage is committed — also when the block raises, because money spent is spent;
    without recorded usage the reservation is released. Provider retries are the caller's.
    """
    grant = client.reserve(**reserve_fields)
    if grant["delay_ms"] > 0:
        time.sleep(grant["delay_ms"] / 1000)
    g = Guarded(grant)
    try:
        yield g
    except BaseException as e:
        try:
            _settle(client, g)
        except SpendguardError as settle_error:
            e.add_note(f"spendguard: settling reservation {g.reservation} failed too: {settle_error}")
        raise
    _settle(client, g)
