"""A RestartAllContainers reset carried out against a runtime: every container killed at once
(no grace, no preStop hook) and removed, the trigger last, the sandbox kept; and a container
restarted by its own restart rule, with the usual back-off."""

from __future__ import annotations

from typing import Any

from test_sync import Clock, Events, Runtime, sync, syncer

from kubelite.kubelet.sync import RESTART_ALL_KILL_MESSAGE


def spec(restart_all: bool) -> dict[str, Any]:
    action = "RestartAllContainers" if restart_all else "Restart"
    trigger = {
        "name": "trigger",
        "image": "busybox",
        "restartPolicy": "Never",
        "restartPolicyRules": [{"action": action, "exitCodes": {"operator": "In", "values": [88]}}],
    }
    app = {
        "name": "app",
        "image": "busybox",
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
    }
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
        "spec": {"restartPolicy": "Never", "containers": [app, trigger]},
    }


async def test_a_reset_kills_without_grace_and_removes_the_trigger_last() -> None:
    clock = Clock()
    runtime = Runtime(clock)
    s = syncer(clock, runtime)
    hooks: list[str] = []

    async def run_hook(pod: dict, container: dict, container_id: str, hook: dict) -> str:
        hooks.append(container["name"])
        return ""

    s.run_hook = run_hook
    pod = spec(restart_all=True)
    await sync(s, pod, Events())
    runtime.exit("trigger", 88)
    sandboxes = dict(runtime.sandboxes)
    removed: list[str] = []
    remove = runtime.remove_container

    async def remove_container(container_id: str) -> None:
        removed.append(runtime.containers[container_id].metadata.name)
        await remove(container_id)

    runtime.remove_container = remove_container  # type: ignore[method-assign]
    s.reasons[("u1", "trigger")] = ("CrashLoopBackOff", "back-off")
    events = Events()
    runtime.calls.clear()
    result = await s.sync_pod(pod, await s.runtime_status("u1"), events, restart_all=True)

    assert result.changed and not result.errors
    assert runtime.calls == ["stop app grace=0"]
    assert hooks == []  # no preStop on an in-place restart
    assert removed == ["app", "trigger"]
    assert runtime.containers == {}
    assert runtime.sandboxes == sandboxes  # the sandbox stays, ready
    assert events == [("Killing", RESTART_ALL_KILL_MESSAGE, "spec.containers{app}")]
    assert ("u1", "trigger") not in s.reasons

    # The next sync finds nothing and starts the pod over, in the same sandbox.
    runtime.calls.clear()
    await sync(s, pod, Events())
    assert runtime.calls == [
        "create app attempt=0",
        "start app",
        "create trigger attempt=0",
        "start trigger",
    ]


async def test_a_restart_rule_restarts_only_its_container_with_back_off() -> None:
    clock = Clock()
    runtime = Runtime(clock)
    s = syncer(clock, runtime)
    pod = spec(restart_all=False)
    await sync(s, pod, Events())
    runtime.exit("trigger", 88)
    runtime.calls.clear()
    await sync(s, pod, Events())
    assert runtime.calls == ["create trigger attempt=1", "start trigger"]
    runtime.exit("trigger", 88)
    clock.now += 1
    events = Events()
    result = await sync(s, pod, events)
    assert [reason for reason, _, _ in events] == ["BackOff"]
    assert s.reasons[("u1", "trigger")][0] == "CrashLoopBackOff"
    assert result.retry_after is not None
    # Exit codes the rule does not name are the end of it, under the pod's Never.
    clock.now += 20
    await sync(s, pod, Events())
    runtime.exit("trigger", 1)
    runtime.calls.clear()
    clock.now += 400
    await sync(s, pod, Events())
    assert not any(call.startswith("create trigger") for call in runtime.calls)
