"""`kubelite server` runs its controllers and scheduler in a child process it keeps alive."""

from __future__ import annotations

import os
import time
from pathlib import Path

from cluster import Cluster

WAIT = 30.0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "children").read_text().split()
        except FileNotFoundError:
            continue  # a thread of the server (a worker of asyncio.to_thread) ended meanwhile
        found.extend(int(c) for c in text)
    return found


def control_plane_of(cluster: Cluster) -> int | None:
    assert cluster.process is not None
    for child in children(cluster.process.pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if b"control-plane" in cmdline:
            return child
    return None


def wait_for(what: str, check, timeout: float = WAIT):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead; only its parent has not reaped it yet.
    state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    return state != "Z"


def test_a_killed_control_plane_is_started_again(fresh_cluster: Cluster) -> None:
    fresh_cluster.start()
    first = wait_for("the control plane", lambda: control_plane_of(fresh_cluster))
    os.kill(first, 9)
    second = wait_for(
        "a new control plane",
        lambda: pid if (pid := control_plane_of(fresh_cluster)) and pid != first else None,
    )
    assert alive(second)
    # It works: the namespace controller empties and removes a deleted namespace.
    fresh_cluster.kubectl("create", "namespace", "gone")
    fresh_cluster.kubectl("create", "configmap", "c", "-n", "gone")
    fresh_cluster.kubectl("delete", "namespace", "gone", "--timeout=30s")


def test_the_control_plane_dies_with_a_killed_server(fresh_cluster: Cluster) -> None:
    fresh_cluster.start()
    child = wait_for("the control plane", lambda: control_plane_of(fresh_cluster))
    fresh_cluster.kill()
    wait_for("the control plane to end", lambda: not alive(child))
