"""One pod sync carried out against a runtime: order, events, back-off and failure reasons."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import pytest

from kubelite.kubelet.backoff import Backoff
from kubelite.kubelet.dns import DNSConfigurer
from kubelite.kubelet.envvars import ConfigError
from kubelite.kubelet.images import ImagePuller
from kubelite.kubelet.sync import PodSyncer
from kubelite.runtime import errors
from kubelite.runtime.cri import (
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    Image,
    ImageConfig,
    PodSandboxConfig,
    PodSandboxState,
    PodSandboxStatus,
    RuntimeHandler,
    RuntimeStatus,
)


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


class Runtime:
    """The runtime service in memory: a test double recording what the syncer asks of it."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.sandboxes: dict[str, PodSandboxStatus] = {}
        self.containers: dict[str, ContainerStatus] = {}
        self.calls: list[str] = []
        self.fail_create: str = ""
        self._ids = itertools.count(1)

    def _ns(self) -> int:
        return int(self.clock() * 1e9) + next(self._ids)

    async def status(self) -> RuntimeStatus:
        return RuntimeStatus(handlers=[RuntimeHandler(name="")])  # no user namespaces

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]:
        return list(self.sandboxes.values())

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        return [c for c in self.containers.values() if c.sandbox_id == sandbox_id]

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        sid = f"sb{next(self._ids)}"
        self.sandboxes[sid] = PodSandboxStatus(
            sid, config.metadata, PodSandboxState.SANDBOX_READY, self._ns(), ip="10.42.0.9"
        )
        self.calls.append(f"run_pod_sandbox {config.metadata.name}")
        return sid

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig
    ) -> str:
        if self.fail_create:
            raise errors.ContainerError(self.fail_create, reason="CreateContainerError")
        cid = f"c{next(self._ids)}"
        self.containers[cid] = ContainerStatus(
            cid,
            config.metadata,
            ContainerState.CONTAINER_CREATED,
            self._ns(),
            annotations=config.annotations,
            sandbox_id=sandbox_id,
        )
        self.calls.append(f"create {config.metadata.name} attempt={config.metadata.attempt}")
        return cid

    async def start_container(self, container_id: str) -> None:
        c = self.containers[container_id]
        self.containers[container_id] = replace(
            c, state=ContainerState.CONTAINER_RUNNING, started_at=self._ns()
        )
        self.calls.append(f"start {c.metadata.name}")

    async def stop_container(self, container_id: str, timeout: float) -> None:
        c = self.containers[container_id]
        self.containers[container_id] = replace(
            c, state=ContainerState.CONTAINER_EXITED, finished_at=self._ns(), exit_code=137
        )
        self.calls.append(f"stop {c.metadata.name} grace={timeout}")

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        s = self.sandboxes[sandbox_id]
        self.sandboxes[sandbox_id] = replace(s, state=PodSandboxState.SANDBOX_NOTREADY)
        self.calls.append("stop_pod_sandbox")

    async def remove_container(self, container_id: str) -> None:
        self.containers.pop(container_id, None)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        self.sandboxes.pop(sandbox_id, None)

    def exit(self, name: str, code: int) -> None:
        for cid, c in self.containers.items():
            if c.metadata.name == name and c.state == ContainerState.CONTAINER_RUNNING:
                self.containers[cid] = replace(
                    c, state=ContainerState.CONTAINER_EXITED, exit_code=code, finished_at=self._ns()
                )


class Images:
    user = ""  # the images' configured User

    async def image_status(self, image: str) -> Image | None:
        return Image(f"sha256:{image}", [image], [], 10, ImageConfig(user=self.user))

    async def pull_image(self, image: str, **_: Any) -> str:
        return f"sha256:{image}"


def pod(*names: str, sidecars: tuple[str, ...] = (), **spec: Any) -> dict:
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
        "spec": {
            "containers": [
                {"name": n, "image": "busybox", "imagePullPolicy": "IfNotPresent"} for n in names
            ],
            "initContainers": [
                {"name": n, "image": "busybox", "restartPolicy": "Always"} for n in sidecars
            ],
            **spec,
        },
    }


def syncer(
    clock: Clock, runtime: Runtime, env_error: str = "", dns: DNSConfigurer | None = None
) -> PodSyncer:
    async def make_env(pod: dict, container: dict) -> list[tuple[str, str]]:
        if env_error:
            raise ConfigError(env_error)
        return [("A", "1")]

    async def make_mounts(pod: dict, container: dict, envs: list, restart_count: int) -> list:
        return []

    async def run_hook(*_: Any) -> str:
        return ""

    return PodSyncer(
        runtime,  # type: ignore[arg-type]
        Images(),  # type: ignore[arg-type]
        puller=ImagePuller(Images(), clock=clock),  # type: ignore[arg-type]
        crash_backoff=Backoff(clock),
        dns=dns or DNSConfigurer(cluster_dns=["10.43.0.10"], resolv_conf=""),
        cgroup_root="/kubelite",
        memory_capacity=1 << 30,
        make_env=make_env,
        make_mounts=make_mounts,
        run_hook=run_hook,
        probe_result=lambda cid, kind: None,
    )


class Events(list):
    async def __call__(self, kind: str, reason: str, message: str, path: str) -> None:
        self.append((reason, message, path))


async def sync(s: PodSyncer, p: dict, events: Events):  # type: ignore[no-untyped-def]
    return await s.sync_pod(p, await s.runtime_status("u1"), events)


async def test_a_new_pod_gets_its_sandbox_then_each_container_created_and_started() -> None:
    clock = Clock()
    runtime = Runtime(clock)
    events = Events()
    result = await sync(syncer(clock, runtime), pod("a", "b"), events)
    assert result.changed and not result.errors
    assert runtime.calls == [
        "run_pod_sandbox p",
        "create a attempt=0",
        "start a",
        "create b attempt=0",
        "start b",
    ]
    # 1.35+ (#134043): the container is named by the event's fieldPath, not its message.
    assert [(r, m, f) for r, m, f in events if r in ("Created", "Started")] == [
        ("Created", "Container created", "spec.containers{a}"),
        ("Started", "Container started", "spec.containers{a}"),
        ("Created", "Container created", "spec.containers{b}"),
        ("Started", "Container started", "spec.containers{b}"),
    ]
    assert events[0] == (
        "Pulled",
        'Container image "busybox" already present on machine and can be accessed by the pod',
        "spec.containers{a}",
    )


async def test_a_crashing_container_backs_off_ten_seconds_then_twenty() -> None:
    clock = Clock()
    runtime = Runtime(clock)
    s = syncer(clock, runtime)
    spec = pod("app")
    await sync(s, spec, Events())
    runtime.exit("app", 1)
    events = Events()
    await sync(s, spec, events)  # the first restart is at once
    assert "create app attempt=1" in runtime.calls
    runtime.exit("app", 1)
    clock.now += 1
    events = Events()
    result = await sync(s, spec, events)
    assert s.reasons[("u1", "app")] == (
        "CrashLoopBackOff",
        "back-off 10s restarting failed container=app pod=p_default(u1)",
    )
    assert events == [
        (
            "BackOff",
            "Back-off restarting failed container app in pod p_default(u1)",
            "spec.containers{app}",
        )
    ]
    assert result.retry_after == pytest.approx(9.0, abs=0.01)
    clock.now += 10
    await sync(s, spec, Events())
    assert "create app attempt=2" in runtime.calls
    runtime.exit("app", 1)
    clock.now += 15
    await sync(s, spec, Events())
    assert s.reasons[("u1", "app")][1].startswith("back-off 20s")


async def test_a_configuration_error_is_create_container_config_error() -> None:
    clock = Clock()
    runtime = Runtime(clock)
    s = syncer(clock, runtime, env_error='configmap "settings" not found')
    events = Events()
    await sync(s, pod("app"), events)
    assert s.reasons[("u1", "app")] == (
        "CreateContainerConfigError",
        'configmap "settings" not found',
    )
    assert events[-1] == (
        "Failed",
        'Error: configmap "settings" not found',
        "spec.containers{app}",
    )
    assert not any(c.startswith("create") for c in runtime.calls)


async def test_a_runtime_refusal_to_create_is_create_container_error() -> None:
    clock = Clock()
    runtime = Runtime(clock)
    runtime.fail_create = 'exec: "nope": executable file not found in $PATH'
    s = syncer(clock, runtime)
    await sync(s, pod("app"), Events())
    assert s.reasons[("u1", "app")][0] == "CreateContainerError"


async def test_killing_a_pod_stops_app_containers_then_sidecars_then_the_sandbox() -> None:
    clock = Clock()
    runtime = Runtime(clock)
    s = syncer(clock, runtime)
    spec = pod("app", sidecars=("side1", "side2"), terminationGracePeriodSeconds=7)
    for _ in range(3):  # sidecars start one sync at a time, then the app
        await sync(s, spec, Events())
    assert {c.metadata.name for c in runtime.containers.values()} == {"side1", "side2", "app"}
    runtime.calls.clear()
    events = Events()
    await s.kill_pod(spec, await s.runtime_status("u1"), events)
    assert runtime.calls == [
        "stop app grace=7",
        "stop side2 grace=7",
        "stop side1 grace=7",
        "stop_pod_sandbox",
    ]
    assert events[0] == ("Killing", "Stopping container app", "spec.containers{app}")
    assert events[1][2] == "spec.initContainers{side2}"


async def test_a_hostname_too_long_for_an_fqdn_fails_the_sandbox_and_starts_nothing() -> None:
    clock = Clock()
    runtime = Runtime(clock)
    spec = pod("a", hostname="h" * 30, subdomain="s" * 20, setHostnameAsFQDN=True)
    events = Events()
    result = await sync(syncer(clock, runtime), spec, events)
    fqdn = f"{'h' * 30}.{'s' * 20}.default.svc.cluster.local"
    message = (
        "Failed to create pod sandbox: failed to construct FQDN from pod hostname and cluster "
        f"domain, FQDN {fqdn} is too long (64 characters is the max, {len(fqdn)} characters "
        "requested)"
    )
    assert events == [("FailedCreatePodSandBox", message, "")]
    assert runtime.calls == [] and result.errors


async def test_dns_limits_are_reported_on_the_pod_each_sync_that_forms_its_config() -> None:
    clock = Clock()
    runtime = Runtime(clock)
    spec = pod("a", dnsConfig={"nameservers": ["10.0.0.1", "10.0.0.2", "10.0.0.3"]})
    events = Events()
    await sync(syncer(clock, runtime), spec, events)
    message = (
        "Nameserver limits were exceeded, some nameservers have been omitted, the applied "
        "nameserver line is: 10.43.0.10 10.0.0.1 10.0.0.2"
    )
    assert ("DNSConfigForming", message, "") in events
    assert "start a" in runtime.calls


async def test_missing_cluster_dns_is_reported_on_the_pod_and_the_node() -> None:
    clock = Clock()
    runtime = Runtime(clock)
    s = syncer(clock, runtime, dns=DNSConfigurer(resolv_conf=""))
    node_events: list[tuple[str, str]] = []

    async def record_node(kind: str, reason: str, message: str) -> None:
        node_events.append((reason, message))

    s.record_node = record_node
    events = Events()
    await sync(s, pod("a"), events)
    text = (
        'kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" '
        'policy. Falling back to "Default" policy.'
    )
    assert node_events == [("MissingClusterDNS", text)]
    assert ("MissingClusterDNS", f'pod: "p_default(u1)". {text}', "") in events


async def test_run_as_non_root_refuses_a_root_image_before_creating_it() -> None:
    clock = Clock()
    runtime = Runtime(clock)
    s = syncer(clock, runtime)
    events = Events()
    await sync(s, pod("app", securityContext={"runAsNonRoot": True}), events)
    message = (
        'container has runAsNonRoot and image will run as root (pod: "p_default(u1)", '
        "container: app)"
    )
    assert s.reasons[("u1", "app")] == ("CreateContainerConfigError", message)
    assert events[-1] == ("Failed", f"Error: {message}", "spec.containers{app}")
    assert not any(c.startswith("create") for c in runtime.calls)


async def test_run_as_non_root_cannot_check_a_named_image_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    runtime = Runtime(clock)
    monkeypatch.setattr(Images, "user", "nginx")
    s = syncer(clock, runtime)
    await sync(s, pod("app", securityContext={"runAsNonRoot": True}), Events())
    reason, message = s.reasons[("u1", "app")]
    assert reason == "CreateContainerConfigError"
    assert message.startswith(
        "container has runAsNonRoot and image has non-numeric user (nginx), cannot verify user "
        "is non-root"
    )
    monkeypatch.setattr(Images, "user", "101")
    await sync(s, pod("app", securityContext={"runAsNonRoot": True}), Events())
    assert "create app attempt=0" in runtime.calls


async def test_host_users_false_fails_the_sandbox_on_a_runtime_without_user_namespaces() -> None:
    clock = Clock()
    runtime = Runtime(clock)
    events = Events()
    result = await sync(syncer(clock, runtime), pod("app", hostUsers=False), events)
    assert events == [
        (
            "FailedCreatePodSandBox",
            "Failed to create pod sandbox: can't set `spec.hostUsers: false`, runtime does not "
            "support user namespaces",
            "",
        )
    ]
    assert runtime.calls == [] and result.errors
