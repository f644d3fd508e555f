"""Admission and rate accounting: how much one address, one connection, or everyone may take.

Counted from the TCP accept, before a byte of HTTP is read, so that connections that never say
hello cost a slot like any other. The network thread alone uses these objects (no locks).
``docs/security.md`` lists every limit and what it bounds.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

UNIX_PEER = "unix"
"""The address of a peer on a Unix socket (it has none); as a trusted proxy: whoever may reach the socket."""


@dataclass(frozen=True)
class AdmissionLimits:
    """How many sockets may be open, in all and per remote address, and how many before hello."""

    max_sockets: int = 320
    max_sockets_per_address: int = 32
    max_unidentified: int = 64  # sockets that have not said hello yet (HTTP requests included)
    max_unidentified_per_address: int = 8


class Ticket:
    """One accepted socket's place in the counts; released once, whatever happens."""

    __slots__ = ("_admission", "address", "identified", "released")

    def __init__(self, admission: Admission, address: str) -> None:
        self._admission = admission
        self.address = address
        self.identified = False
        self.released = False

    def identify(self) -> None:
        """The socket said hello: it no longer counts as unidentified."""
        if not self.identified and not self.released:
            self.identified = True
            self._admission.count_identified(self.address)

    def release(self) -> None:
        """The socket closed."""
        if self.released:
            return
        self.released = True
        self._admission.count_released(self.address, self.identified)

    def forwarded(self, address: str) -> str | None:
        """Count the socket under ``address`` from now on: the client a trusted proxy names for it
        (a socket of a trusted proxy is counted only in the totals until then). The reason it is
        refused, if that address has no room; None once it is counted there."""
        if self.released or address == self.address:
            return None
        refusal = self._admission.count_moved(self.address, address, self.identified)
        if refusal is None:
            self.address = address
        return refusal


class Admission:
    """The counts of open sockets, per address and in all."""

    def __init__(self, limits: AdmissionLimits) -> None:
        self.limits = limits
        self._sockets: Counter[str] = Counter()
        self._unidentified: Counter[str] = Counter()
        self._sockets_total = 0
        self._unidentified_total = 0

    def admit(self, address: str, per_address: bool = True) -> Ticket | str:
        """A ticket for a new socket from ``address``, or the reason it is refused.

        ``per_address`` False (a trusted proxy's socket): counted in the totals only, until
        :meth:`Ticket.forwarded` names the client it carries.
        """
        limits = self.limits
        if self._sockets_total >= limits.max_sockets:
            return "the service has reached its connection limit"
        if self._unidentified_total >= limits.max_unidentified:
            return "too many connections waiting for their hello"
        if per_address and (refusal := self._per_address_refusal(address, identified=False)) is not None:
            return refusal
        self._sockets_total += 1
        self._unidentified_total += 1
        if not per_address:
            return Ticket(self, "")
        self._sockets[address] += 1
        self._unidentified[address] += 1
        return Ticket(self, address)

    def _per_address_refusal(self, address: str, identified: bool) -> str | None:
        if self._sockets[address] >= self.limits.max_sockets_per_address:
            return "too many connections from this address"
        if not identified and self._unidentified[address] >= self.limits.max_unidentified_per_address:
            return "too many connections from this address waiting for their hello"
        return None

    def count_identified(self, address: str) -> None:
        """A socket from ``address`` said hello (its ticket says so, once)."""
        if address:
            self._unidentified[address] -= 1
        self._unidentified_total -= 1

    def count_released(self, address: str, identified: bool) -> None:
        """A socket from ``address`` closed (its ticket says so, once)."""
        if not identified:
            self.count_identified(address)
        self._sockets_total -= 1
        self._forget(address, identified=True)

    def count_moved(self, old: str, new: str, identified: bool) -> str | None:
        """A socket counted under ``old`` ("" : the totals only) is now ``new``'s, if it has room."""
        if (refusal := self._per_address_refusal(new, identified)) is not None:
            return refusal
        self._forget(old, identified)
        self._sockets[new] += 1
        if not identified:
            self._unidentified[new] += 1
        return None

    def _forget(self, address: str, identified: bool) -> None:
        """Take one socket of ``address`` out of the per-address counts (and its hello wait unless ``identified``)."""
        if not address:
            return
        self._sockets[address] -= 1
        if not identified:
            self._unidentified[address] -= 1
        for counter in (self._sockets, self._unidentified):
            if counter[address] <= 0:
                del counter[address]  # no address is remembered once it has gone

    @property
    def open_sockets(self) -> int:
        """Sockets open now."""
        return self._sockets_total

    @property
    def addresses(self) -> int:
        """Distinct addresses with a socket open now (what the counts remember)."""
        return len(self._sockets)


class TrustedProxies:
    """Peers whose ``X-Forwarded-For`` names the client: a proxy in front (nginx), or the session
    manager relaying its viewers. Limits and logs then count the client's address, not the proxy's.

    Entries are addresses or networks (``"127.0.0.1"``, ``"10.0.0.0/8"``) and :data:`UNIX_PEER`.
    The client is the right-most address of ``X-Forwarded-For`` that is not a trusted proxy
    itself (addresses to its left could be made up by the client); a peer not trusted is its own
    client, whatever it sends.
    """

    def __init__(self, entries: Iterable[str] = ()) -> None:
        entries = list(entries)
        self.unix = UNIX_PEER in entries
        self._networks = [ipaddress.ip_network(entry, strict=False) for entry in entries if entry != UNIX_PEER]

    def __bool__(self) -> bool:
        return self.unix or bool(self._networks)

    def trusts(self, address: str) -> bool:
        """Whether ``address`` (a peer's) is a trusted proxy's."""
        if address == UNIX_PEER:
            return self.unix
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def client(self, peer: str, forwarded_for: str | None) -> str:
        """The client's address of a request from ``peer`` carrying ``forwarded_for``."""
        if not forwarded_for or not self.trusts(peer):
            return peer
        for entry in reversed(forwarded_for.split(",")):
            entry = entry.strip()
            try:
                ipaddress.ip_address(entry)
            except ValueError:
                return peer  # a malformed list: the proxy's own address is all that is known
            if not self.trusts(entry):
                return entry
        return peer


class RateBucket:
    """A token bucket: ``rate`` units per second on average, bursts up to ``burst`` units."""

    __slots__ = ("rate", "burst", "_level", "_time")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._level = burst
        self._time = now

    def take(self, amount: float, now: float) -> float:
        """Take ``amount``; the seconds until the bucket is back above empty (0 while within the rate)."""
        self._level = min(self.burst, self._level + (now - self._time) * self.rate) - amount
        self._time = now
        return 0.0 if self._level >= 0 else -self._level / self.rate


__all__ = ["UNIX_PEER", "Admission", "AdmissionLimits", "RateBucket", "Ticket", "TrustedProxies"]
