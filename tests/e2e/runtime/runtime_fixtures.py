"""Test helpers for the RuntimeService's e2e tests: a busybox image served by a test double, and a
harness that gives each test its own dirs, bridge, subnet and cgroup, and takes all of it away.

Imported explicitly by tests/e2e/runtime/test_sandbox*.py, test_containers*.py and
test_recovery*.py (not a conftest, so as not to clash with the image tests' fixtures).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelite.runtime import cri
from kubelite.runtime.oci.logs import read_log
from kubelite.runtime.sandbox.cni import NetworkOptions
from kubelite.runtime.service import OciRuntimeService

BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static: one static binary
IMAGE = "kubelite.test/busybox:e2e"
TMP_PREFIX = "kl-e2e-"  # every dir, cgroup and bridge of these tests starts with this
CGROUP_ROOT = Path("/sys/fs/cgroup")
DEFAULT_TIMEOUT = 10.0


def make_busybox_rootfs(root: Path) -> None:
    """A minimal root: busybox and its applet links, /etc/passwd with root and nobody."""
    (root / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    applets = subprocess.run(
        [str(BUSYBOX), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (root / "bin" / applet).symlink_to("busybox")
    for d in ("etc", "tmp", "proc", "sys", "dev", "root"):
        (root / d).mkdir(exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")


class BusyboxImageService:
    """A test double of cri.ImageService that serves one image: a busybox root in one layer."""

    def __init__(self, layer: Path, config: cri.ImageConfig | None = None) -> None:
        self.layer = layer
        self.image = cri.Image(
            id="sha256:" + hashlib.sha256(str(layer).encode()).hexdigest(),
            repo_tags=[IMAGE],
            repo_digests=[],
            size=0,
            config=config
            or cri.ImageConfig(cmd=["sh"], env=["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]),
        )

    async def pull_image(self, image: str, **_: object) -> str:
        return self.image.id

    async def image_status(self, image: str) -> cri.Image | None:
        return self.image if image in (IMAGE, self.image.id) else None

    async def list_images(self) -> list[cri.Image]:
        return [self.image]

    async def remove_image(self, image: str) -> None:
        return None

    async def layer_dirs(self, image_id: str) -> list[Path]:
        return [self.layer]


@dataclass
class Harness:
    """One test's runtime: its service, dirs, network and cgroup, and helpers to use them."""

    base: Path
    suffix: str
    network: NetworkOptions
    images: BusyboxImageService
    service: OciRuntimeService
    oci_runtime: str = "runc"
    extra_services: list[OciRuntimeService] = field(default_factory=list)

    @property
    def cgroup_top(self) -> str:
        return f"/{TMP_PREFIX}{self.suffix}"

    def new_service(self, **kwargs: object) -> OciRuntimeService:
        """Another service on the same dirs: what a restart of the runtime layer sees."""
        svc = OciRuntimeService(
            image_service=self.images,
            state_dir=self.base / "run",
            root_dir=self.base / "data",
            network=self.network,
            oci_runtime=self.oci_runtime,
            **kwargs,  # type: ignore[arg-type]
        )
        self.extra_services.append(svc)
        return svc

    def sandbox_config(self, name: str, **kwargs: object) -> cri.PodSandboxConfig:
        defaults: dict[str, object] = {
            "metadata": cri.PodSandboxMetadata(name=name, uid=secrets.token_hex(8), namespace="t"),
            "log_directory": str(self.base / "logs" / name),
            "cgroup_parent": f"{self.cgroup_top}/pod-{name}",
        }
        return cri.PodSandboxConfig(**{**defaults, **kwargs})  # type: ignore[arg-type]

    @staticmethod
    def container_config(name: str, command: list[str], **kwargs: object) -> cri.ContainerConfig:
        defaults: dict[str, object] = {
            "metadata": cri.ContainerMetadata(name=name),
            "image": IMAGE,
            "command": command,
            "log_path": f"{name}.log",
        }
        return cri.ContainerConfig(**{**defaults, **kwargs})  # type: ignore[arg-type]

    async def run_sandbox(self, name: str, **kwargs: object) -> tuple[str, cri.PodSandboxConfig]:
        config = self.sandbox_config(name, **kwargs)
        return await self.service.run_pod_sandbox(config), config

    async def run_container(
        self,
        sandbox: tuple[str, cri.PodSandboxConfig],
        name: str,
        command: list[str],
        **kwargs: object,
    ) -> str:
        sandbox_id, sandbox_config = sandbox
        config = self.container_config(name, command, **kwargs)
        cid = await self.service.create_container(sandbox_id, config, sandbox_config)
        await self.service.start_container(cid)
        return cid

    async def wait_state(
        self,
        cid: str,
        state: cri.ContainerState = cri.ContainerState.CONTAINER_EXITED,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> cri.ContainerStatus:
        return await self.wait_state_of(self.service, cid, state, timeout)

    @staticmethod
    async def wait_state_of(
        service: OciRuntimeService,
        cid: str,
        state: cri.ContainerState = cri.ContainerState.CONTAINER_EXITED,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> cri.ContainerStatus:
        async def reached() -> cri.ContainerStatus | None:
            status = await service.container_status(cid)
            return status if status.state is state else None

        return await wait_for(reached, timeout, f"container {cid} to be {state.value}")

    async def wait_for_log(self, cid: str, text: bytes, timeout: float = DEFAULT_TIMEOUT) -> None:
        async def logged() -> bool:
            return text in (await self.logs(cid))["stdout"]

        await wait_for(logged, timeout, f"{text!r} in the log of {cid}")

    async def logs(self, cid: str) -> dict[str, bytes]:
        status = await self.service.container_status(cid)
        path = Path(status.log_path)
        return read_log(path.read_bytes()) if path.exists() else {"stdout": b"", "stderr": b""}


async def wait_for(
    check: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT, what: str = "a condition"
) -> Any:
    """Poll `check` (sync or async) until it returns something truthy, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


async def tcp_exchange(host: str, port: int, payload: bytes, timeout: float = 5.0) -> bytes:
    """Connect (retrying while nothing listens yet), send `payload`, read until EOF."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
            break
        except (ConnectionRefusedError, TimeoutError, OSError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
    try:
        writer.write(payload)
        await writer.drain()
        writer.write_eof()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


# Every harness of this test session, checked once more after its module's tests have run
# (`assert_nothing_left`), in case something of theirs was left behind late.
MADE: list[tuple[Path, str, str, str]] = []


def assert_nothing_left() -> None:
    """No mount, process, cgroup, IP lease, iptables rule, bridge or dir of any harness."""
    found = []
    for base, suffix, subnet, bridge in MADE:
        found += leftovers(base, suffix, subnet)
        if Path(f"/sys/class/net/{bridge}").exists():
            found.append(f"bridge {bridge}")
        if base.exists():
            found.append(f"dir {base}")
    assert not found, f"left behind: {found}"


def unique_subnet() -> str:
    """A /24 in 10.200.0.0/13 picked at random, so that runs beside each other do not clash."""
    n = secrets.randbelow(8 * 256)
    return f"10.{200 + n // 256}.{n % 256}.0/24"


def leftovers(base: Path, suffix: str, subnet: str) -> list[str]:
    """What this harness made that still exists: mounts, processes, cgroups, IP leases and
    iptables rules (every rule CNI makes for a pod names its IP)."""
    found = []
    base_s = str(base)
    with open("/proc/self/mountinfo") as f:
        found += [f"mount {line.split()[4]}" for line in f if base_s in line.split()[4]]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                if base_s.encode() in cmdline:
                    argv = cmdline.replace(bytes(1), b" ")[:120].decode(errors="replace")
                    found.append(f"process {pid}: {argv}")
    for hierarchy in CGROUP_ROOT.iterdir():
        # The harness owns the top cgroup; each pod's cgroup below it is the runtime's to remove.
        top = hierarchy / f"{TMP_PREFIX}{suffix}"
        if top.is_dir():
            found += [f"cgroup {p}" for p in top.iterdir() if p.is_dir()]
    prefix = subnet.rsplit(".", 1)[0] + "."
    for table in ("nat", "filter"):
        rules = subprocess.run(
            ["iptables-save", "-t", table], capture_output=True, text=True
        ).stdout
        found += [f"iptables {table}: {r}" for r in rules.splitlines() if prefix in r]
    leases = base / "run" / "cni" / "networks"
    if leases.exists():
        found += [
            f"IP lease {p.name}" for p in leases.rglob("*") if p.is_file() and p.name[0].isdigit()
        ]
    return found


@contextlib.asynccontextmanager
async def runtime_harness(
    *, oci_runtime: str = "runc", **network: object
) -> AsyncIterator[Harness]:
    """A RuntimeService of its own for one test; on exit every sandbox is removed, the bridge
    deleted, the cgroup removed, and the test fails if anything of it is still there."""
    suffix = secrets.token_hex(3)
    base = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir="/tmp"))
    bridge = f"kle{suffix}"
    options = NetworkOptions(
        bridge=bridge,
        subnet=str(network.pop("subnet", unique_subnet())),
        **network,  # type: ignore[arg-type]
    )
    MADE.append((base, suffix, options.subnet, bridge))
    layer = base / "image" / "layer"
    make_busybox_rootfs(layer)
    images = BusyboxImageService(layer)
    service = OciRuntimeService(
        image_service=images,
        state_dir=base / "run",
        root_dir=base / "data",
        network=options,
        oci_runtime=oci_runtime,
    )
    harness = Harness(
        base=base,
        suffix=suffix,
        network=options,
        images=images,
        service=service,
        oci_runtime=oci_runtime,
    )
    try:
        yield harness
    finally:
        problems: list[str] = []
        for svc in [service, *harness.extra_services]:
            svc.close()
        # A fresh service sees what is on disk now, whichever service made or removed it.
        cleaner = harness.new_service()
        for sandbox in await cleaner.list_pod_sandboxes():
            try:
                await cleaner.remove_pod_sandbox(sandbox.id)
            except Exception as e:
                problems.append(f"remove_pod_sandbox: {e}")
        for container in await cleaner.list_containers():
            try:
                await cleaner.remove_container(container.id)
            except Exception as e:
                problems.append(f"remove_container: {e}")
        cleaner.close()
        # The bridge plugin leaves its bridge for the next pod; the node owns it, as here.
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)
        found = leftovers(base, suffix, options.subnet)
        # Take away whatever is left even when the runtime failed to, so that one broken test
        # does not break the machine for the next.
        _force_cleanup(base, suffix, bridge)
        shutil.rmtree(base, ignore_errors=True)
        if problems or found:
            raise AssertionError("left behind: " + "; ".join(problems + found))


def _force_cleanup(base: Path, suffix: str, bridge: str) -> None:
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with contextlib.suppress(OSError):
                if str(base).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(int(pid), 9)
    with open("/proc/self/mountinfo") as f:
        targets = [line.split()[4] for line in f if str(base) in line.split()[4]]
    for target in reversed(targets):
        subprocess.run(["umount", "-l", target], capture_output=True)
    subprocess.run(["ip", "link", "del", bridge], capture_output=True)
    for hierarchy in CGROUP_ROOT.iterdir():
        top = hierarchy / f"{TMP_PREFIX}{suffix}"
        if top.is_dir():
            for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
                with contextlib.suppress(OSError):
                    os.rmdir(dirpath)
