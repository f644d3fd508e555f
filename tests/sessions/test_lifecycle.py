"""The session manager's instances, with real processes: caps, ports, cycles, hangs, timeouts, orphans."""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import psutil
import pytest

from .harness import ManagerProcess, alive, port_free, wait_for


def _post_many(manager: ManagerProcess, count: int, **body: object) -> list[tuple[int, dict, dict]]:
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(manager.request, "POST", "/api/sessions", {"app": "fake", **body})
                   for _ in range(count)]
        return [f.result() for f in futures]


def _descendants(pid: int) -> list[psutil.Process]:
    return [p for p in psutil.Process(pid).children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]


def test_cap_under_50_concurrent_requests(tmp_path: Path):
    with ManagerProcess(tmp_path, max_instances=5, max_pending=50) as manager:
        answers = _post_many(manager, 50)
        created = [a for s, a, _ in answers if s == 201]
        refused = [(a, h) for s, a, h in answers if s == 503]
        assert len(created) == 5 and len(refused) == 45, [s for s, _, _ in answers]
        assert all(int(h["Retry-After"]) > 0 and "in use" in a["error"] for a, h in refused)
        pids = {manager.session(a["id"])["pid"] for a in created}
        assert len(pids) == 5 and all(alive(p) for p in pids)
        assert len(_descendants(manager.pid)) == 5
        # /ready says so too, and a freed slot serves the next request.
        assert manager.request("GET", "/ready")[0] == 503
        assert manager.request("DELETE", f"/api/sessions/{created[0]['id']}")[0] == 204
        assert manager.request("GET", "/ready")[0] == 200
        manager.create()


def test_max_pending_answers_429_with_retry_after(tmp_path: Path):
    with ManagerProcess(tmp_path, max_instances=10, max_pending=2) as manager:
        answers = _post_many(manager, 10, parameters={"mode": "slow"})  # each takes a second to be ready
        statuses = sorted(s for s, _, _ in answers)
        assert statuses.count(201) >= 2 and statuses.count(429) >= 1, statuses
        assert set(statuses) <= {201, 429}
        assert all(int(h["Retry-After"]) > 0 for s, _, h in answers if s == 429)


def test_crashed_instance_port_is_free_again(tmp_path: Path):
    with ManagerProcess(tmp_path, max_instances=2) as manager:
        full = manager.status()["free_ports"]
        answer = manager.create(parameters={"mode": "crash"})
        port = int(answer["url"].split(":")[2].split("/")[0])
        pid = manager.session(answer["id"])["pid"]
        assert not port_free(port)  # the instance holds it
        wait_for(lambda: not alive(pid))
        wait_for(lambda: manager.status()["free_ports"] == full)
        assert manager.session(answer["id"]) is None
        assert port_free(port)
        assert manager.ended("crashed") == 1


def test_kill_9_of_an_instance_frees_its_port(tmp_path: Path):
    with ManagerProcess(tmp_path, max_instances=2) as manager:
        full = manager.status()["free_ports"]
        answer = manager.create()
        psutil.Process(manager.session(answer["id"])["pid"]).kill()
        wait_for(lambda: manager.status()["free_ports"] == full)
        assert manager.status()["instances"] == 0


def test_200_spawn_kill_cycles_leave_nothing_behind(tmp_path: Path):
    with ManagerProcess(tmp_path, max_instances=4, max_pending=4) as manager:
        process = psutil.Process(manager.pid)
        full = manager.status()["free_ports"]
        manager.request("DELETE", f"/api/sessions/{manager.create()['id']}")  # warm up lazy allocations
        fds_before = process.num_fds()
        grandchildren: list[int] = []

        def cycle(index: int) -> None:
            mode = "grandchild" if index % 10 == 0 else ("ignore-term" if index % 10 == 5 else "ready")
            answer = manager.create(parameters={"mode": mode})
            assert manager.request("DELETE", f"/api/sessions/{answer['id']}")[0] == 204
            if mode == "grandchild":
                grandchildren.append(int((manager.pid_dir / f"{answer['id']}.grandchild").read_text()))

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(cycle, range(200)))
        status = manager.status()
        assert status["instances"] == 0 and status["free_ports"] == full
        assert _descendants(manager.pid) == []
        assert not [c for c in process.children(recursive=True)]  # no zombie either: every child reaped
        assert len(grandchildren) == 20 and not any(alive(p) for p in grandchildren)
        assert process.num_fds() <= fds_before
        first, last = manager.settings["port_range"]
        assert all(port_free(p) for p in range(first, last + 1))
        assert manager.ended("deleted") == 201
        assert manager.ended("killed") == 20  # the ignore-term ones needed SIGKILL


def test_a_hung_child_is_killed_within_three_heartbeats_and_the_kill_grace(tmp_path: Path):
    heartbeat, grace = 0.5, 1.0
    with ManagerProcess(tmp_path, heartbeat=heartbeat, kill_grace=grace) as manager:
        answer = manager.create(parameters={"mode": "hang,ignore-term"})
        pid = manager.session(answer["id"])["pid"]
        ready = time.monotonic()
        wait_for(lambda: (manager.session(answer["id"]) or {}).get("state") in ("unresponsive", "killed", None))
        wait_for(lambda: not alive(pid))
        elapsed = time.monotonic() - ready
        assert manager.ended("unresponsive") == 1 and manager.ended("killed") == 1
        print(f"hung child ended {elapsed:.2f} s after ready (3 heartbeats + kill_grace = {3 * heartbeat + grace:.2f} s)")
        assert manager.status()["instances"] == 0


@pytest.mark.parametrize("setting, reason, mode", [
    ({"initial_use_timeout": 1.0}, "initial_use_timeout", "ready"),
    ({"idle_timeout": 1.0}, "idle", "idle"),
    ({"max_age": 1.5}, "max_age", "ready"),
])
def test_timeouts_end_instances(tmp_path: Path, setting: dict, reason: str, mode: str):
    with ManagerProcess(tmp_path, **setting) as manager:
        answer = manager.create(parameters={"mode": mode})
        pid = manager.session(answer["id"])["pid"]
        wait_for(lambda: manager.session(answer["id"]) is None)
        assert not alive(pid)
        assert manager.ended(reason) == 1


def test_stopping_the_manager_stops_and_reaps_every_instance(tmp_path: Path):
    manager = ManagerProcess(tmp_path).start()
    pids = [manager.session(manager.create(parameters={"mode": m})["id"])["pid"]
            for m in ("ready", "ignore-term", "grandchild")]
    grandchild = int(next(manager.pid_dir.glob("*.grandchild")).read_text())
    assert manager.stop() == 0
    assert not any(alive(p) for p in [*pids, grandchild])
    assert list((tmp_path / "state").glob("*.json")) == []


def test_a_manager_killed_with_sigkill_and_restarted_reclaims_its_orphans(tmp_path: Path):
    first = ManagerProcess(tmp_path).start()
    ports = first.settings["port_range"]
    answers = [first.create(parameters={"mode": "hang,ignore-term,grandchild"}) for _ in range(2)]
    pids = [first.session(a["id"])["pid"] for a in answers]
    grandchildren = [int((first.pid_dir / f"{a['id']}.grandchild").read_text()) for a in answers]
    held = [int(a["url"].split(":")[2].split("/")[0]) for a in answers]
    first.kill()
    assert all(alive(p) for p in pids + grandchildren)  # orphans, holding their ports
    assert not any(port_free(p) for p in held)
    with ManagerProcess(tmp_path, port_range=ports) as second:
        assert not any(alive(p) for p in pids + grandchildren)
        assert all(port_free(p) for p in held)
        assert second.ended("orphan") == 2
        assert any("orphan" in line for line in second.log)
        second.create()  # and the range serves again


def test_a_port_held_by_another_program_is_skipped(tmp_path: Path):
    with ManagerProcess(tmp_path, max_instances=1) as manager:
        first, last = manager.settings["port_range"]
        import socket

        blockers = []
        for port in range(first, first + 2):  # the two ports it would try first
            blocker = socket.socket()
            blocker.bind(("127.0.0.1", port))
            blocker.listen()
            blockers.append(blocker)
        try:
            answer = manager.create()
            port = int(answer["url"].split(":")[2].split("/")[0])
            assert first + 2 <= port <= last
        finally:
            for blocker in blockers:
                blocker.close()


def test_a_state_folder_others_may_write_to_is_refused(tmp_path: Path):
    state = tmp_path / "shared"
    state.mkdir()
    state.chmod(0o777)
    manager = ManagerProcess(tmp_path, state_dir=str(state))
    with pytest.raises(AssertionError, match="did not start"):
        manager.start()
    assert any("state folder" in line and "writable by it alone" in line for line in manager.log)
