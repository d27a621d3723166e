"""Containers of a sandbox on runc and conmon: what runs inside, logs, exit codes and reasons,
stop with its grace period, and the errors of a container that cannot start."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from runtime_fixtures import Harness

from kubelite.runtime import cri
from kubelite.runtime.errors import ContainerError

pytestmark = pytest.mark.e2e

EXITED = cri.ContainerState.CONTAINER_EXITED
RUNNING = cri.ContainerState.CONTAINER_RUNNING


async def test_pid_1_is_the_command_and_hostname_is_the_pod_name(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("web-0")
    cid = await rt.run_container(sandbox, "main", ["sh", "-c", "echo pid=$$; hostname"])
    status = await rt.wait_state(cid)
    assert status.exit_code == 0
    assert status.reason == "Completed"
    assert (await rt.logs(cid))["stdout"] == b"pid=1\nweb-0\n"


async def test_tty_container_runs_on_a_terminal_and_is_logged(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("tty")
    cid = await rt.run_container(sandbox, "main", ["sh", "-c", "tty; stty size"], tty=True)
    await rt.wait_state(cid)
    out = (await rt.logs(cid))["stdout"].replace(b"\r", b"")
    assert out.startswith(b"/dev/pts/0\n")


async def test_logs_are_in_cri_format_with_both_streams(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("logs")
    cid = await rt.run_container(sandbox, "main", ["sh", "-c", "echo out; echo err >&2"])
    status = await rt.wait_state(cid)
    lines = Path(status.log_path).read_bytes().splitlines()
    assert len(lines) == 2
    streams = sorted(line.split(b" ")[1:] for line in lines)
    assert streams == [[b"stderr", b"F", b"err"], [b"stdout", b"F", b"out"]]
    # RFC 3339 with nanoseconds: 2026-12-02T03:09:02.743995575+00:00
    assert lines[0].split(b" ")[0][19:20] == b"."
    assert status.log_path == str(rt.base / "logs" / "logs" / "main.log")


async def test_exit_code_and_times_of_a_failed_container(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("fails")
    before = time.time_ns()
    cid = await rt.run_container(sandbox, "main", ["sh", "-c", "exit 3"])
    status = await rt.wait_state(cid)
    assert (status.exit_code, status.reason) == (3, "Error")
    assert before <= status.created_at <= status.started_at <= status.finished_at
    assert status.pid == 0


async def test_image_command_and_env_rules(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("rules")
    rt.images.image = cri.Image(
        id=rt.images.image.id,
        repo_tags=rt.images.image.repo_tags,
        repo_digests=[],
        size=0,
        config=cri.ImageConfig(
            entrypoint=["sh", "-c"],
            cmd=["echo image-cmd"],
            env=["PATH=/bin", "A=image", "B=image"],
            working_dir="/tmp",
        ),
    )
    default = await rt.run_container(sandbox, "default", [])
    args_only = await rt.run_container(
        sandbox, "args", [], args=['echo "$A $B $(pwd)"'], envs=[("B", "pod")]
    )
    command = await rt.run_container(
        sandbox, "command", ["echo"], working_dir="/etc", args=["from", "command"]
    )
    for cid in (default, args_only, command):
        await rt.wait_state(cid)
    assert (await rt.logs(default))["stdout"] == b"image-cmd\n"
    assert (await rt.logs(args_only))["stdout"] == b"image pod /tmp\n"
    assert (await rt.logs(command))["stdout"] == b"from command\n"


async def test_user_from_security_context_and_by_name(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("users")
    by_uid = await rt.run_container(
        sandbox,
        "uid",
        ["id"],
        security_context=cri.LinuxContainerSecurityContext(run_as_user=1234, run_as_group=5678),
    )
    by_name = await rt.run_container(
        sandbox,
        "name",
        ["id"],
        security_context=cri.LinuxContainerSecurityContext(run_as_username="nobody"),
    )
    for cid in (by_uid, by_name):
        await rt.wait_state(cid)
    assert (await rt.logs(by_uid))["stdout"].startswith(b"uid=1234 gid=5678")
    assert (await rt.logs(by_name))["stdout"].startswith(b"uid=65534(nobody) gid=65534(nogroup)")


async def test_capabilities_default_added_and_dropped(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("caps")
    show = ["sh", "-c", "grep CapEff /proc/self/status"]
    default = await rt.run_container(sandbox, "default", show)
    adjusted = await rt.run_container(
        sandbox,
        "adjusted",
        show,
        security_context=cri.LinuxContainerSecurityContext(
            capabilities=cri.Capability(add_capabilities=["NET_ADMIN"], drop_capabilities=["KILL"])
        ),
    )
    none = await rt.run_container(
        sandbox,
        "none",
        show,
        security_context=cri.LinuxContainerSecurityContext(
            capabilities=cri.Capability(drop_capabilities=["ALL"])
        ),
    )
    masks = {}
    for name, cid in (("default", default), ("adjusted", adjusted), ("none", none)):
        await rt.wait_state(cid)
        masks[name] = int((await rt.logs(cid))["stdout"].split()[1], 16)
    cap_kill, cap_net_admin, cap_chown = 5, 12, 0
    assert masks["default"] & (1 << cap_kill) and masks["default"] & (1 << cap_chown)
    assert not masks["default"] & (1 << cap_net_admin)
    assert masks["adjusted"] & (1 << cap_net_admin)
    assert not masks["adjusted"] & (1 << cap_kill)
    assert masks["none"] == 0


async def test_readonly_rootfs_and_masked_paths(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("ro")
    cid = await rt.run_container(
        sandbox,
        "main",
        [
            "sh",
            "-c",
            "touch /x 2>/dev/null && echo rw || echo ro; wc -c < /proc/timer_list;"
            " touch /proc/sys/x 2>/dev/null || echo sys-ro",
        ],
        security_context=cri.LinuxContainerSecurityContext(readonly_rootfs=True),
    )
    await rt.wait_state(cid)
    assert (await rt.logs(cid))["stdout"] == b"ro\n0\nsys-ro\n"


async def test_oom_kill_gives_oomkilled_and_137(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("oom")
    # awk doubles a string until the 16 MiB limit stops it: a real allocation, not a pipe.
    cid = await rt.run_container(
        sandbox,
        "hog",
        ["awk", 'BEGIN { s = "0123456789abcdef"; while (1) s = s s }'],
        resources=cri.LinuxContainerResources(memory_limit_in_bytes=16 * 1024 * 1024),
    )
    status = await rt.wait_state(cid)
    assert (status.exit_code, status.reason) == (137, "OOMKilled")


async def test_stop_sends_term_then_kill_after_the_timeout(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("stop")
    polite = await rt.run_container(
        sandbox, "polite", ["sh", "-c", "trap 'exit 0' TERM; echo up; while :; do sleep 0.1; done"]
    )
    stubborn = await rt.run_container(
        sandbox, "stubborn", ["sh", "-c", "trap '' TERM; echo up; while :; do sleep 0.1; done"]
    )
    for cid in (polite, stubborn):
        await rt.wait_for_log(cid, b"up\n")
    started = time.monotonic()
    await rt.service.stop_container(polite, timeout=10)
    assert time.monotonic() - started < 5
    assert (await rt.service.container_status(polite)).exit_code == 0
    started = time.monotonic()
    await rt.service.stop_container(stubborn, timeout=1)
    took = time.monotonic() - started
    status = await rt.service.container_status(stubborn)
    assert 1 <= took < 5
    assert (status.state, status.exit_code, status.reason) == (EXITED, 137, "Error")
    await rt.service.stop_container(stubborn, timeout=1)  # already stopped is fine


async def test_a_forced_stop_does_not_wait_behind_a_graceful_one(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("race")
    cid = await rt.run_container(
        sandbox, "stubborn", ["sh", "-c", "trap '' TERM; echo up; while :; do sleep 0.1; done"]
    )
    await rt.wait_for_log(cid, b"up\n")
    started = time.monotonic()
    graceful = asyncio.ensure_future(rt.service.stop_container(cid, timeout=30))
    await rt.service.stop_container(cid, timeout=0)
    await asyncio.wait_for(graceful, 5)
    assert time.monotonic() - started < 5
    await asyncio.gather(rt.service.remove_container(cid), rt.service.remove_container(cid))
    assert await rt.service.list_containers() == []


async def test_bad_command_fails_create_and_leaves_nothing(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("bad")
    sandbox_id, sandbox_config = sandbox
    with pytest.raises(ContainerError) as failure:
        await rt.service.create_container(
            sandbox_id, rt.container_config("main", ["nope"]), sandbox_config
        )
    assert 'exec: "nope": executable file not found in $PATH' in str(failure.value)
    assert failure.value.reason == "CreateContainerError"
    assert await rt.service.list_containers() == []
    assert list((rt.base / "run" / "containers").iterdir()) == []
    assert list((rt.base / "run" / "runc").iterdir()) == []


async def test_bad_working_dir_fails_create_with_its_message(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("badcwd")
    sandbox_id, sandbox_config = sandbox
    config = rt.container_config("main", ["sh"], working_dir="/etc/passwd")
    with pytest.raises(ContainerError) as failure:
        await rt.service.create_container(sandbox_id, config, sandbox_config)
    assert "mkdir /etc/passwd: not a directory" in str(failure.value)
    assert await rt.service.list_containers() == []


async def test_events_report_exits_as_they_happen(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("events")
    events = rt.service.events()
    first = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)  # let the subscriber register before anything can exit
    cid = await rt.run_container(sandbox, "main", ["true"])
    event = await asyncio.wait_for(first, 10)
    assert (event.container_id, event.sandbox_id, event.state) == (cid, sandbox[0], EXITED)
    await events.aclose()
