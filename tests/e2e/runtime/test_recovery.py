"""A restart of the runtime layer: a new RuntimeService on the same dirs finds every sandbox and
container, keeps the running ones running, learns of exits (also those that happened while no
service was watching), and can stop and remove what it found."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from runtime_fixtures import Harness, tcp_exchange, wait_for

from kubelite.runtime import cri
from kubelite.runtime.oci.mounts import umount

pytestmark = pytest.mark.e2e

RUNNING = cri.ContainerState.CONTAINER_RUNNING
EXITED = cri.ContainerState.CONTAINER_EXITED


async def test_new_service_finds_running_container_and_its_sandbox(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("survivor")
    cid = await rt.run_container(
        sandbox,
        "httpd",
        ["sh", "-c", "mkdir /www && echo still-here > /www/index.html && httpd -f -p 80 -h /www"],
    )
    before = await rt.service.container_status(cid)
    sandbox_before = await rt.service.pod_sandbox_status(sandbox[0])
    rt.service.close()  # the old runtime goes away; conmon and the container stay

    restarted = rt.new_service()
    assert [s.id for s in await restarted.list_pod_sandboxes()] == [sandbox[0]]
    assert await restarted.pod_sandbox_status(sandbox[0]) == sandbox_before
    after = await restarted.container_status(cid)
    assert (after.state, after.pid, after.started_at) == (RUNNING, before.pid, before.started_at)
    os.kill(after.pid, 0)  # the very same process is alive
    reply = await tcp_exchange(sandbox_before.ip, 80, b"GET / HTTP/1.0\r\n\r\n")
    assert reply.endswith(b"still-here\n")

    events = restarted.events()
    next_event = asyncio.ensure_future(anext(events))
    await restarted.stop_container(cid, timeout=0)
    event = await asyncio.wait_for(next_event, 10)
    assert (event.container_id, event.state) == (cid, EXITED)
    await events.aclose()
    await restarted.remove_pod_sandbox(sandbox[0])
    assert await restarted.list_containers() == []
    assert await restarted.list_pod_sandboxes() == []


async def test_exit_while_no_service_watched_is_reported(rt: Harness, tmp_path: Path) -> None:
    sandbox = await rt.run_sandbox("quiet")
    cid = await rt.run_container(
        sandbox,
        "main",
        ["sh", "-c", "until [ -e /signal/go ]; do sleep 0.02; done; exit 7"],
        mounts=[cri.Mount(container_path="/signal", host_path=str(tmp_path))],
    )
    rt.service.close()
    # The container ends while no runtime service is watching it.
    (tmp_path / "go").touch()
    exit_file = rt.base / "run" / "exits" / cid
    await wait_for(exit_file.exists, 10, "conmon's exit file")

    restarted = rt.new_service()
    status = await restarted.container_status(cid)
    assert (status.state, status.exit_code, status.reason) == (EXITED, 7, "Error")
    assert status.finished_at >= status.started_at > 0
    await restarted.remove_pod_sandbox(sandbox[0])


async def test_a_sandbox_whose_mounts_are_gone_is_removed_as_after_a_reboot(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("rebooted")
    assert (await rt.service.pod_sandbox_status(sandbox[0])).ip
    rt.service.close()
    # What a reboot leaves: the state files, with nothing mounted on the namespace pins.
    with open("/proc/self/mountinfo") as f:
        mounted = [line.split()[4] for line in f if str(rt.base) in line.split()[4]]
    assert any(m.endswith("/ns/net") for m in mounted), mounted
    for target in sorted(mounted, key=len, reverse=True):
        umount(Path(target))

    restarted = rt.new_service()
    # CNI DEL still releases the IP lease (the harness fails the test on a lease left behind).
    await restarted.remove_pod_sandbox(sandbox[0])
    assert await restarted.list_pod_sandboxes() == []
