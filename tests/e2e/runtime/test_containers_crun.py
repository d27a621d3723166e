"""The same containers on crun, through its wrapper (its own mount namespace without the cgroup2
mount): run, exit code, exec, OOM and stop, and a failed create with crun's message."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from runtime_fixtures import Harness, runtime_harness

from kubelite.runtime import cri
from kubelite.runtime.errors import ContainerError

pytestmark = pytest.mark.e2e


@pytest.fixture
async def rt() -> AsyncIterator[Harness]:
    async with runtime_harness(oci_runtime="crun") as harness:
        yield harness


async def test_crun_runs_exec_and_stops_a_container(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("crun")
    done = await rt.run_container(sandbox, "done", ["sh", "-c", "echo pid=$$ $(hostname); exit 5"])
    status = await rt.wait_state(done)
    assert (status.exit_code, status.reason) == (5, "Error")
    assert (await rt.logs(done))["stdout"] == b"pid=1 crun\n"
    sleeper = await rt.run_container(sandbox, "sleeper", ["sleep", "60"])
    result = await rt.service.exec_sync(sleeper, ["sh", "-c", "echo in; exit 2"])
    assert (result.stdout, result.exit_code) == (b"in\n", 2)
    missing = await rt.service.exec_sync(sleeper, ["nope"])
    assert missing.exit_code == 127
    await rt.service.stop_container(sleeper, timeout=0)
    status = await rt.service.container_status(sleeper)
    assert (status.state, status.exit_code) == (cri.ContainerState.CONTAINER_EXITED, 137)


async def test_crun_oom_and_bad_command(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("crun-oom")
    cid = await rt.run_container(
        sandbox,
        "hog",
        ["awk", 'BEGIN { s = "0123456789abcdef"; while (1) s = s s }'],
        resources=cri.LinuxContainerResources(memory_limit_in_bytes=16 * 1024 * 1024),
    )
    status = await rt.wait_state(cid)
    assert (status.exit_code, status.reason) == (137, "OOMKilled")
    with pytest.raises(ContainerError, match="executable file `nope` not found"):
        await rt.service.create_container(
            sandbox[0], rt.container_config("bad", ["nope"]), sandbox[1]
        )
