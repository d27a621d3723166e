"""A pod's image volumes in a sync: pulled once by the first container started, with events about
the pod; a failed pull is the waiting reason of the containers that mount the volume; the image
is mounted before a container's mounts are made."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from test_sync import Clock, Events, Runtime

from kubelite.kubelet.backoff import Backoff
from kubelite.kubelet.dns import DNSConfigurer
from kubelite.kubelet.image_volumes import ImageVolumes
from kubelite.kubelet.images import ImagePuller
from kubelite.kubelet.sync import PodSyncer
from kubelite.kubelet.volumes.image import PLUGIN_DIR, ImageVolumeMountError
from kubelite.runtime import errors
from kubelite.runtime.cri import AuthConfig, Image, ImageConfig

MODELS = "registry.example.com/models:1"


class Store:
    """The image service in memory: what is present, what pulls were asked, with which auth."""

    def __init__(
        self, present: frozenset[str] = frozenset(), fail: Exception | None = None
    ) -> None:
        self.present = set(present) | {"busybox"}
        self.fail = fail
        self.pulls: list[tuple[str, AuthConfig | None]] = []

    async def image_status(self, image: str) -> Image | None:
        name = image.removeprefix("sha256:")
        if name in self.present:
            return Image(f"sha256:{name}", [name], [], 10, ImageConfig())
        return None

    async def pull_image(self, image: str, auth: AuthConfig | None = None, **_: Any) -> str:
        self.pulls.append((image, auth))
        if self.fail is not None:
            raise self.fail
        self.present.add(image)
        return f"sha256:{image}"

    async def layer_dirs(self, image_id: str) -> list[Path]:
        if image_id.removeprefix("sha256:") not in self.present:
            raise errors.ImageNotFound(image_id, f'image "{image_id}" is not in the image store')
        return [Path("/layers") / image_id.removeprefix("sha256:").replace("/", "_")]


class Mounter:
    """Records the overlays mounted (by target) without mounting anything."""

    def __init__(self) -> None:
        self.overlays: dict[Path, list[Path]] = {}

    def mount_overlay(self, lower: list[Path], target: Path) -> None:
        self.overlays[target.resolve()] = list(lower)

    def unmount(self, target: Path) -> None:
        del self.overlays[target.resolve()]

    def mounts_under(self, root: Path) -> list[tuple[Path, str]]:
        root = root.resolve()
        return [(p, "overlay") for p in self.overlays if p == root or root in p.parents]

    def mount_tmpfs(self, target: Path, size_bytes: int | None) -> None:
        raise AssertionError("not for image volumes")

    def bind_mount(self, source: str, target: Path) -> None:
        raise AssertionError("not for image volumes")


class Lookup:
    def __init__(self, secrets: dict[str, dict] | None = None) -> None:
        self.secrets = secrets or {}

    async def config_map(self, namespace: str, name: str) -> dict | None:
        return None

    async def secret(self, namespace: str, name: str) -> dict | None:
        return self.secrets.get(name)


class Node:
    """A PodSyncer with image volumes, over the doubles above."""

    def __init__(self, tmp_path: Path, store: Store, lookup: Lookup | None = None) -> None:
        self.clock = Clock()
        self.runtime = Runtime(self.clock)
        self.store = store
        self.mounter = Mounter()
        self.tmp_path = tmp_path
        # For each container made: whether its image volumes were mounted when its mounts were.
        self.mounted_at_make_mounts: dict[str, bool] = {}
        self.make_mounts_error: Exception | None = None
        puller = ImagePuller(store, clock=self.clock)  # type: ignore[arg-type]
        self.syncer = PodSyncer(
            self.runtime,  # type: ignore[arg-type]
            store,  # type: ignore[arg-type]
            puller=puller,
            crash_backoff=Backoff(self.clock),
            dns=DNSConfigurer(cluster_dns=["10.43.0.10"], resolv_conf=""),
            cgroup_root="/kubelite",
            memory_capacity=1 << 30,
            make_env=self._make_env,
            make_mounts=self._make_mounts,
            run_hook=self._run_hook,
            probe_result=lambda cid, kind: None,
            image_volumes=ImageVolumes(
                puller,
                store,  # type: ignore[arg-type]
                lookup or Lookup(),
                self.pod_dir,
                self.mounter,
            ),
            pull_secrets=lookup or Lookup(),
        )

    def pod_dir(self, uid: str) -> Path:
        return self.tmp_path / "pods" / uid

    def volume_path(self, name: str) -> Path:
        return (self.pod_dir("u1") / "volumes" / PLUGIN_DIR / name).resolve()

    async def _make_env(self, pod: dict, container: dict) -> list[tuple[str, str]]:
        return []

    async def _make_mounts(self, pod: dict, container: dict, envs: list, restart: int) -> list:
        if self.make_mounts_error is not None:
            raise self.make_mounts_error
        self.mounted_at_make_mounts[container["name"]] = self.volume_path("models") in (
            self.mounter.overlays
        )
        return []

    async def _run_hook(self, *_: Any) -> str:
        return ""

    async def sync(self, pod: dict) -> Events:
        events = Events()
        await self.syncer.sync_pod(pod, await self.syncer.runtime_status("u1"), events)
        return events


def pod(policy: str = "IfNotPresent", reference: str = MODELS, **spec: Any) -> dict:
    """Container `reader` mounts the image volume `models`; container `other` does not."""
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
        "spec": {
            "containers": [
                {
                    "name": "reader",
                    "image": "busybox",
                    "imagePullPolicy": "IfNotPresent",
                    "volumeMounts": [{"name": "models", "mountPath": "/models"}],
                },
                {"name": "other", "image": "busybox", "imagePullPolicy": "IfNotPresent"},
            ],
            "volumes": [
                {"name": "models", "image": {"reference": reference, "pullPolicy": policy}}
            ],
            **spec,
        },
    }


def created(node: Node) -> list[str]:
    return [c for c in node.runtime.calls if c.startswith("create")]


async def test_the_image_is_pulled_once_with_pod_events_and_mounted_before_the_mounts_are_made(
    tmp_path: Path,
) -> None:
    node = Node(tmp_path, Store())
    events = await node.sync(pod())

    assert node.store.pulls == [(MODELS, None)]
    pod_events = [(reason, message) for reason, message, path in events if path == ""]
    assert pod_events[0] == ("Pulling", f'Pulling image "{MODELS}"')
    assert pod_events[1][0] == "Pulled"
    assert pod_events[1][1].startswith(f'Successfully pulled image "{MODELS}" in ')
    assert created(node) == ["create reader attempt=0", "create other attempt=0"]
    # Mounted once, for the container that mounts it, before its mounts were made.
    assert node.mounter.overlays == {
        node.volume_path("models"): [
            Path("/layers/registry.example.com_models:1"),
            node.volume_path("models").parent / ".empty",
        ]
    }
    assert node.mounted_at_make_mounts == {"reader": True, "other": True}


async def test_a_pod_at_rest_pulls_nothing_and_records_nothing(tmp_path: Path) -> None:
    node = Node(tmp_path, Store())
    await node.sync(pod(policy="Always"))

    events = await node.sync(pod(policy="Always"))

    assert events == []
    assert len(node.store.pulls) == 1


async def test_a_failed_pull_is_err_image_pull_for_the_container_mounting_it_only(
    tmp_path: Path,
) -> None:
    failure = errors.ImageNotFound(
        MODELS,
        f'failed to pull and unpack image "{MODELS}": failed to resolve reference '
        f'"{MODELS}": {MODELS}: not found',
    )
    node = Node(tmp_path, Store(fail=failure))
    events = await node.sync(pod())

    assert node.syncer.reasons[("u1", "reader")] == ("ErrImagePull", str(failure))
    assert ("Failed", f'Failed to pull image "{MODELS}": {failure}', "") in events
    assert ("Failed", "Error: ErrImagePull", "spec.containers{reader}") in events
    # The other container starts; the one mounting the volume is never created.
    assert created(node) == ["create other attempt=0"]
    assert ("u1", "other") not in node.syncer.reasons

    node.clock.now += 1
    events = await node.sync(pod())
    assert node.syncer.reasons[("u1", "reader")] == (
        "ImagePullBackOff",
        f'Back-off pulling image "{MODELS}": {failure}',
    )
    assert ("BackOff", f'Back-off pulling image "{MODELS}"', "") in events
    assert ("Failed", "Error: ImagePullBackOff", "spec.containers{reader}") in events
    assert len(node.store.pulls) == 1


async def test_never_and_absent_is_err_image_never_pull(tmp_path: Path) -> None:
    node = Node(tmp_path, Store())
    await node.sync(pod(policy="Never"))
    assert node.syncer.reasons[("u1", "reader")] == (
        "ErrImageNeverPull",
        f'Container image "{MODELS}" is not present with pull policy of Never',
    )
    assert node.store.pulls == []


async def test_the_pods_pull_secrets_are_the_pulls_credentials(tmp_path: Path) -> None:
    config = {"auths": {"registry.example.com": {"username": "robot", "password": "s3cret"}}}
    secret = {
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
    }
    node = Node(tmp_path, Store(), Lookup({"regcred": secret}))
    await node.sync(pod(imagePullSecrets=[{"name": "regcred"}]))
    assert node.store.pulls == [(MODELS, AuthConfig(username="robot", password="s3cret"))]


async def test_a_containers_image_is_pulled_with_the_pods_pull_secrets_too(tmp_path: Path) -> None:
    """The kubelet's keyring serves the containers' images as it serves image volumes."""
    config = {"auths": {"registry.example.com": {"username": "robot", "password": "s3cret"}}}
    secret = {
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
    }
    node = Node(tmp_path, Store(), Lookup({"regcred": secret}))
    private = "registry.example.com/team/app:1"
    spec = pod(imagePullSecrets=[{"name": "regcred"}])
    spec["spec"]["volumes"] = []
    spec["spec"]["containers"] = [{"name": "app", "image": private, "imagePullPolicy": "Always"}]
    await node.sync(spec)
    assert node.store.pulls == [(private, AuthConfig(username="robot", password="s3cret"))]


async def test_an_image_that_cannot_be_mounted_or_lacks_the_subpath_is_create_container_error(
    tmp_path: Path,
) -> None:
    store = Store()
    node = Node(tmp_path, store)
    node.make_mounts_error = ImageVolumeMountError(
        'failed to ensure image subpath "v2" in "/x": openat v2: no such file or directory'
    )
    await node.sync(pod())
    assert node.syncer.reasons[("u1", "reader")] == (
        "CreateContainerError",
        'failed to ensure image subpath "v2" in "/x": openat v2: no such file or directory',
    )

    async def gone(image_id: str) -> list[Path]:
        raise errors.ImageNotFound(image_id, f'image "{image_id}" is not in the image store')

    node = Node(tmp_path / "again", Store())
    node.store.layer_dirs = gone  # type: ignore[method-assign]
    await node.sync(pod())
    assert node.syncer.reasons[("u1", "reader")] == (
        "CreateContainerError",
        f'failed to get image volume "models": image "sha256:{MODELS}" is not in the image store',
    )
