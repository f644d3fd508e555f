"""The session manager's port range: a port is handed out once until released, busy ones wait."""

from __future__ import annotations

import time

from remoteviz.sessions.ports import PortPool


def test_ports_are_handed_out_once_until_released():
    pool = PortPool(9000, 9002)
    taken = [pool.take(), pool.take(), pool.take()]
    assert sorted(taken) == [9000, 9001, 9002]
    assert pool.take() is None and pool.free == 0
    pool.release(9001)
    pool.release(9001)  # twice: still one port
    assert pool.free == 1 and pool.take() == 9001 and pool.take() is None


def test_a_released_port_is_the_last_to_be_reused():
    pool = PortPool(9000, 9002)
    first = pool.take()
    pool.release(first)
    assert [pool.take(), pool.take(), pool.take()] == [9001, 9002, 9000]


def test_a_port_held_by_a_stranger_is_quarantined():
    pool = PortPool(9000, 9001)
    port = pool.take()
    pool.quarantine(port, seconds=0.2)
    assert pool.free == 1 and pool.take() == 9001 and pool.take() is None
    time.sleep(0.25)
    assert pool.take() == port


def test_releasing_a_port_never_taken_changes_nothing():
    pool = PortPool(9000, 9000)
    pool.release(9005)
    assert pool.free == 1 and pool.taken == frozenset()
