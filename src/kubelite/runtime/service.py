"""The RuntimeService: pod sandboxes and containers on runc, conmon and CNI (cri.RuntimeService).

A sandbox is a set of pinned namespaces (network, IPC, UTS; no pause process), a CNI network,
a /dev/shm tmpfs, the pod's /etc files and a cgroup parent (`runtime.sandbox`). A container is
an overlay root over its image's layers, an OCI bundle, and a conmon process that runs
`runc create` and stays as the container's monitor (`runtime.oci`). Everything is written down
in `runtime.state` records so that a new service on the same dirs, after a restart, finds every
sandbox and container and keeps watching the containers that kept running.

Layout: `state_dir` (volatile, e.g. /run/kubelite/runtime) holds records, bundles, runc's root,
conmon's exit files and sockets, the pinned namespaces and the IPAM leases; `root_dir` (e.g.
/var/lib/kubelite/runtime) holds the containers' overlay upper dirs and the pods' files.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

from kubelite.runtime import cri
from kubelite.runtime.errors import ContainerError, NotFound, RuntimeFailure, SandboxError
from kubelite.runtime.oci import conmon as conmon_mod
from kubelite.runtime.oci import exec as exec_mod
from kubelite.runtime.oci.attach import AttachSession
from kubelite.runtime.oci.monitor import ExitMonitor, process_alive
from kubelite.runtime.oci.mounts import mount_overlay, mount_tmpfs, umount
from kubelite.runtime.oci.runc import CRUN, RUNC, Runc, RuncError, crun_wrapper
from kubelite.runtime.oci.spec import SandboxPaths, generate_spec, parse_signal
from kubelite.runtime.oci.users import resolve_user, user_string
from kubelite.runtime.sandbox import cgroups, namespaces, podfiles
from kubelite.runtime.sandbox.cni import CniNetwork, NetworkOptions, pod_ip
from kubelite.runtime.state import ContainerRecord, SandboxRecord, StateStore

log = logging.getLogger(__name__)

DEFAULT_STOP_SIGNAL = "SIGTERM"  # Kubernetes' and the OCI image spec's default
# After SIGKILL a container is gone within milliseconds; this only bounds a wedged kernel.
KILL_WAIT = 10.0
CGROUP_ROOT_PARENT = "/kubelite"  # where sandboxes without a cgroup_parent put their cgroup

_ALIVE = (cri.ContainerState.CONTAINER_CREATED, cri.ContainerState.CONTAINER_RUNNING)
HOST_SHM = "/dev/shm"

# containerd 2.0's CRI defaults enable_unprivileged_ports and enable_unprivileged_icmp: every pod
# with a network of its own lets any user bind low ports and ping (containerd#9348), unless the
# pod sets these sysctls itself.
UNPRIVILEGED_NETWORK_SYSCTLS = {
    "net.ipv4.ip_unprivileged_port_start": "0",
    "net.ipv4.ping_group_range": "0 2147483647",
}


def _new_id() -> str:
    """A 64-hex-digit id, the shape containerd and CRI-O give sandboxes and containers."""
    return secrets.token_hex(32)


def sandbox_sysctls(config: cri.PodSandboxConfig) -> dict[str, str]:
    """The sysctls of the pod's namespaces: the pod's own, over containerd's defaults for a pod
    network."""
    defaults = {} if config.host_network else UNPRIVILEGED_NETWORK_SYSCTLS
    return {**defaults, **config.sysctls}


def sandbox_hostname(config: cri.PodSandboxConfig) -> str:
    """The name in the sandbox's UTS namespace: the node's on the host network (it shares the
    node's namespace), else the pod's hostname, or its FQDN when the pod asks for it."""
    if config.host_network:
        return os.uname().nodename
    name = config.hostname or config.metadata.name
    return f"{name}.{config.domain}" if config.hostname_as_fqdn and config.domain else name


class OciRuntimeService:
    """cri.RuntimeService on runc (or crun), conmon and CNI plugins."""

    def __init__(
        self,
        *,
        image_service: cri.ImageService,
        state_dir: Path,
        root_dir: Path,
        network: NetworkOptions | None = None,
        oci_runtime: str = "runc",
        runtime_binary: Path | None = None,
        conmon_binary: Path = conmon_mod.CONMON,
    ) -> None:
        if oci_runtime not in ("runc", "crun"):
            raise ValueError(f"OCI runtime {oci_runtime!r}: runc or crun")
        self._images = image_service
        self._state_dir = state_dir
        self._root_dir = root_dir
        self._store = StateStore(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        if oci_runtime == "crun":
            self._runtime_binary = crun_wrapper(state_dir / "crun", runtime_binary or CRUN)
        else:
            self._runtime_binary = runtime_binary or RUNC
        self._runc = Runc(root=state_dir / "runc", binary=self._runtime_binary)
        self._conmon = conmon_binary
        self._exit_dir = state_dir / "exits"
        self._socket_dir = state_dir / "sock"
        self.network_options = network or NetworkOptions()
        self._cni = CniNetwork(self.network_options, state_dir / "cni" / "networks")
        self._monitor = ExitMonitor(self._on_conmon_exit)
        self._exit_events: dict[str, asyncio.Event] = {}
        self._subscribers: set[asyncio.Queue[cri.ContainerEvent]] = set()
        self._armed = False
        self._locks: dict[str, asyncio.Lock] = {}
        for d in (self._exit_dir, self._socket_dir, root_dir / "containers"):
            d.mkdir(parents=True, exist_ok=True)
        self._sandboxes = {r.id: r for r in self._store.load_sandboxes()}
        self._containers = {r.id: r for r in self._store.load_containers()}

    # --- status -------------------------------------------------------------------------------

    async def status(self) -> cri.RuntimeStatus:
        """CRI's Status: one handler, without user namespaces. containerd offers them only where
        the OCI runtime makes ID-mapped mounts (`runc features`: `mountExtensions.idmap`), so
        that the image and the volumes look owned by the pod's mapped users; Debian 12's runc
        1.1 has none, and this runtime makes no user namespaces."""
        return cri.RuntimeStatus(handlers=[cri.RuntimeHandler(name="")])

    async def update_runtime_config(self, pod_cidr: str) -> None:
        """CRI's UpdateRuntimeConfig: the node's pod CIDR, once the Node has one, becomes the
        subnet pods' addresses come from (containerd writes it into its CNI config the same
        way). Called before any sandbox is made with another subnet."""
        if pod_cidr == self.network_options.subnet:
            return
        self.network_options = dataclasses.replace(self.network_options, subnet=pod_cidr)
        self._cni = CniNetwork(self.network_options, self._state_dir / "cni" / "networks")

    # --- recovery and exit notification ---------------------------------------------------------

    async def _ensure_armed(self) -> None:
        """Once per service: check every container left alive by a previous service with
        `runc state` and watch its conmon again (containers survive runtime restarts)."""
        if self._armed:
            return
        self._armed = True
        for record in list(self._containers.values()):
            if record.state not in _ALIVE:
                continue
            if self._exit_file(record.id).exists():
                self._finish(record)
                continue
            if record.conmon_pid and process_alive(record.conmon_pid, record.id):
                self._monitor.watch(record.id, record.conmon_pid)
                continue
            state = await self._runc.state(record.id)
            self._finish(record, gone=state is None or state.get("status") == "stopped")

    def _exit_file(self, container_id: str) -> Path:
        return self._exit_dir / container_id

    def _on_conmon_exit(self, container_id: str) -> None:
        record = self._containers.get(container_id)
        if record is None or record.state not in _ALIVE:
            return
        self._finish(record)

    def _finish(self, record: ContainerRecord, *, gone: bool = True) -> None:
        """Record a container's end from its exit file, then tell waiters and subscribers."""
        exit_file = self._exit_file(record.id)
        try:
            code = int(exit_file.read_text().strip())
            finished = exit_file.stat().st_mtime_ns
        except (FileNotFoundError, ValueError):
            if not gone:
                return
            # conmon died without writing the exit code: nothing can tell it any more.
            record.state = cri.ContainerState.CONTAINER_UNKNOWN
            record.reason = "ContainerStatusUnknown"
            record.message = "the container's monitor exited without an exit code"
            record.finished_at = time.time_ns()
        else:
            oom = (Path(record.bundle) / "persist" / "oom").exists() or cgroups.oom_killed(
                record.cgroups_path
            )
            record.state = cri.ContainerState.CONTAINER_EXITED
            record.exit_code = code
            record.finished_at = finished
            record.reason = "OOMKilled" if oom else "Completed" if code == 0 else "Error"
        self._store.save_container(record)
        self._exit_event(record.id).set()
        event = cri.ContainerEvent(
            container_id=record.id,
            sandbox_id=record.sandbox_id,
            state=record.state,
            created_at=time.time_ns(),
        )
        for queue in self._subscribers:
            queue.put_nowait(event)

    def _exit_event(self, container_id: str) -> asyncio.Event:
        return self._exit_events.setdefault(container_id, asyncio.Event())

    def _refresh(self, record: ContainerRecord) -> None:
        """Pick up an exit the event loop has not delivered yet."""
        if record.state in _ALIVE and self._exit_file(record.id).exists():
            self._finish(record)

    async def _wait_exit(self, record: ContainerRecord, timeout: float) -> bool:
        self._refresh(record)
        if record.state not in _ALIVE:
            return True
        if not self._monitor.watching(record.id) and record.conmon_pid:
            self._monitor.watch(record.id, record.conmon_pid)
        try:
            await asyncio.wait_for(self._exit_event(record.id).wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def events(self) -> AsyncIterator[cri.ContainerEvent]:
        await self._ensure_armed()
        queue: asyncio.Queue[cri.ContainerEvent] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.discard(queue)

    # --- sandboxes --------------------------------------------------------------------------------

    def _sandbox(self, sandbox_id: str) -> SandboxRecord:
        try:
            return self._sandboxes[sandbox_id]
        except KeyError:
            raise NotFound(f'pod sandbox "{sandbox_id}" not found') from None

    async def run_pod_sandbox(self, config: cri.PodSandboxConfig) -> str:
        await self._ensure_armed()
        sandbox_id = _new_id()
        sandbox_dir = self._store.sandbox_dir(sandbox_id)
        hostname = sandbox_hostname(config)
        record = SandboxRecord(
            id=sandbox_id,
            config=config,
            state=cri.PodSandboxState.SANDBOX_READY,
            created_at=time.time_ns(),
            hostname=hostname,
            cgroup_parent=config.cgroup_parent or f"{CGROUP_ROOT_PARENT}/{sandbox_id}",
            shm_path=str(sandbox_dir / "shm"),
            files_dir=str(self._root_dir / "sandboxes" / sandbox_id),
        )
        sandbox_dir.mkdir(parents=True)
        try:
            pinned = await namespaces.pin_namespaces(
                sandbox_dir / "ns",
                hostname=hostname,
                host_network=config.host_network,
                host_ipc=config.host_ipc,
            )
            record.netns_path = str(pinned.net or "")
            record.ipc_ns_path = str(pinned.ipc or "")
            record.uts_ns_path = str(pinned.uts or "")
            if config.host_ipc:
                # The node's IPC namespace comes with the node's /dev/shm (containerd's devShm).
                record.shm_path = ""
            else:
                Path(record.shm_path).mkdir()
                mount_tmpfs(Path(record.shm_path), podfiles.SHM_SIZE)
            cgroups.create_pod_cgroup(record.cgroup_parent)
            if pinned.net is not None:
                result = await self._cni.add(sandbox_id, pinned.net, config.port_mappings)
                record.network_ready = True
                record.cni_result = result
                record.ip = pod_ip(result)
            podfiles.write_pod_files(Path(record.files_dir), config, hostname, record.ip)
            self._store.save_sandbox(record)
        except BaseException as e:
            # A teardown error is logged; the error that made the sandbox fail is the one to report.
            with contextlib.suppress(SandboxError):
                await self._teardown_sandbox(record)
            if isinstance(e, RuntimeFailure | asyncio.CancelledError):
                raise
            raise SandboxError(f'pod sandbox "{config.metadata.name}": {e}') from e
        self._sandboxes[sandbox_id] = record
        return sandbox_id

    async def _teardown_network(self, record: SandboxRecord) -> None:
        if not record.network_ready:
            return
        await self._cni.delete(
            record.id, Path(record.netns_path), record.config.port_mappings, record.cni_result
        )
        record.network_ready = False

    async def _teardown_sandbox(self, record: SandboxRecord) -> None:
        """Undo every part of a sandbox that exists; each step runs even if one before failed."""
        errors: list[str] = []
        try:
            await self._teardown_network(record)
        except RuntimeFailure as e:
            errors.append(str(e))
        sandbox_dir = self._store.sandbox_dir(record.id)

        def unmount_shm() -> None:
            if record.shm_path:  # none of its own with hostIPC: never the node's /dev/shm
                umount(Path(record.shm_path))

        steps = (
            unmount_shm,
            lambda: namespaces.unpin_namespaces(sandbox_dir / "ns"),
            lambda: cgroups.remove_pod_cgroup(record.cgroup_parent),
            lambda: shutil.rmtree(record.files_dir, ignore_errors=True),
            lambda: shutil.rmtree(sandbox_dir, ignore_errors=True),
        )
        for step in steps:
            try:
                step()
            except OSError as e:
                errors.append(str(e))
        if errors:
            log.warning("pod sandbox %s: teardown: %s", record.id, "; ".join(errors))
            raise SandboxError(f'pod sandbox "{record.id}": ' + "; ".join(errors))

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        await self._ensure_armed()
        async with self._lock(sandbox_id):
            record = self._sandboxes.get(sandbox_id)
            if record is not None:
                await self._stop_pod_sandbox(record)

    async def _stop_pod_sandbox(self, record: SandboxRecord) -> None:
        for container in self._containers_of(record.id):
            await self.stop_container(container.id, 0)
        await self._teardown_network(record)
        if record.state is not cri.PodSandboxState.SANDBOX_NOTREADY:
            record.state = cri.PodSandboxState.SANDBOX_NOTREADY
            self._store.save_sandbox(record)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        await self._ensure_armed()
        async with self._lock(sandbox_id):
            record = self._sandboxes.get(sandbox_id)
            if record is None:
                return
            await self._stop_pod_sandbox(record)
            for container in self._containers_of(sandbox_id):
                await self.remove_container(container.id)
            await self._teardown_sandbox(record)
            del self._sandboxes[sandbox_id]
            # Waiters still hold the lock object and find the record gone.
            self._locks.pop(sandbox_id, None)

    @contextlib.asynccontextmanager
    async def _lock(self, key: str) -> AsyncIterator[None]:
        """Serialize the changes of one sandbox or container (a kubelet may race itself).
        Stopping takes no lock, so that a SIGKILL never waits behind a graceful stop."""
        async with self._locks.setdefault(key, asyncio.Lock()):
            yield

    def _containers_of(self, sandbox_id: str) -> list[ContainerRecord]:
        return [c for c in self._containers.values() if c.sandbox_id == sandbox_id]

    async def pod_sandbox_status(self, sandbox_id: str) -> cri.PodSandboxStatus:
        return self._sandbox_status(self._sandbox(sandbox_id))

    async def list_pod_sandboxes(self) -> list[cri.PodSandboxStatus]:
        return [self._sandbox_status(r) for r in self._sandboxes.values()]

    @staticmethod
    def _sandbox_status(record: SandboxRecord) -> cri.PodSandboxStatus:
        return cri.PodSandboxStatus(
            id=record.id,
            metadata=record.config.metadata,
            state=record.state,
            created_at=record.created_at,
            ip=record.ip,
            labels=dict(record.config.labels),
            annotations=dict(record.config.annotations),
            netns_path=record.netns_path,
        )

    # --- containers -----------------------------------------------------------------------------

    def _container(self, container_id: str) -> ContainerRecord:
        try:
            return self._containers[container_id]
        except KeyError:
            raise NotFound(f'container "{container_id}" not found') from None

    async def create_container(
        self, sandbox_id: str, config: cri.ContainerConfig, sandbox_config: cri.PodSandboxConfig
    ) -> str:
        await self._ensure_armed()
        sandbox = self._sandbox(sandbox_id)
        name = config.metadata.name
        if sandbox.state is not cri.PodSandboxState.SANDBOX_READY:
            raise ContainerError(
                f'container "{name}": pod sandbox {sandbox_id} is not ready',
                reason="CreateContainerError",
            )
        image = await self._images.image_status(config.image)
        if image is None:
            raise ContainerError(
                f'container "{name}": image "{config.image}" is not present',
                reason="CreateContainerError",
            )
        layers = await self._images.layer_dirs(image.id)
        stop_signal = config.stop_signal or image.config.stop_signal or DEFAULT_STOP_SIGNAL
        parse_signal(stop_signal)
        container_id = _new_id()
        bundle = self._store.container_dir(container_id)
        data_dir = self._root_dir / "containers" / container_id
        log_dir = sandbox_config.log_directory or sandbox.config.log_directory
        log_path = (
            Path(log_dir) / config.log_path
            if log_dir and config.log_path
            else data_dir / "container.log"
        )
        record = ContainerRecord(
            id=container_id,
            sandbox_id=sandbox_id,
            config=config,
            state=cri.ContainerState.CONTAINER_CREATED,
            created_at=time.time_ns(),
            image_ref=image.id,
            bundle=str(bundle),
            rootfs=str(bundle / "rootfs"),
            upper_dir=str(data_dir / "upper"),
            log_path=str(log_path),
            cgroups_path=f"{sandbox.cgroup_parent.rstrip('/')}/{container_id}",
            stop_signal=stop_signal,
        )
        try:
            for d in (bundle / "rootfs", data_dir / "upper", data_dir / "work", log_path.parent):
                d.mkdir(parents=True, exist_ok=True)
            mount_overlay(layers, data_dir / "upper", data_dir / "work", bundle / "rootfs")
            sc = config.security_context
            user = resolve_user(
                bundle / "rootfs",
                user_string(
                    username=sc.run_as_username,
                    uid=sc.run_as_user,
                    gid=sc.run_as_group,
                    image_user=image.config.user,
                ),
                supplemental_groups=sc.supplemental_groups,
            )
            spec = generate_spec(
                config=config,
                image=image.config,
                user=user,
                sandbox=self._sandbox_paths(sandbox),
                container_id=container_id,
            )
            (bundle / "config.json").write_text(json.dumps(spec, indent=1))
            record.conmon_pid, record.pid = await conmon_mod.start_conmon(
                container_id=container_id,
                name=name,
                paths=conmon_mod.ConmonPaths(
                    bundle=bundle,
                    container_pidfile=bundle / "pidfile",
                    conmon_pidfile=bundle / "conmon.pid",
                    log_path=log_path,
                    exit_dir=self._exit_dir,
                    persist_dir=bundle / "persist",
                    socket_dir=self._socket_dir,
                ),
                runtime=self._runtime_binary,
                runtime_root=self._runc.root,
                terminal=config.tty,
                stdin=config.stdin,
                leave_stdin_open=config.stdin and not config.stdin_once,
                conmon=self._conmon,
            )
            self._store.save_container(record)
        except BaseException as e:
            await self._destroy_container(record)
            with contextlib.suppress(FileNotFoundError):
                log_path.unlink()
            if isinstance(e, ContainerError | asyncio.CancelledError):
                raise
            raise ContainerError(f'container "{name}": {e}', reason="CreateContainerError") from e
        self._containers[container_id] = record
        self._monitor.watch(container_id, record.conmon_pid)
        return container_id

    def _sandbox_paths(self, sandbox: SandboxRecord) -> SandboxPaths:
        files = Path(sandbox.files_dir)
        return SandboxPaths(
            netns=sandbox.netns_path,
            ipc_ns=sandbox.ipc_ns_path,
            uts_ns=sandbox.uts_ns_path,
            shm=sandbox.shm_path or (HOST_SHM if sandbox.config.host_ipc else ""),
            hosts=str(files / "hosts"),
            resolv_conf=str(files / "resolv.conf"),
            hostname_file=str(files / "hostname"),
            hostname=sandbox.hostname,
            cgroup_parent=sandbox.cgroup_parent,
            sysctls=sandbox_sysctls(sandbox.config),
            host_pid=sandbox.config.host_pid,
        )

    async def _destroy_container(self, record: ContainerRecord) -> None:
        """Take every part of a container away: runc state, conmon, overlay, dirs."""
        await self._runc.delete(record.id)
        if record.conmon_pid and process_alive(record.conmon_pid, record.id):
            # `runc delete --force` killed the container; its conmon follows within ms.
            await self._wait_exit(record, KILL_WAIT)
        self._monitor.unwatch(record.id)
        umount(Path(record.rootfs))
        shutil.rmtree(record.bundle, ignore_errors=True)
        shutil.rmtree(Path(record.upper_dir).parent, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            self._exit_file(record.id).unlink()
        # conmon leaves the symlink it made for the attach socket.
        with contextlib.suppress(FileNotFoundError):
            (self._socket_dir / record.id[:24]).unlink()
        self._exit_events.pop(record.id, None)

    async def start_container(self, container_id: str) -> None:
        await self._ensure_armed()
        record = self._container(container_id)
        self._refresh(record)
        if record.state is not cri.ContainerState.CONTAINER_CREATED:
            raise ContainerError(
                f'container "{record.config.metadata.name}" is {record.state.value}, not created'
            )
        record.started_at = time.time_ns()
        try:
            await self._runc.start(container_id)
        except RuncError as e:
            record.started_at = 0
            raise ContainerError(f'container "{record.config.metadata.name}": {e}') from e
        # The container may have ended already, and its exit been recorded, during the await.
        if record.state is cri.ContainerState.CONTAINER_CREATED:
            record.state = cri.ContainerState.CONTAINER_RUNNING
        self._store.save_container(record)

    async def stop_container(self, container_id: str, timeout: float) -> None:
        await self._ensure_armed()
        record = self._container(container_id)
        self._refresh(record)
        if record.state not in _ALIVE:
            return
        if timeout > 0:
            sent = await self._runc.kill(container_id, parse_signal(record.stop_signal))
            if sent and await self._wait_exit(record, timeout):
                return
        await self._runc.kill(container_id, signal.SIGKILL)
        if not await self._wait_exit(record, KILL_WAIT):
            raise ContainerError(
                f'container "{record.config.metadata.name}" did not exit after SIGKILL'
            )

    async def remove_container(self, container_id: str) -> None:
        await self._ensure_armed()
        async with self._lock(container_id):
            record = self._containers.get(container_id)
            if record is None:
                return
            await self._destroy_container(record)
            del self._containers[container_id]
            self._locks.pop(container_id, None)

    async def container_status(self, container_id: str) -> cri.ContainerStatus:
        await self._ensure_armed()
        return self._container_status(self._container(container_id))

    async def list_containers(self, sandbox_id: str | None = None) -> list[cri.ContainerStatus]:
        await self._ensure_armed()
        return [
            self._container_status(r)
            for r in self._containers.values()
            if sandbox_id is None or r.sandbox_id == sandbox_id
        ]

    def _container_status(self, record: ContainerRecord) -> cri.ContainerStatus:
        self._refresh(record)
        return cri.ContainerStatus(
            id=record.id,
            metadata=record.config.metadata,
            state=record.state,
            created_at=record.created_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
            exit_code=record.exit_code,
            image=record.config.image,
            image_ref=record.image_ref,
            reason=record.reason,
            message=record.message,
            labels=dict(record.config.labels),
            annotations=dict(record.config.annotations),
            log_path=record.log_path,
            pid=record.pid if record.state is cri.ContainerState.CONTAINER_RUNNING else 0,
            sandbox_id=record.sandbox_id,
            resources=record.config.resources,
        )

    async def update_container_resources(
        self, container_id: str, resources: cri.LinuxContainerResources
    ) -> None:
        """CRI's UpdateContainerResources with `runc update`; the record keeps the new
        settings, which the container's status reports from then on. A limit no longer set
        (0) is lifted (-1), as containerd's update does."""
        await self._ensure_armed()
        async with self._lock(container_id):
            record = self._running(container_id)
            cpu: dict[str, int] = {"shares": resources.cpu_shares} if resources.cpu_shares else {}
            cpu["quota"] = resources.cpu_quota or -1
            if resources.cpu_period:
                cpu["period"] = resources.cpu_period
            limit = resources.memory_limit_in_bytes or -1
            try:
                await self._runc.update(
                    container_id, {"cpu": cpu, "memory": {"limit": limit, "swap": limit}}
                )
            except RuncError as e:
                raise ContainerError(
                    f'container "{record.config.metadata.name}": updating its resources: {e}'
                ) from e
            record.config = dataclasses.replace(
                record.config,
                resources=dataclasses.replace(
                    resources, oom_score_adj=record.config.resources.oom_score_adj
                ),
            )
            self._store.save_container(record)

    def _running(self, container_id: str) -> ContainerRecord:
        record = self._container(container_id)
        self._refresh(record)
        if record.state is not cri.ContainerState.CONTAINER_RUNNING:
            raise ContainerError(
                f'container "{record.config.metadata.name}" is not running', reason="ExecError"
            )
        return record

    async def exec_sync(
        self, container_id: str, cmd: list[str], timeout: float | None = None
    ) -> cri.ExecSyncResult:
        await self._ensure_armed()
        self._running(container_id)
        return await exec_mod.exec_sync(self._runc, container_id, cmd, timeout)

    async def exec(
        self,
        container_id: str,
        cmd: list[str],
        *,
        stdin: bool,
        tty: bool,
        size: cri.TerminalSize | None = None,
    ) -> cri.ExecSession:
        await self._ensure_armed()
        self._running(container_id)
        if tty:
            bundle = self._store.container_dir(container_id)
            return await exec_mod.TtyExecSession.start(
                self._runc, container_id, cmd, bundle=bundle, size=size
            )
        return await exec_mod.PipeExecSession.start(self._runc, container_id, cmd, stdin=stdin)

    async def attach(self, container_id: str, *, tty: bool) -> AttachSession:
        """CRI's Attach: the running container's own stdio, through its conmon."""
        await self._ensure_armed()
        record = self._running(container_id)
        try:
            return await AttachSession.open(
                self._socket_dir / container_id[:24],
                Path(record.bundle) / "ctl",
                tty=tty,
                stdin=record.config.stdin,
            )
        except OSError as e:
            raise ContainerError(
                f'container "{record.config.metadata.name}": attach socket: {e}',
                reason="AttachError",
            ) from e

    async def port_forward(self, sandbox_id: str, port: int) -> socket.socket:
        """CRI's PortForward: a connection to `port` on localhost inside the pod's network
        namespace (so apps bound to 127.0.0.1 there are reachable too, as with CRI-O)."""
        await self._ensure_armed()
        sandbox = self._sandbox(sandbox_id)
        if sandbox.netns_path:
            sock = await namespaces.socket_in_netns(Path(sandbox.netns_path))
        else:  # host network: the pod's localhost is the node's
            sock = socket.socket()
            sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        except OSError as e:
            sock.close()
            # containerd's words, which kubectl prints after "error forwarding port".
            reason = os.strerror(e.errno).lower() if e.errno else str(e)
            raise OSError(
                e.errno,
                f'failed to connect to localhost:{port} inside namespace "{sandbox_id}", '
                f"IPv4: dial tcp4 127.0.0.1:{port}: connect: {reason}",
            ) from e
        except BaseException:
            sock.close()
            raise
        return sock

    def close(self) -> None:
        """Stop watching conmons (the containers keep running); for a runtime shutting down."""
        self._monitor.close()
        self._armed = False
