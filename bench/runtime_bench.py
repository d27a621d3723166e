"""Pod start benchmark: from run_pod_sandbox to "containers running", kubelite's runtime against
`podman kube play` on the same machine.

kubelite: run_pod_sandbox (pinned namespaces, CNI loopback + bridge + portmap, cgroup, pod
files), then create_container + start_container for each container in turn, as the kubelet does;
the clock stops when the last start_container returns. Measured for a one-container and a
two-container pod, each `--runs` times; the median is printed.

podman (the peer, RUNTIME_NOTES.md): `podman kube play` of the same two-container pod, with
podman configured as on these machines: cgroupfs, runc, CNI, explicit nofile/nproc ulimits and a
local pause image, all in a private storage root and network config dir. The clock stops when
the command returns (podman returns once every container has started).

Both run busybox `sleep` from the same single-layer root. Needs root.
Run: `.venv/bin/python bench/runtime_bench.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kubelite.runtime import cri
from kubelite.runtime.sandbox.cni import NetworkOptions
from kubelite.runtime.service import OciRuntimeService

# The repository's root, for the runtime tests' one-layer busybox image (a test double of the
# image store: the benchmark measures the runtime, not pulls).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.e2e.runtime.runtime_fixtures import (
    IMAGE,
    BusyboxImageService,
    make_busybox_rootfs,
)

BUSYBOX = Path("/bin/busybox")
PODMAN_IMAGE = "localhost/kl-bench-busybox:latest"
PODMAN_PAUSE = "localhost/kl-bench-pause:latest"
SLEEP = ["sleep", "3600"]


async def kubelite_pod_start(
    base: Path, layer: Path, containers: int, runs: int, oci_runtime: str = "runc"
) -> list[float]:
    suffix = secrets.token_hex(3)
    n = secrets.randbelow(256)
    service = OciRuntimeService(
        image_service=BusyboxImageService(layer),
        state_dir=base / f"run-{containers}",
        root_dir=base / f"data-{containers}",
        network=NetworkOptions(bridge=f"klb{suffix}", subnet=f"10.211.{n}.0/24"),
        oci_runtime=oci_runtime,
    )
    times = []
    try:
        for i in range(runs):
            config = cri.PodSandboxConfig(
                metadata=cri.PodSandboxMetadata(name=f"bench-{i}", uid=f"u{i}", namespace="b"),
                log_directory=str(base / "logs" / f"{containers}-{i}"),
                cgroup_parent=f"/kl-bench-{suffix}/pod{i}",
            )
            started = time.perf_counter()
            sandbox_id = await service.run_pod_sandbox(config)
            for c in range(containers):
                ctr = cri.ContainerConfig(
                    metadata=cri.ContainerMetadata(name=f"c{c}"),
                    image=IMAGE,
                    command=SLEEP,
                    log_path=f"c{c}.log",
                )
                cid = await service.create_container(sandbox_id, ctr, config)
                await service.start_container(cid)
            times.append(time.perf_counter() - started)
            await service.remove_pod_sandbox(sandbox_id)
    finally:
        for sandbox in await service.list_pod_sandboxes():
            await service.remove_pod_sandbox(sandbox.id)
        service.close()
        subprocess.run(["ip", "link", "del", f"klb{suffix}"], capture_output=True)
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            top = hierarchy / f"kl-bench-{suffix}"
            if top.is_dir():
                for sub in top.iterdir():
                    if sub.is_dir():
                        sub.rmdir()
                top.rmdir()
    return times


class Podman:
    """podman in a private root, configured as RUNTIME_NOTES.md says works on these machines."""

    def __init__(self, base: Path) -> None:
        self.base = base
        suffix = secrets.token_hex(3)
        self.network = f"klbench{suffix}"
        self.bridge = ""
        (base / "cni").mkdir(parents=True)
        conf = base / "containers.conf"
        conf.write_text(
            f"""[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
infra_image = "{PODMAN_PAUSE}"
events_logger = "file"

[network]
network_backend = "cni"
network_config_dir = "{base / "cni"}"
"""
        )
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}
        self.global_args = [
            "--root", str(base / "storage"),
            "--runroot", str(base / "runroot"),
            "--tmpdir", str(base / "tmp"),
            "--storage-driver", "overlay",
        ]  # fmt: skip

    def run(self, *args: str, stdin: bytes | None = None) -> str:
        proc = subprocess.run(
            ["podman", *self.global_args, *args],
            input=stdin,
            capture_output=True,
            env=self.env,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args)}: {proc.stderr.decode().strip()}")
        return proc.stdout.decode()

    def setup(self, rootfs: Path) -> None:
        tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True, check=True)
        env = ["--change", "ENV PATH=/bin"]  # `podman import` gives an image no env at all
        self.run("import", *env, "--change", 'CMD ["sh"]', "-", PODMAN_IMAGE, stdin=tar.stdout)
        self.run(
            "import",
            *env,
            "--change",
            'ENTRYPOINT ["/bin/sleep", "infinity"]',
            "-",
            PODMAN_PAUSE,
            stdin=tar.stdout,
        )
        n = secrets.randbelow(256)
        self.run("network", "create", "--subnet", f"10.212.{n}.0/24", self.network)
        # podman 4.3 picks the bridge's name (cni-podmanN) itself.
        (info,) = json.loads(self.run("network", "inspect", self.network))
        self.bridge = info["network_interface"]

    def pod_start(self, base: Path, runs: int) -> list[float]:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "klbench"},
            "spec": {
                "containers": [
                    {"name": f"c{c}", "image": PODMAN_IMAGE, "command": SLEEP} for c in range(2)
                ]
            },
        }
        manifest = base / "pod.json"  # JSON is YAML
        manifest.write_text(json.dumps(pod))
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            self.run("kube", "play", "--network", self.network, str(manifest))
            times.append(time.perf_counter() - started)
            self.run("pod", "rm", "--force", "--time", "0", "klbench")
        return times

    def teardown(self) -> None:
        subprocess.run(
            ["podman", *self.global_args, "pod", "rm", "--all", "--force", "--time", "0"],
            capture_output=True,
            env=self.env,
        )
        subprocess.run(
            ["podman", *self.global_args, "network", "rm", "--force", self.network],
            capture_output=True,
            env=self.env,
        )
        subprocess.run(
            ["podman", *self.global_args, "system", "reset", "--force"],
            capture_output=True,
            env=self.env,
        )
        if self.bridge:
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-podman", action="store_true")
    parser.add_argument(
        "--oci-runtime", choices=("runc", "crun"), default="runc", help="kubelite's OCI runtime"
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("runtime_bench needs root")
    base = Path(tempfile.mkdtemp(prefix="kl-bench-"))
    try:
        rootfs = base / "rootfs"
        make_busybox_rootfs(rootfs)
        # One warm-up pod, so that page cache and the bridge's creation are not in the figures.
        runtime = args.oci_runtime
        await kubelite_pod_start(base / "warm", rootfs, 1, 1, runtime)
        one = await kubelite_pod_start(base / "k1", rootfs, 1, args.runs, runtime)
        two = await kubelite_pod_start(base / "k2", rootfs, 2, args.runs, runtime)
        for count, times in ((1, one), (2, two)):
            print(
                f"kubelite ({runtime}) {count} container(s): median {median_ms(times):7.1f} ms "
                f"over {args.runs} pods"
            )
        if args.no_podman:
            return
        podman = Podman(base / "podman")
        try:
            podman.setup(rootfs)
            podman.pod_start(base / "podman", 1)  # warm-up
            peer = podman.pod_start(base / "podman", args.runs)
        finally:
            podman.teardown()
        print(f"podman    2 containers: median {median_ms(peer):7.1f} ms over {args.runs} pods")
        print(f"ratio podman / kubelite (2 containers): {median(peer) / median(two):.2f}x")
    finally:
        subprocess.run(["umount", "-R", str(base)], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def median(times: list[float]) -> float:
    return statistics.median(times)


if __name__ == "__main__":
    asyncio.run(main())
