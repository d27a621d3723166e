"""The kubelet: the node agent that makes the pods bound to its node real, and reports them.

It puts together what the other modules of this package do, the way Kubernetes' kubelet
(`pkg/kubelet/kubelet.go`) does:

- `node.heartbeat` registers the Node and keeps its lease and status fresh;
- an informer watches the Services of the cluster, for the environment variables every
  container gets (`service_env`); pods are taken on once it has listed them, as the kubelet
  refuses to build an environment before its Service informer has synced;
- an informer watches the pods bound to this node (`spec.nodeName=<node>`); each pod gets a
  `PodWorker`, woken when the pod changes, when one of its containers exits (the runtime's
  events, no polling) and when a probe result changes;
- a new pod is first put to the admit handlers (the sysctl allowlist, AppArmor): one that
  refuses it fails the pod for good (`admission`), and nothing of it is ever run;
- a worker's sync prepares the pod's volumes, runs `sync.PodSyncer.sync_pod` (sandbox, init
  containers, containers, restarts with back-off), computes the status with `status` and hands
  it to the `StatusManager`;
- each admitted pod has an allocation (`allocation`): the resources its containers run with.
  A spec asking for other resources is a resize, allocated when it fits the node (else
  PodResizePending says why), then carried out by the sync in place or by restarts as the
  containers' resize policies say (PodResizeInProgress until it is done);
- a pod being deleted, or one that reached Succeeded or Failed, has its containers stopped
  (preStop hook, stop signal, SIGKILL after the grace period); a deleted pod then loses its
  containers, sandbox and volumes, and the kubelet confirms the deletion to the API server
  (a DELETE with grace period 0 and the pod's uid), as the kubelet's status manager does once
  `canBeDeleted`;
- at start it adopts what the runtime already runs (a restarted kubelet restarts nothing) and
  removes sandboxes of pods the API server no longer has.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
import shutil
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelite.api import pods as podutil
from kubelite.api.meta import format_time
from kubelite.api.qos import qos_class
from kubelite.api.resources import CONFIG_MAPS, PODS, SECRETS, SERVICES, Resource
from kubelite.api.restart_rules import all_containers_could_restart as could_restart_all
from kubelite.api.servicenetwork import CLUSTER_DOMAIN
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import (
    APIConflictError,
    APIConnectionError,
    APIError,
    APINotFoundError,
)
from kubelite.client.events import EventRecorder
from kubelite.client.informer import Informer, by_namespace
from kubelite.client.informers import strip_managed_fields
from kubelite.kubelet import envvars, resize_events, service_env, sysctl, termination
from kubelite.kubelet import pod_actions as pa
from kubelite.kubelet import runtime_config as rc
from kubelite.kubelet import status as podstatus
from kubelite.kubelet.admission import PodAdmitHandler, PodAdmitResult, can_admit, rejected_status
from kubelite.kubelet.allocation.manager import (
    POD_RESOURCES,
    REASON_ERROR,
    AllocationManager,
    pod_resources_of,
    resizable_containers,
    resources_equal,
)
from kubelite.kubelet.apparmor import AppArmorAdmission
from kubelite.kubelet.backoff import Backoff
from kubelite.kubelet.dns import (
    CHECK_LIMITS_FOR_RESOLV_CONF,
    RESOLV_CONF_CANDIDATES,
    DNSConfigurer,
)
from kubelite.kubelet.image_pull_manager import ImagePullManager
from kubelite.kubelet.image_pull_records import FilePullRecords
from kubelite.kubelet.image_volumes import ImageVolumes
from kubelite.kubelet.images import ImagePuller
from kubelite.kubelet.lifecycle import run_hook
from kubelite.kubelet.node import status as node_shapes
from kubelite.kubelet.node.heartbeat import NodeHeartbeat
from kubelite.kubelet.node.pod_cidr import wait_for_pod_cidr
from kubelite.kubelet.pod_cgroups import PodCgroups
from kubelite.kubelet.pod_workers import PodWorker
from kubelite.kubelet.prober import ProbeKind, ProbeManager
from kubelite.kubelet.resize_actuation import ResizeActuator
from kubelite.kubelet.server import (
    DEFAULT_PORT,
    ContainerNotAvailable,
    ContainerNotFound,
    KubeletServer,
    PodNotFound,
    ServingTLS,
)
from kubelite.kubelet.status_manager import StatusManager
from kubelite.kubelet.sync import PodRecorder, PodSyncer
from kubelite.kubelet.token_manager import TokenManager
from kubelite.kubelet.volumes import (
    FAILED_MOUNT,
    MountedVolume,
    VolumeSetupError,
    mounts_for,
    prepare_volumes,
    teardown_volumes,
)
from kubelite.runtime import errors as runtime_errors
from kubelite.runtime.cri import (
    ContainerState,
    ImageService,
    Mount,
    PodSandboxState,
    RuntimeService,
)

log = logging.getLogger(__name__)


# How soon a pod whose volumes could not be set up is tried again.
VOLUME_RETRY = 2.0
# Terminal phases: a pod in one never runs again.
TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class KubeletConfig:
    """What the kubelet's flags say (KubeletConfiguration's subset kubelite acts on)."""

    node_name: str
    root_dir: Path  # pods' volumes and termination-message files live under it
    node_ip: str
    kubelet_version: str
    runtime_version: str = "0.1.0"
    pod_cidr: str = ""
    cluster_dns: list[str] = field(default_factory=list)
    cluster_domain: str = CLUSTER_DOMAIN
    # The node's resolver file pods' DNS starts from ("" for none: lookups stay local).
    resolv_conf: str = str(RESOLV_CONF_CANDIDATES[0])
    cgroup_root: str = "/kubelite"
    max_pods: int = node_shapes.DEFAULT_MAX_PODS
    logs_root: str = rc.POD_LOGS_ROOT
    # The kubelet's HTTPS server (logs, exec): its certificate and key, the CA of its clients,
    # and its port (0: any free one). Without a certificate it serves nothing.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None
    port: int = DEFAULT_PORT
    # --allowed-unsafe-sysctls: sysctls (or `prefix*`) pods may set beyond the safe set.
    allowed_unsafe_sysctls: list[str] = field(default_factory=list)
    # The SeccompDefault setting: RuntimeDefault for containers that name no profile.
    seccomp_default: bool = False


class _ApiLookup:
    """ConfigMaps and Secrets read from the API server when a container needs them."""

    def __init__(self, client: APIClient) -> None:
        self.client = client

    async def _get(self, resource: Resource, namespace: str, name: str) -> Obj | None:
        try:
            return await self.client.get(resource, name, namespace=namespace)
        except APINotFoundError:
            return None

    def config_map(self, namespace: str, name: str) -> Awaitable[Obj | None]:
        return self._get(CONFIG_MAPS, namespace, name)

    def secret(self, namespace: str, name: str) -> Awaitable[Obj | None]:
        return self._get(SECRETS, namespace, name)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Kubelet:
    """The node agent: registers the node, runs the pods bound to it through the container runtime,
    probes them, and reports node and pod status to the API server."""

    def __init__(
        self,
        client: APIClient,
        config: KubeletConfig,
        runtime: RuntimeService,
        images: ImageService,
    ) -> None:
        self.client = client
        self.config = config
        self.runtime = runtime
        self.images = images
        self.recorder = EventRecorder(client, "kubelet", config.node_name)
        self.status_manager = StatusManager(client)
        self.heartbeat = NodeHeartbeat(client, self._node_config(config.port), config.root_dir)
        self.server: KubeletServer | None = None
        self.lookup = _ApiLookup(client)
        self.tokens = TokenManager(client)
        self.dns = DNSConfigurer(
            cluster_dns=list(config.cluster_dns),
            cluster_domain=config.cluster_domain,
            resolv_conf=config.resolv_conf,
            node_ips=[config.node_ip] if config.node_ip else [],
        )
        # What env and volumes read of the node: its allocatable resources stand in for unset
        # limits (resourceFieldRef, tmpfs sizes).
        self.node_facts: Obj = {
            "status": {
                "allocatable": node_shapes.allocatable(self.heartbeat.machine, config.max_pods)
            }
        }
        self.probes = ProbeManager(runtime, record=self._probe_event, pod_ip=self._pod_ip)
        self.probes.on_change(lambda update: self.wake_pod(update.pod_uid))
        # Running containers the probe manager was told about: container id -> pod uid.
        self._probed: dict[str, str] = {}
        machine = self.heartbeat.machine
        # In-place resize: the allocations, checkpointed in the kubelet's root dir, checked
        # against the node's capacity (Infeasible) and its allocatable beside the other pods
        # (Deferred).
        self.allocation = AllocationManager(
            config.root_dir,
            capacity=lambda: node_shapes.capacity(machine, config.max_pods),
            allocatable=lambda: self.node_facts["status"]["allocatable"],
        )
        # One puller for containers' images and image volumes: one back-off, one digest record,
        # and one record of who pulled which image, kept in the root dir across restarts.
        self.image_pulls = ImagePullManager(FilePullRecords(config.root_dir))
        puller = ImagePuller(images, pull_manager=self.image_pulls)
        self.syncer = PodSyncer(
            runtime,
            images,
            puller=puller,
            # Containers' finish times are wall-clock times: so is the crash back-off's clock.
            crash_backoff=Backoff(time.time),
            dns=self.dns,
            cgroup_root=config.cgroup_root,
            memory_capacity=self.heartbeat.machine.memory_bytes,
            logs_root=config.logs_root,
            make_env=self._make_env,
            make_mounts=self._make_mounts,
            run_hook=self._hook,
            probe_result=self._probe_result,
            record_node=self._node_event,
            seccomp_root=str(config.root_dir / "seccomp"),
            seccomp_default=config.seccomp_default,
            resizer=ResizeActuator(
                runtime,
                PodCgroups(),
                memory_capacity=machine.memory_bytes,
                record_actuated=self.allocation.set_actuated,
                actuated=self.allocation.actuated_resources,
            ),
            image_volumes=ImageVolumes(puller, images, self.lookup, self.pod_dir),
            pull_secrets=self.lookup,
        )
        # The admit handlers every new pod goes through, in Kubernetes' order.
        self.admit_handlers: list[PodAdmitHandler] = [
            sysctl.allowlist(config.allowed_unsafe_sysctls).admit,
            AppArmorAdmission.for_this_node().admit,
        ]
        # The kubelet's Service lister: every Service, indexed by namespace, without the
        # managedFields nothing here reads.
        self.services = Informer(client, SERVICES, transform=strip_managed_fields)
        self.services.add_indexer("namespace", by_namespace)
        self.pods = Informer(client, PODS, field_selector=f"spec.nodeName={config.node_name}")
        self.pods.add_handler(self._on_pod)
        self.workers: dict[str, PodWorker] = {}
        self._volumes: dict[str, dict[str, MountedVolume]] = {}
        self._sandbox_owner: dict[str, str] = {}
        # The runtime's view of each pod as of its last sync, for the log and exec server.
        self._runtime_view: dict[str, pa.PodRuntimeStatus] = {}
        self._tasks: list[asyncio.Task[Any]] = []

    def _node_config(self, port: int) -> node_shapes.NodeConfig:
        config = self.config
        return node_shapes.NodeConfig(
            name=config.node_name,
            internal_ip=config.node_ip,
            kubelet_version=config.kubelet_version,
            runtime_version=config.runtime_version,
            pod_cidr=config.pod_cidr,
            max_pods=config.max_pods,
            kubelet_port=port,
        )

    # --- paths ----------------------------------------------------------------------------------

    def pod_dir(self, uid: str) -> Path:
        return self.config.root_dir / "pods" / uid

    # --- wiring ---------------------------------------------------------------------------------

    async def _start_server(self) -> None:
        """The HTTPS server for logs and exec, before the node says where it is."""
        config = self.config
        if config.tls_cert is None or config.tls_key is None or config.client_ca is None:
            log.warning("no serving certificate: kubectl logs and exec will not reach this node")
            return
        tls = ServingTLS(config.tls_cert, config.tls_key, config.client_ca)
        self.server = KubeletServer(self, self.runtime, tls, host="0.0.0.0", port=config.port)
        await self.server.start()
        self.heartbeat.config = self._node_config(self.server.port)

    async def _adopt_image_pull_intents(self) -> None:
        """Pulls a previous kubelet left unfinished whose images are here: pulled by the
        kubelet, by whom unknown (the pull manager's initialize)."""
        try:
            images = await self.images.list_images()
        except Exception as e:
            log.warning("listing images for the image pull records failed: %s", e)
            images = []
        self.image_pulls.initialize(images)

    async def run(self) -> None:
        """Run until cancelled."""
        await self._start_server()
        await self._adopt_image_pull_intents()
        # Started at once, as NewMainKubelet starts its Service informer: pods wait for it.
        self.services.start()
        self._tasks = [
            asyncio.create_task(self.heartbeat.run(), name="kubelet-heartbeat"),
            asyncio.create_task(self.status_manager.run(), name="kubelet-status"),
            asyncio.create_task(self._runtime_events(), name="kubelet-runtime-events"),
        ]
        try:
            await self.heartbeat.registered.wait()
            await self._take_pod_cidr()
            for problem in self.dns.check_limits_for_resolv_conf():
                await self._node_event("Warning", CHECK_LIMITS_FOR_RESOLV_CONF, problem)
            await self.services.wait_synced()
            self.pods.start()
            await self.pods.wait_synced()
            await self._remove_orphans()
            log.info("kubelet on node %s started", self.config.node_name)
            await asyncio.gather(*self._tasks)
        finally:
            await self.pods.stop()
            await self.services.stop()
            for worker in list(self.workers.values()):
                await worker.stop()
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self.probes.close()
            await self.status_manager.close()
            if self.server is not None:
                await self.server.stop()

    async def _take_pod_cidr(self) -> None:
        """Without --pod-cidr, the pod CIDR is the Node's, which node IPAM sets after the Node
        is registered: wait for it, then hand it to the runtime (updatePodCIDR), before any pod
        runs. Raises PodCIDRTimeoutError when it does not come."""
        if self.config.pod_cidr:
            return
        cidr = await wait_for_pod_cidr(self.client, self.config.node_name)
        self.config = dataclasses.replace(self.config, pod_cidr=cidr)
        await self.runtime.update_runtime_config(cidr)

    def _on_pod(self, event_type: str, pod: Obj) -> None:
        uid = pod["metadata"].get("uid", "")
        worker = self.workers.get(uid)
        if event_type == "DELETED":
            if worker is not None:
                worker.removed = True
                worker.update(pod)
                worker.wake()
            return
        if worker is None:
            worker = self.workers[uid] = PodWorker(pod, self.sync_pod_worker)
            worker.start()
        else:
            worker.update(pod)

    async def _runtime_events(self) -> None:
        """Container exits, as the runtime reports them: wake the pod's worker at once."""
        async for event in self.runtime.events():
            uid = self._sandbox_owner.get(event.sandbox_id)
            if uid is None:
                with contextlib.suppress(runtime_errors.RuntimeFailure):
                    sandbox = await self.runtime.pod_sandbox_status(event.sandbox_id)
                    uid = sandbox.metadata.uid
                    self._sandbox_owner[event.sandbox_id] = uid
            worker = self.workers.get(uid or "")
            if worker is not None:
                worker.wake()

    def wake_pod(self, uid: str) -> None:
        """Wake a pod's worker (a probe result changed)."""
        worker = self.workers.get(uid)
        if worker is not None:
            worker.wake()

    async def _remove_orphans(self) -> None:
        """Sandboxes of pods the API server does not have (deleted while the kubelet was
        away) are stopped and removed (HandlePodCleanups)."""
        known = {p["metadata"].get("uid") for p in self.pods.list()}
        self.allocation.remove_orphans(uid for uid in known if uid)
        for sandbox in await self.runtime.list_pod_sandboxes():
            self._sandbox_owner[sandbox.id] = sandbox.metadata.uid
            if sandbox.metadata.uid in known:
                continue
            log.info("removing the sandbox of a pod that is gone: %s", sandbox.metadata.name)
            # Removing a sandbox stops and removes its containers first.
            with contextlib.suppress(runtime_errors.RuntimeFailure):
                await self.runtime.remove_pod_sandbox(sandbox.id)
            self._cleanup_pod_dir(sandbox.metadata.uid)

    # --- what a sync needs ------------------------------------------------------------------

    def _recorder(self, pod: Obj) -> PodRecorder:
        async def record(kind: str, reason: str, message: str, field_path: str) -> None:
            await self.recorder.event(pod, kind, reason, message, field_path=field_path)

        return record

    async def _node_event(self, kind: str, reason: str, message: str) -> None:
        """An event about this node (the kubelet's nodeRef: its uid is the node's name)."""
        name = self.config.node_name
        node = {"kind": "Node", "apiVersion": "v1", "metadata": {"name": name, "uid": name}}
        await self.recorder.event(node, kind, reason, message)

    def _service_env(self, pod: Obj) -> dict[str, str]:
        """getServiceEnvVarMap over the Service informer's cache."""
        if not self.services.synced:
            raise envvars.ConfigError(
                "services have not yet been read at least once, cannot construct envvars"
            )
        namespace = pod["metadata"].get("namespace") or service_env.DEFAULT_NAMESPACE
        links = (pod.get("spec") or {}).get("enableServiceLinks")
        candidates = self.services.by_index("namespace", namespace)
        if namespace != service_env.DEFAULT_NAMESPACE:
            candidates += self.services.by_index("namespace", service_env.DEFAULT_NAMESPACE)
        # The API server defaults enableServiceLinks to true.
        return service_env.service_env(candidates, namespace, links is not False)

    async def _sandbox_ips(self, pod: Obj) -> list[str]:
        """The IPs of the pod's ready sandbox, newest first: what the kubelet hands a container
        it starts (determinePodSandboxIPs), known before any status reports them."""
        uid = pod["metadata"].get("uid", "")
        sandboxes = [
            s
            for s in await self.runtime.list_pod_sandboxes()
            if s.metadata.uid == uid and s.state == PodSandboxState.SANDBOX_READY and s.ip
        ]
        if not sandboxes:
            return []
        newest = max(sandboxes, key=lambda s: s.created_at)
        return [newest.ip, *newest.additional_ips]

    async def _make_env(self, pod: Obj, container: Obj) -> list[tuple[str, str]]:
        status = self.status_manager.last_sent(pod) or pod.get("status") or {}
        if (pod.get("spec") or {}).get("hostNetwork"):
            # A host-network pod's IPs are the node's (generateAPIPodStatus; SyncPod hands them
            # to its containers).
            pod_ips = [self.config.node_ip] if self.config.node_ip else []
        else:
            pod_ips = await self._sandbox_ips(pod)
        pod_ips = pod_ips or [ip["ip"] for ip in status.get("podIPs") or ()]
        made = await envvars.container_env(
            pod,
            container,
            lookup=self.lookup,
            node=self.node_facts,
            pod_ips=pod_ips,
            host_ips=[self.config.node_ip],
            service_env=self._service_env(pod),
            # fileKeyRef reads env files from any of the pod's volumes (GetMountedVolumesForPod).
            volume_paths={
                name: volume.path
                for name, volume in self._volumes.get(pod["metadata"]["uid"], {}).items()
            },
        )
        for message in made.invalid_names:
            await self.recorder.event(pod, "Warning", "InvalidEnvironmentVariableNames", message)
        return made.env

    async def _make_mounts(
        self, pod: Obj, container: Obj, env: list[tuple[str, str]], restart_count: int
    ) -> list[Mount]:
        volumes = self._volumes.get(pod["metadata"]["uid"], {})
        mounts = mounts_for(
            container, volumes, env=env, pod_dir=self.pod_dir(pod["metadata"]["uid"])
        )
        path = container.get("terminationMessagePath") or "/dev/termination-log"
        # The file a container writes its termination message to: a fresh one per instance.
        message = termination.make_message_file(
            self.pod_dir(pod["metadata"]["uid"]), container["name"], restart_count
        )
        mounts.append(Mount(container_path=path, host_path=str(message)))
        return mounts

    async def _hook(self, pod: Obj, container: Obj, container_id: str, handler: Obj) -> str:
        return await run_hook(
            pod,
            container,
            container_id,
            handler,
            runtime=self.runtime,
            pod_ip=self._pod_ip,
            record=self._recorder(pod),
        )

    def _probe_result(self, container_id: str, kind: ProbeKind) -> str | None:
        return self.probes.result(container_id, kind)

    async def _probe_event(
        self, pod: Obj, kind: str, reason: str, message: str, field_path: str
    ) -> None:
        await self.recorder.event(pod, kind, reason, message, field_path=field_path)

    def _pod_ip(self, uid: str) -> str:
        worker = self.workers.get(uid)
        if worker is None:
            return ""
        status = self.status_manager.last_sent(worker.pod) or worker.pod.get("status") or {}
        return str(status.get("podIP") or "")

    def _track_probes(self, pod: Obj, runtime_status: pa.PodRuntimeStatus) -> None:
        """Tell the probe manager which containers run now and which stopped."""
        uid = pod["metadata"]["uid"]
        self.probes.add_pod(pod)
        running = set()
        for container in runtime_status.containers:
            if container.state != ContainerState.CONTAINER_RUNNING:
                continue
            running.add(container.id)
            if container.id not in self._probed:
                self._probed[container.id] = uid
                self.probes.container_started(
                    pod, container.metadata.name, container.id, container.started_at
                )
        for container_id, owner in list(self._probed.items()):
            if owner == uid and container_id not in running:
                del self._probed[container_id]
                self.probes.container_stopped(container_id)

    # --- the log and exec server's view ------------------------------------------------------

    def find(self, namespace: str, pod: str, container: str, previous: bool) -> tuple[str, Path]:
        """ContainerLocator: the runtime id and log file of a container of a pod on this node
        (its last terminated instance when `previous`)."""
        found = self.pods.get(f"{namespace}/{pod}")
        if found is None:
            raise PodNotFound(f'pod "{pod}" does not exist')
        spec = found.get("spec") or {}
        names = [c["name"] for c in podutil.all_containers(spec)]
        if container not in names:
            raise ContainerNotFound(f'container "{container}" not found in pod "{pod}"')
        view = self._runtime_view.get(found["metadata"].get("uid", ""))
        instances = [c for c in (view.containers if view else ()) if c.metadata.name == container]
        if previous:
            # The instance before the newest one: what `lastState` shows.
            if len(instances) < 2:
                raise ContainerNotAvailable(
                    f'previous terminated container "{container}" in pod "{pod}" not found'
                )
            chosen = instances[1]
        else:
            if not instances:
                raise ContainerNotAvailable(
                    f'container "{container}" in pod "{pod}" is waiting to start: ContainerCreating'
                )
            chosen = instances[0]
        return chosen.id, Path(chosen.log_path)

    def find_pod(self, namespace: str, pod: str) -> dict[str, Any]:
        """ContainerLocator: the pod object on this node (attach reads its containers' tty)."""
        found = self.pods.get(f"{namespace}/{pod}")
        if found is None:
            raise PodNotFound(f'pod "{pod}" does not exist')
        return found

    def find_sandbox(self, namespace: str, pod: str) -> tuple[str, str]:
        """ContainerLocator: the id of the pod's ready sandbox and the pod's uid (port-forward
        connects inside the sandbox's network namespace)."""
        uid = self.find_pod(namespace, pod)["metadata"].get("uid", "")
        view = self._runtime_view.get(uid)
        ready = [
            s for s in (view.sandboxes if view else ()) if s.state == PodSandboxState.SANDBOX_READY
        ]
        if not ready:
            raise ContainerNotAvailable(f'pod "{pod}" has no running sandbox')
        return ready[0].id, uid

    # --- one sync -----------------------------------------------------------------------------

    async def sync_pod_worker(self, worker: PodWorker) -> bool:
        """One sync of a pod; True when the pod is gone and its worker can end."""
        pod = worker.pod
        md = pod["metadata"]
        record = self._recorder(pod)
        runtime_status = await self.syncer.runtime_status(worker.uid)
        self._runtime_view[worker.uid] = runtime_status
        for sandbox in runtime_status.sandboxes:
            self._sandbox_owner[sandbox.id] = worker.uid
        deleting = worker.removed or bool(md.get("deletionTimestamp"))
        phase = (pod.get("status") or {}).get("phase")
        if not deleting and not worker.terminated and self._past_deadline(worker):
            # The active deadline handler: the pod fails, its containers are stopped.
            await record("Normal", "DeadlineExceeded", podstatus.DEADLINE_EXCEEDED.message, "")
            worker.evicted = podstatus.DEADLINE_EXCEEDED
            worker.terminated = True
        if not (deleting or worker.terminated or worker.admitted or phase in TERMINAL_PHASES):
            verdict = can_admit(pod, self.admit_handlers)
            if not verdict.admit:
                await self._reject(worker, verdict)
            else:
                self.allocation.add_pod(pod)
            worker.admitted = True
        if deleting or worker.terminated or phase in TERMINAL_PHASES:
            return await self._terminate(worker, runtime_status, record, deleting=deleting)

        try:
            self._volumes[worker.uid] = await prepare_volumes(
                pod,
                self.pod_dir(worker.uid),
                lookup=self.lookup,
                node=self.node_facts,
                token_source=self.tokens.token,
            )
        except VolumeSetupError as e:
            for error in e.errors:
                await record("Warning", FAILED_MOUNT, error.event_message, "")
            self._report(pod, runtime_status)
            worker.sync_in(VOLUME_RETRY)
            return False
        allocated = await self._allocate(worker, record)
        restart_all = False
        if could_restart_all(podutil.spec_of(pod)):
            # RestartAllContainers: Kubernetes writes the status before SyncPod, and SyncPod
            # resets every container while it says AllContainersRestarting.
            restart_all = podstatus.is_restarting(self._report(pod, runtime_status))
        result = await self.syncer.sync_pod(
            allocated, runtime_status, record, restart_all=restart_all
        )
        runtime_status = await self.syncer.runtime_status(worker.uid)
        self._runtime_view[worker.uid] = runtime_status
        await self._check_resize_in_progress(allocated, result.resize_error, runtime_status, record)
        self._track_probes(pod, runtime_status)
        status = self._report(pod, runtime_status)
        if status.get("phase") in TERMINAL_PHASES or self._past_deadline(worker, status):
            worker.terminated = status.get("phase") in TERMINAL_PHASES
            worker.wake()
        if result.changed:
            # Something started or stopped: look again at once, as the kubelet does on the
            # PLEG's ContainerStarted/ContainerDied events (the next init container, or the app
            # containers once a sidecar runs).
            worker.sync_in(0)
        if result.retry_after is not None:
            worker.sync_in(result.retry_after)
        return False

    async def _allocate(self, worker: PodWorker, record: Any) -> Obj:
        """handlePodResourcesResize before a sync: the pod as allocated, after deciding on a
        resize its spec asks for (against the other pods of the node, as allocated), with the
        ResizeStarted event of a resize accepted, or ResizeDeferred / ResizeInfeasible when the
        PodResizePending verdict changed."""
        pod = worker.pod
        self.allocation.add_pod(pod)
        # Lazy: handle_resize reads the other pods only when this pod asks for a resize, so a
        # plain sync does not build every other pod's allocation.
        others = (
            self.allocation.allocated_pod(w.pod)[0]
            for w in self.workers.values()
            if w.uid != worker.uid
            and not (w.terminated or w.removed or w.rejected)
            and self.allocation.is_allocated(w.pod)
        )
        outcome = self.allocation.handle_resize(pod, others)
        allocated = self.allocation.allocated_pod(pod)[0]
        generation = int(pod["metadata"].get("generation") or 0)
        if outcome.allocated:
            message = resize_events.started_message(allocated, generation)
            await record(resize_events.NORMAL, resize_events.RESIZE_STARTED, message, "")
        elif outcome.pending_changed:
            verdict = outcome.verdict
            message = resize_events.pending_message(
                pod, verdict.reason, verdict.message, generation
            )
            reason = resize_events.pending_reason(verdict.reason)
            await record(resize_events.WARNING, reason, message, "")
        return allocated

    async def _check_resize_in_progress(
        self,
        allocated: Obj,
        resize_error: str | None,
        runtime_status: pa.PodRuntimeStatus,
        record: Any,
    ) -> None:
        """PodResizeInProgress after a sync: reason Error with the message when the resize
        failed (and a ResizeError event when that is news); plain while a running container,
        or the pod cgroup, still runs with other resources than its allocation; gone once none
        does, with a ResizeCompleted event for the generation the resize was made for."""
        uid = allocated["metadata"]["uid"]
        if resize_error:
            if self.allocation.set_in_progress(allocated, REASON_ERROR, resize_error):
                generation = self.allocation.in_progress_generation(uid)
                message = resize_events.error_message(allocated, generation, resize_error)
                await record(resize_events.WARNING, resize_events.RESIZE_ERROR, message, "")
            return
        in_progress = False
        for container in resizable_containers(allocated):
            found = runtime_status.latest(container["name"])
            if found is None or found.state != ContainerState.CONTAINER_RUNNING:
                continue
            actuated = self.allocation.actuated_resources(uid, container["name"])
            if not resources_equal(container.get("resources"), actuated):
                in_progress = True
                break
        # The pod's own resources, once its cgroup was sized (InPlacePodLevelResources-
        # VerticalScaling): in progress until the cgroup was given the allocated ones.
        actuated_pod = self.allocation.actuated_resources(uid, POD_RESOURCES)
        if actuated_pod is not None and not resources_equal(
            pod_resources_of(allocated), actuated_pod
        ):
            in_progress = True
        if not in_progress:
            generation = self.allocation.in_progress_generation(uid)
            if self.allocation.clear_in_progress(uid):
                message = resize_events.completed_message(allocated, generation)
                await record(resize_events.NORMAL, resize_events.RESIZE_COMPLETED, message, "")
        elif resize_error == "" or not self.allocation.conditions(uid):
            self.allocation.set_in_progress(allocated)

    def _retry_pending_resizes(self) -> None:
        """A pod left the node: Deferred resizes may fit now (RetryPendingResizes)."""
        for uid in list(self.allocation.pending):
            self.wake_pod(uid)

    async def _reject(self, worker: PodWorker, verdict: PodAdmitResult) -> None:
        """rejectPod: a Warning event and the Failed status; the pod never runs here."""
        pod = worker.pod
        await self.recorder.event(pod, "Warning", verdict.reason, verdict.message)
        status = rejected_status(pod, verdict, qos_class(pod), format_time(_now()))
        self.status_manager.set_status(pod, status)
        worker.rejected = True
        worker.terminated = True

    def _past_deadline(self, worker: PodWorker, status: Obj | None = None) -> bool:
        """spec.activeDeadlineSeconds counted from the pod's startTime (activeDeadlineHandler);
        a pod with a deadline ahead is synced again when it comes."""
        pod = worker.pod
        deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
        if status is None:
            status = self.status_manager.last_sent(pod) or pod.get("status") or {}
        started = status.get("startTime")
        if deadline is None or not started:
            return False
        since = datetime.datetime.fromisoformat(started.replace("Z", "+00:00"))
        left = int(deadline) - (_now() - since).total_seconds()
        if left > 0:
            worker.sync_in(left)
            return False
        return True

    def _observed(
        self,
        pod: Obj,
        runtime_status: pa.PodRuntimeStatus,
        *,
        terminal: bool,
        eviction: podstatus.Eviction | None,
    ) -> podstatus.PodRuntimeState:
        uid = pod["metadata"]["uid"]
        facts: dict[str, podstatus.ContainerRuntimeState] = {}
        spec = pod.get("spec") or {}
        for container in podutil.all_containers(spec):
            name = container["name"]
            reason, message = self.syncer.reasons.get((uid, name), ("", ""))
            # Newest first: the current instance, then the one before it.
            instances = [c for c in runtime_status.containers if c.metadata.name == name]
            current = instances[0] if instances else None
            ready = None
            started = None
            if current is not None:
                if container.get("readinessProbe"):
                    ready = self.probes.ready(current.id)
                if container.get("startupProbe"):
                    started = self.probes.started(current.id)
            pod_dir = self.pod_dir(uid)
            facts[name] = podstatus.ContainerRuntimeState(
                waiting_reason=reason,
                waiting_message=message,
                readiness_probe=ready,
                startup_probe=started,
                image_id=self.syncer.puller.repo_digests.get(current.image_ref, "")
                if current is not None
                else "",
                termination_message=termination.termination_message(container, current, pod_dir),
                previous_termination_message=termination.termination_message(
                    container, instances[1] if len(instances) > 1 else None, pod_dir
                ),
            )
        allocated: dict[str, Obj] = {}
        for container in resizable_containers(pod):
            found = self.allocation.allocated_resources(uid, container["name"])
            if found is not None:
                allocated[container["name"]] = found
        return podstatus.PodRuntimeState(
            containers=podstatus.containers_by_name(runtime_status.containers, facts),
            sandboxes=runtime_status.sandboxes,
            host_ips=[self.config.node_ip],
            pod_is_terminal=terminal,
            eviction=eviction,
            allocated=allocated,
            resize_conditions=[] if terminal else self.allocation.conditions(uid),
            allocated_pod=self.allocation.allocated_pod(pod)[0],
            pod_cgroup=self._pod_cgroup(pod),
        )

    def _pod_cgroup(self, pod: Obj) -> Any:
        """The pod cgroup's settings (GetPodCgroupConfig) for status.resources, read only once
        the API server has the pod Running, as the kubelet reads them; None when unknown."""
        resizer = self.syncer.resizer
        if resizer is None or (pod.get("status") or {}).get("phase") != "Running":
            return None
        with contextlib.suppress(OSError, ValueError):
            return resizer.cgroups.read(rc.pod_cgroup_parent(pod, self.config.cgroup_root))
        return None

    def _report(
        self,
        pod: Obj,
        runtime_status: pa.PodRuntimeStatus,
        *,
        terminal: bool = False,
        eviction: podstatus.Eviction | None = None,
    ) -> Obj:
        observed = self._observed(pod, runtime_status, terminal=terminal, eviction=eviction)
        # A RestartAllContainers reset is told from the status the kubelet computed last, sent or
        # not (the status manager's cache): the reset's steps follow each other in one sync.
        if could_restart_all(podutil.spec_of(pod)):
            old_status = self.status_manager.latest(pod)
        else:
            old_status = self.status_manager.last_sent(pod)
        status = podstatus.generate_pod_status(pod, observed, now=_now(), old_status=old_status)
        self.status_manager.set_status(pod, status)
        return status

    async def _terminate(
        self,
        worker: PodWorker,
        runtime_status: pa.PodRuntimeStatus,
        record: Any,
        *,
        deleting: bool,
    ) -> bool:
        """Stop the pod's containers for good; once deleted, remove everything and confirm."""
        pod = worker.pod
        if worker.evicted is not None and not worker.removed:
            # The pod has failed (its deadline passed): say so before its containers stop
            # (again on later syncs, which the status manager finds unchanged and skips).
            self._report(pod, runtime_status, terminal=True, eviction=worker.evicted)
        running = any(
            c.state == ContainerState.CONTAINER_RUNNING for c in runtime_status.containers
        )
        ready = any(s.state == PodSandboxState.SANDBOX_READY for s in runtime_status.sandboxes)
        if running or ready:
            grace = pod["metadata"].get("deletionGracePeriodSeconds") if deleting else None
            await self.syncer.kill_pod(pod, runtime_status, record, grace_override=grace)
            runtime_status = await self.syncer.runtime_status(worker.uid)
        if not worker.terminated:
            self._retry_pending_resizes()
        worker.terminated = True
        self.allocation.clear_all(worker.uid)
        if not worker.removed:
            # A rejected pod keeps the status its rejection gave it.
            if not worker.rejected:
                self._report(pod, runtime_status, terminal=True, eviction=worker.evicted)
            await self.status_manager.flush()
        if not deleting:
            return False  # Succeeded or Failed: containers stay (for logs) until deleted
        await self.syncer.remove_pod(runtime_status)
        self._cleanup_pod_dir(worker.uid)
        if not worker.removed:
            await self._confirm_deletion(pod)
        self.status_manager.forget(pod)
        self.allocation.remove_pod(worker.uid)
        self.probes.remove_pod(worker.uid)
        self.tokens.forget_pod(worker.uid)
        for container_id, owner in list(self._probed.items()):
            if owner == worker.uid:
                del self._probed[container_id]
        self.workers.pop(worker.uid, None)
        self._retry_pending_resizes()
        self._volumes.pop(worker.uid, None)
        self._runtime_view.pop(worker.uid, None)
        return True

    def _cleanup_pod_dir(self, uid: str) -> None:
        pod_dir = self.pod_dir(uid)
        try:
            teardown_volumes(pod_dir)
        except OSError as e:
            log.warning("tearing down the volumes of pod %s failed: %s", uid, e)
            return
        shutil.rmtree(pod_dir, ignore_errors=True)

    async def _confirm_deletion(self, pod: Obj) -> None:
        """The containers are gone: let the API server remove the pod object (grace 0)."""
        md = pod["metadata"]
        try:
            await self.client.delete(
                PODS,
                md["name"],
                namespace=md["namespace"],
                grace_period_seconds=0,
                preconditions={"uid": md["uid"]},
            )
        except (APINotFoundError, APIConflictError):
            pass
        except (APIError, APIConnectionError) as e:
            log.warning("confirming the deletion of pod %s failed: %s", md["name"], e)
