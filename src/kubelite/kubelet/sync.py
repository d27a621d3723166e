"""Carrying out one pod sync against the container runtime: the doing half of SyncPod.

`pod_actions.compute_pod_actions` decides; this module does, in Kubernetes' order
(`kubeGenericRuntimeManager.SyncPod`, kuberuntime_manager.go):

1. a sandbox to replace is announced (`SandboxChanged`);
2. the pod is killed (every container, then the sandbox) when it must be, or else the
   containers to kill are stopped, each with a `Killing` event (and, for a RestartAllContainers
   reset, every container is killed without grace and removed, the sandbox kept);
3. a sandbox is made (`FailedCreatePodSandBox` when that fails);
4. init containers are started in order, stopping at the first that fails (a sidecar's failure
   does not stop the others);
5. app containers are started.

Between 2 and 3, a pod whose allocation changed (an in-place resize) has its running containers
resized (`resize_actions` decides, `resize_actuation` does); containers whose resize policy
asks for a restart are among those killed in 2 and started in 5, with the new resources. The
pod given to a sync is the pod as allocated: its containers are made with what the kubelet
allocated them, which may lag the spec.

Starting a container (`startContainer`) checks its crash back-off first
(`back-off 10s restarting failed container=app pod=web_default(uid)`), then that the image
volumes it mounts were pulled (`image_volumes`: the first start of a sync pulls them), makes sure
of its image, builds its environment and mounts (mounting those images), creates it (`Created`),
starts it (`Started`), and runs its postStart hook. Each failure is remembered per container
as a waiting reason and message (the kubelet's reason cache: CrashLoopBackOff, ErrImagePull,
CreateContainerConfigError, CreateContainerError, RunContainerError...), which the pod's status
shows until a start succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from kubelite.api import pods as podutil
from kubelite.api.types import Obj
from kubelite.kubelet import pod_actions as pa
from kubelite.kubelet import runtime_config as rc
from kubelite.kubelet.allocation.manager import POD_RESOURCES, pod_resources_of
from kubelite.kubelet.backoff import Backoff
from kubelite.kubelet.dns import DNSConfigurer, DNSError
from kubelite.kubelet.envvars import ConfigError, ObjectLookup, expand_command
from kubelite.kubelet.image_volumes import (
    ImageVolumes,
    SyncPulls,
    image_volume_sources,
    mount_failures,
)
from kubelite.kubelet.images import ImagePuller, ImagePullError
from kubelite.kubelet.pod_cgroups import apply_pod_config
from kubelite.kubelet.podref import field_path, format_pod
from kubelite.kubelet.pull_secrets import PodPullSecrets
from kubelite.kubelet.resize_actions import ResizeActions, compute_resize_actions
from kubelite.kubelet.resize_actuation import ResizeActuator, ResizeError
from kubelite.kubelet.status.messages import crash_loop_back_off_message
from kubelite.kubelet.volumes.image import ImageVolumeMountError
from kubelite.runtime import errors as runtime_errors
from kubelite.runtime.cri import (
    ContainerState,
    ImageService,
    Mount,
    PodSandboxConfig,
    RuntimeService,
)

log = logging.getLogger(__name__)


# Waiting reasons the kubelet sets when a start fails (pkg/kubelet/container/sync_result.go).
CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
CREATE_CONTAINER_ERROR = "CreateContainerError"
RUN_CONTAINER_ERROR = "RunContainerError"
PRE_START_HOOK_ERROR = "PreStartHookError"
POST_START_HOOK_ERROR = "PostStartHookError"

# The shortest grace period the kubelet gives a container it kills during a sync
# (minimumGracePeriodInSeconds in kuberuntime_manager.go).
MINIMUM_GRACE_PERIOD = 2
# After a sync that failed, the pod worker's next try (pod_workers.go workerBackOffPeriod,
# jittered by up to half).
WORKER_BACKOFF = 10.0
WORKER_BACKOFF_JITTER = 0.5
SANDBOX_CHANGED_MESSAGE = "Pod sandbox changed, it will be killed and re-created."
# userns_manager.go, for a pod with `hostUsers: false` whose runtime cannot map its users.
USERNS_UNSUPPORTED = "can't set `spec.hostUsers: false`, runtime does not support user namespaces"
# The Killing event's message for a container a RestartAllContainers reset stops (the message
# kuberuntime's SyncPod gives killContainer for ContainersToReset).
RESTART_ALL_KILL_MESSAGE = "killing"
# The grace period of a pod that names none (API default of terminationGracePeriodSeconds).
DEFAULT_GRACE_PERIOD = 30

# Records an event about the pod: (type, reason, message, field path).
PodRecorder = Callable[[str, str, str, str], Awaitable[None]]
# Builds a container's environment (raises envvars.ConfigError) and its mounts (given the
# restart count of the instance about to be made).
EnvMaker = Callable[[Obj, Obj], Awaitable[list[tuple[str, str]]]]
MountMaker = Callable[[Obj, Obj, list[tuple[str, str]], int], Awaitable[list[Mount]]]
# Records an event about the node itself: (type, reason, message).
NodeRecorder = Callable[[str, str, str], Awaitable[None]]
# Runs a lifecycle hook (postStart) in a container; returns an error message or "".
HookRunner = Callable[[Obj, Obj, str, Obj], Awaitable[str]]


def backoff_key(pod: Obj, container: Obj) -> str:
    """getStableKey: pod name, namespace, uid, container name and spec hash."""
    md = pod["metadata"]
    return (
        f"{md['name']}_{md['namespace']}_{md.get('uid', '')}_{container['name']}_"
        f"{rc.spec_hash(container)}"
    )


def grace_period(pod: Obj, override: int | None = None) -> int:
    if override is not None:
        return override
    spec = pod.get("spec") or {}
    md = pod.get("metadata") or {}
    seconds = md.get("deletionGracePeriodSeconds")
    if seconds is None:
        seconds = spec.get("terminationGracePeriodSeconds")
    return DEFAULT_GRACE_PERIOD if seconds is None else int(seconds)


@dataclass
class SyncResult:
    """What a sync did, for the worker: whether it changed anything, and the earliest time a
    back-off ends (the worker syncs the pod again then)."""

    changed: bool = False
    retry_after: float | None = None
    errors: list[str] = field(default_factory=list)
    # An in-place resize this sync carried out: "" when it succeeded, the error when not;
    # None when there was none to do.
    resize_error: str | None = None

    def retry(self, seconds: float) -> None:
        if self.retry_after is None or seconds < self.retry_after:
            self.retry_after = seconds


class PodSyncer:
    """SyncPod and KillPod for the pods of one node."""

    def __init__(
        self,
        runtime: RuntimeService,
        images: ImageService,
        *,
        puller: ImagePuller,
        crash_backoff: Backoff,
        dns: DNSConfigurer,
        cgroup_root: str,
        memory_capacity: int,
        logs_root: str = rc.POD_LOGS_ROOT,
        make_env: EnvMaker,
        make_mounts: MountMaker,
        run_hook: HookRunner,
        probe_result: pa.ProbeResult,
        record_node: NodeRecorder | None = None,
        seccomp_root: str = rc.SECCOMP_ROOT,
        seccomp_default: bool = False,
        resizer: ResizeActuator | None = None,
        image_volumes: ImageVolumes | None = None,
        pull_secrets: ObjectLookup | None = None,
    ) -> None:
        self.runtime = runtime
        self.images = images
        self.puller = puller
        self.crash_backoff = crash_backoff
        self.dns = dns
        self.record_node = record_node
        self.cgroup_root = cgroup_root
        self.logs_root = logs_root
        self.memory_capacity = memory_capacity
        self.make_env = make_env
        self.make_mounts = make_mounts
        self.run_hook = run_hook
        self.probe_result = probe_result
        # Where Localhost seccomp profiles are, and whether unset ones are RuntimeDefault.
        self.seccomp_root = seccomp_root
        self.seccomp_default = seccomp_default
        # The reason cache: (pod uid, container name) -> (waiting reason, message).
        self.reasons: dict[tuple[str, str], tuple[str, str]] = {}
        # In-place resize (the pod cgroup, the actuated state); None: containers are never
        # resized, and pods get no pod-level cgroup limits.
        self.resizer = resizer
        # Pulls and mounts the pods' image volumes; None: they are neither (a hollow node).
        self.image_volumes = image_volumes
        # Where the pods' imagePullSecrets are read; None: images are pulled without them.
        self.pull_secrets = pull_secrets

    async def sandbox_config(self, pod: Obj, attempt: int, record: PodRecorder) -> PodSandboxConfig:
        """generatePodSandboxConfig, once per sync that needs it, recording the warnings that
        forming the pod's DNS gave rise to (Kubernetes repeats them each time too; the event
        recorder counts repeats). Raises SandboxConfigError."""
        if (pod.get("spec") or {}).get("hostUsers") is False:
            await self._check_user_namespaces()
        try:
            dns = self.dns.pod_dns(pod)
        except DNSError as e:
            raise rc.SandboxConfigError(str(e)) from e
        for event in dns.events:
            if event.about == "pod":
                await record("Warning", event.reason, event.message, "")
            elif self.record_node is not None:
                await self.record_node("Warning", event.reason, event.message)
        return rc.sandbox_config(
            pod,
            attempt=attempt,
            dns_config=dns.config,
            cgroup_root=self.cgroup_root,
            cluster_domain=self.dns.cluster_domain,
            logs_root=self.logs_root,
        )

    async def _check_user_namespaces(self) -> None:
        """GetOrCreateUserNamespaceMappings for `hostUsers: false`: the pod's runtime handler
        must support user namespaces (this node does not allocate ID ranges further)."""
        handler = (await self.runtime.status()).handler("")
        if handler is None or not handler.features.user_namespaces:
            raise rc.SandboxConfigError(USERNS_UNSUPPORTED)

    # --- what the runtime has -------------------------------------------------------------------

    async def runtime_status(self, pod_uid: str) -> pa.PodRuntimeStatus:
        """The pod's sandboxes and containers, newest first (GetPodStatus)."""
        sandboxes = [
            s for s in await self.runtime.list_pod_sandboxes() if s.metadata.uid == pod_uid
        ]
        sandboxes.sort(key=lambda s: s.created_at, reverse=True)
        containers = []
        for sandbox in sandboxes:
            containers += await self.runtime.list_containers(sandbox.id)
        containers.sort(key=lambda c: c.created_at, reverse=True)
        return pa.PodRuntimeStatus(sandboxes=sandboxes, containers=containers)

    # --- syncing --------------------------------------------------------------------------------

    async def sync_pod(
        self,
        pod: Obj,
        status: pa.PodRuntimeStatus,
        record: PodRecorder,
        *,
        restart_all: bool = False,
    ) -> SyncResult:
        """SyncPod. `restart_all`: the pod's AllContainersRestarting condition is True."""
        result = SyncResult()
        actions = pa.compute_pod_actions(
            pod,
            status,
            probe_result=self.probe_result,
            spec_hash=rc.spec_hash,
            restart_all=restart_all,
        )
        if actions.create_sandbox and actions.sandbox_id:
            await record(
                "Normal",
                "SandboxChanged",
                "Pod sandbox changed, it will be killed and re-created.",
                "",
            )
        if actions.kill_pod:
            await self.kill_pod(pod, status, record)
            result.changed = True
            if actions.create_sandbox:
                await self._purge_init_containers(pod, status)
        else:
            resize = self._resize_actions(pod, status, actions)
            for kill in actions.containers_to_kill:
                spec = _container_spec(pod, kill.name)
                await self.kill_container(pod, kill.container_id, spec, kill.message, record)
                result.changed = True
            if resize is not None and not resize.empty:
                await self._resize(pod, resize, result)
            if actions.containers_to_reset:
                await self._reset_containers(pod, actions.containers_to_reset, record, result)
        sandbox_id = actions.sandbox_id
        if not (
            actions.create_sandbox
            or actions.init_containers_to_start
            or actions.containers_to_start
        ):
            return result
        if actions.create_sandbox:
            try:
                config = await self.sandbox_config(pod, actions.attempt, record)
                sandbox_id = await self.runtime.run_pod_sandbox(config)
            except (rc.SandboxConfigError, runtime_errors.RuntimeFailure) as e:
                await record(
                    "Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {e}", ""
                )
                result.errors.append(str(e))
                return result
            result.changed = True
            status = pa.PodRuntimeStatus(sandboxes=[], containers=[])
            if self.resizer is not None:
                apply_pod_config(self.resizer.cgroups, pod, self._cgroup(pod))
                # SetActuatedResources: the pod cgroup is sized for the pod's own resources.
                self.resizer.record_actuated(pod, POD_RESOURCES, pod_resources_of(pod))
        else:
            try:
                config = await self.sandbox_config(pod, actions.attempt, record)
            except rc.SandboxConfigError as e:
                # GeneratePodSandboxConfig failed: nothing starts this time.
                log.error("pod %s: generating its sandbox config failed: %s", format_pod(pod), e)
                result.errors.append(str(e))
                result.retry(_worker_backoff())
                return result
        spec = pod.get("spec") or {}
        # The pod's pull secrets, read once for every image this sync pulls (getPullSecretsForPod).
        secrets = PodPullSecrets(pod, self.pull_secrets) if self.pull_secrets is not None else None
        # The image volumes are pulled by the first container this sync starts (getImageVolumes).
        pulls = None
        if self.image_volumes is not None and image_volume_sources(pod):
            pulls = SyncPulls(self.image_volumes, pod, record, secrets)
        init_containers = spec.get("initContainers") or []
        for index in actions.init_containers_to_start:
            container = init_containers[index]
            ok = await self._start(
                pod, container, sandbox_id, config, status, record, result, pulls, secrets
            )
            if not ok and not podutil.is_restartable_init_container(container):
                return result
        for index in actions.containers_to_start:
            container = (spec.get("containers") or [])[index]
            await self._start(
                pod, container, sandbox_id, config, status, record, result, pulls, secrets
            )
        return result

    async def _start(
        self,
        pod: Obj,
        container: Obj,
        sandbox_id: str,
        sandbox_config: PodSandboxConfig,
        status: pa.PodRuntimeStatus,
        record: PodRecorder,
        result: SyncResult,
        image_pulls: SyncPulls | None = None,
        pull_secrets: PodPullSecrets | None = None,
    ) -> bool:
        """startContainer, after the crash back-off check (doBackOff) and the check that the
        image volumes the container mounts were pulled (toKubeContainerImageVolumes)."""
        name = container["name"]
        uid = pod["metadata"].get("uid", "")
        path = field_path(pod, name)
        previous = status.latest(name)
        if previous is not None and previous.state == ContainerState.CONTAINER_EXITED:
            key = backoff_key(pod, container)
            finished = previous.finished_at / 1e9
            if self.crash_backoff.in_backoff_since(key, finished):
                await record(
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container {name} in pod {format_pod(pod)}",
                    path,
                )
                message = crash_loop_back_off_message(pod, name, self.crash_backoff.get(key))
                self.reasons[(uid, name)] = (CRASH_LOOP_BACK_OFF, message)
                result.retry(self.crash_backoff.remaining(key, finished))
                return False
            self.crash_backoff.next(key, finished)

        async def fail(reason: str, message: str) -> bool:
            self.reasons[(uid, name)] = (reason, message)
            await record("Warning", "Failed", f"Error: {message}", path)
            result.errors.append(message)
            result.retry(_worker_backoff())
            return False

        async def on_event(kind: str, reason: str, message: str) -> None:
            await record(kind, reason, message, path)

        async def pull_failed(failures: list[ImagePullError]) -> bool:
            # An event per failed image (one per image volume mount), the last one's reason.
            for failure in failures:
                await record("Warning", "Failed", f"Error: {failure.reason}", path)
            last = failures[-1]
            self.reasons[(uid, name)] = (last.reason, last.message)
            result.errors.append(last.message)
            if last.reason in ("ErrImagePull", "ImagePullBackOff"):
                # A failed sync is tried again after the pod workers' back-off, not when the
                # image's own back-off ends: so the status alternates between ErrImagePull
                # and ImagePullBackOff as the back-off grows, as Kubernetes' does.
                result.retry(_worker_backoff())
            return False

        pulls = await image_pulls.get() if image_pulls is not None else {}
        if failures := mount_failures(container, pulls):
            return await pull_failed(failures)
        try:
            auths = (
                await pull_secrets.credentials(container.get("image") or "")
                if pull_secrets is not None
                else []
            )
            image_id = await self.puller.ensure_image(pod, container, on_event, auths=auths)
        except ImagePullError as e:
            return await pull_failed([e])
        restart_count = previous.metadata.attempt + 1 if previous is not None else 0
        image = await self.images.image_status(image_id)
        try:
            envs = await self.make_env(pod, container)
            if pulls and self.image_volumes is not None:
                # The runtime's part in Kubernetes (CreateContainer mounts the images).
                await self.image_volumes.mount(pod, container, pulls)
            mounts = await self.make_mounts(pod, container, envs, restart_count)
            # runAsNonRoot is checked against the image's user once env and mounts are made.
            config = rc.container_config(
                pod,
                container,
                image=image_id,
                restart_count=restart_count,
                envs=envs,
                mounts=mounts,
                command=expand_command(container.get("command") or [], envs),
                args=expand_command(container.get("args") or [], envs),
                memory_capacity=self.memory_capacity,
                image_user=image.config.user if image is not None else "",
                seccomp_root=self.seccomp_root,
                seccomp_default=self.seccomp_default,
            )
        except ConfigError as e:
            return await fail(CREATE_CONTAINER_CONFIG_ERROR, str(e))
        except ImageVolumeMountError as e:
            return await fail(CREATE_CONTAINER_ERROR, str(e))
        try:
            container_id = await self.runtime.create_container(sandbox_id, config, sandbox_config)
        except runtime_errors.RuntimeFailure as e:
            return await fail(CREATE_CONTAINER_ERROR, str(e))
        # Since 1.35 (#134043) the message leaves the name to involvedObject.fieldPath.
        await record("Normal", "Created", "Container created", path)
        if self.resizer is not None:
            # SetActuatedResources: the container runs with the resources it was made with.
            self.resizer.record_actuated(pod, name, container.get("resources") or {})
        try:
            await self.runtime.start_container(container_id)
        except runtime_errors.RuntimeFailure as e:
            return await fail(RUN_CONTAINER_ERROR, str(e))
        await record("Normal", "Started", "Container started", path)
        result.changed = True
        self.reasons.pop((uid, name), None)
        hook = ((container.get("lifecycle") or {}).get("postStart")) or None
        if hook:
            problem = await self.run_hook(pod, container, container_id, hook)
            if problem:
                # The event leaves the hook's output out, as the kubelet does: it may carry
                # secrets.
                await record("Warning", "FailedPostStartHook", "PostStartHook failed", path)
                await self.kill_container(
                    pod, container_id, container, "FailedPostStartHook", record
                )
                self.reasons[(uid, name)] = (POST_START_HOOK_ERROR, problem)
                return False
        return True

    # --- resizing -------------------------------------------------------------------------------

    def _cgroup(self, pod: Obj) -> str:
        return rc.pod_cgroup_parent(pod, self.cgroup_root)

    def _resize_actions(
        self, pod: Obj, status: pa.PodRuntimeStatus, actions: pa.PodActions
    ) -> ResizeActions | None:
        """computePodResizeAction over the running containers (restarts join `actions`)."""
        if self.resizer is None:
            return None
        resizer = self.resizer
        uid = pod["metadata"].get("uid", "")
        resize = compute_resize_actions(
            pod, status, actions, lambda name: resizer.actuated(uid, name)
        )
        for name, resources in resize.adopted:
            resizer.record_actuated(pod, name, resources)
        return resize

    async def _resize(self, pod: Obj, resize: ResizeActions, result: SyncResult) -> None:
        """doPodResizeAction; its outcome goes to `result.resize_error`."""
        assert self.resizer is not None
        try:
            await self.resizer.actuate(pod, self._cgroup(pod), resize)
        except ResizeError as e:
            log.warning("pod %s: resize failed: %s", format_pod(pod), e)
            result.resize_error = str(e)
            result.errors.append(str(e))
            result.retry(_worker_backoff())
            return
        if resize.update_pod_resources:
            # The pod cgroup now holds what the pod's own resources ask (pod-level resize).
            self.resizer.record_actuated(pod, POD_RESOURCES, pod_resources_of(pod))
        result.resize_error = ""
        result.changed = True

    # --- killing --------------------------------------------------------------------------------

    async def kill_container(
        self,
        pod: Obj,
        container_id: str,
        container: Obj | None,
        message: str,
        record: PodRecorder,
        *,
        grace_override: int | None = None,
        pre_stop: bool = True,
    ) -> None:
        """killContainer: a Killing event, the preStop hook, then stop with the grace period."""
        name = container["name"] if container else ""
        await record(
            "Normal",
            "Killing",
            message or f"Stopping container {name}",
            field_path(pod, name) if name else "",
        )
        grace = grace_period(pod, grace_override)
        hook = ((container or {}).get("lifecycle") or {}).get("preStop") if pre_stop else None
        if hook and container is not None:
            # The hook's time counts against the grace period.
            started = time.monotonic()
            try:
                # The hook runs within the grace period, never past it.
                async with asyncio.timeout(grace):
                    problem = await self.run_hook(pod, container, container_id, hook)
            except TimeoutError:
                problem = f"PreStopHook did not finish within the grace period of {grace}s"
            if problem:
                await record(
                    "Warning",
                    "FailedPreStopHook",
                    f"PreStopHook failed: {problem}",
                    field_path(pod, name),
                )
            grace = max(int(grace - (time.monotonic() - started)), 0)
        grace = max(grace, MINIMUM_GRACE_PERIOD) if grace_override is None else grace
        with contextlib.suppress(runtime_errors.NotFound):  # already gone: stopped
            await self.runtime.stop_container(container_id, grace)

    async def kill_pod(
        self,
        pod: Obj,
        status: pa.PodRuntimeStatus,
        record: PodRecorder,
        *,
        grace_override: int | None = None,
    ) -> None:
        """killPodWithSyncResult: app containers first, sidecars after them in reverse order,
        then the sandboxes."""
        running = [c for c in status.containers if c.state == ContainerState.CONTAINER_RUNNING]
        spec = pod.get("spec") or {}
        sidecars = [c["name"] for c in podutil.sidecars(spec)]
        apps = [c for c in running if c.metadata.name not in sidecars]
        for status_ in apps:
            await self.kill_container(
                pod,
                status_.id,
                _container_spec(pod, status_.metadata.name),
                "",
                record,
                grace_override=grace_override,
            )
        for name in reversed(sidecars):
            for status_ in running:
                if status_.metadata.name == name:
                    await self.kill_container(
                        pod,
                        status_.id,
                        _container_spec(pod, name),
                        "",
                        record,
                        grace_override=grace_override,
                    )
        for sandbox in status.sandboxes:
            await self.runtime.stop_pod_sandbox(sandbox.id)

    async def _reset_containers(
        self,
        pod: Obj,
        resets: list[pa.ContainerToReset],
        record: PodRecorder,
        result: SyncResult,
    ) -> None:
        """RestartAllContainers: kill what still runs, at once and without its preStop hook,
        then remove every instance, stopping at the first failure (the sync after it finds
        the rest, the trigger still among them). The sandbox stays; with no containers left,
        the next sync starts the pod over and the reason cache starts empty."""
        uid = pod["metadata"].get("uid", "")
        for reset in resets:
            if reset.kill:
                await self.kill_container(
                    pod,
                    reset.container_id,
                    _container_spec(pod, reset.name),
                    RESTART_ALL_KILL_MESSAGE,
                    record,
                    grace_override=0,
                    pre_stop=False,
                )
            try:
                await self.runtime.remove_container(reset.container_id)
            except runtime_errors.NotFound:
                pass
            except runtime_errors.RuntimeFailure as e:
                log.warning("removing container %s failed: %s", reset.container_id, e)
                result.errors.append(str(e))
                result.retry(_worker_backoff())
                return
            self.reasons.pop((uid, reset.name), None)
            result.changed = True

    async def _purge_init_containers(self, pod: Obj, status: pa.PodRuntimeStatus) -> None:
        """A new sandbox starts initialization over: the old init containers go."""
        names = {c["name"] for c in (pod.get("spec") or {}).get("initContainers") or ()}
        for container in status.containers:
            if container.metadata.name in names:
                try:
                    await self.runtime.remove_container(container.id)
                except runtime_errors.RuntimeFailure as e:
                    log.warning("removing init container %s failed: %s", container.id, e)

    async def remove_pod(self, status: pa.PodRuntimeStatus) -> None:
        """Everything of a terminated pod goes: containers, then sandboxes."""
        for container in status.containers:
            try:
                await self.runtime.remove_container(container.id)
            except runtime_errors.RuntimeFailure as e:
                log.warning("removing container %s failed: %s", container.id, e)
        for sandbox in status.sandboxes:
            await self.runtime.remove_pod_sandbox(sandbox.id)


def _container_spec(pod: Obj, name: str) -> Obj | None:
    spec = pod.get("spec") or {}
    for container in podutil.all_containers(spec):
        if container.get("name") == name:
            return container
    return None


def _worker_backoff() -> float:
    return WORKER_BACKOFF * (1 + random.random() * WORKER_BACKOFF_JITTER)
