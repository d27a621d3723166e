"""Image pull policy, back-off and events, as the kubelet's image manager has them."""

from __future__ import annotations

import pytest

from kubelite.kubelet import images
from kubelite.kubelet.images import ImagePuller, ImagePullError
from kubelite.runtime import errors
from kubelite.runtime.cri import Image, ImageConfig


class Store:
    """An image service in memory: a test double standing in for the runtime's store."""

    def __init__(self, present: set[str] = frozenset(), fail: Exception | None = None) -> None:
        self.present = set(present)
        self.fail = fail
        self.pulls = 0

    async def image_status(self, image: str) -> Image | None:
        if image.startswith("bad//"):
            raise errors.InvalidImageReference(image, "invalid reference format")
        if image in self.present or image.startswith("sha256:"):
            return Image(f"sha256:{image}", [image], [], 1234, ImageConfig())
        return None

    async def pull_image(self, image: str, **_: object) -> str:
        self.pulls += 1
        if self.fail is not None:
            raise self.fail
        self.present.add(image)
        return f"sha256:{image}"


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


POD = {"metadata": {"name": "p", "namespace": "default", "uid": "u1"}}


def container(image: str, policy: str | None = None) -> dict:
    made = {"name": "c", "image": image}
    if policy:
        made["imagePullPolicy"] = policy
    return made


async def ensure(puller: ImagePuller, c: dict) -> tuple[str | None, list, str]:
    events: list[tuple[str, str, str]] = []

    async def record(kind: str, reason: str, message: str) -> None:
        events.append((kind, reason, message))

    try:
        return await puller.ensure_image(POD, c, record), events, ""
    except ImagePullError as e:
        return None, events, f"{e.reason}: {e.message}"


async def test_if_not_present_uses_the_image_on_the_node() -> None:
    store = Store({"nginx:1.25"})
    image_id, events, _ = await ensure(ImagePuller(store), container("nginx:1.25", "IfNotPresent"))
    assert image_id == "sha256:nginx:1.25" and store.pulls == 0
    assert events == [
        (
            "Normal",
            "Pulled",
            'Container image "nginx:1.25" already present on machine and can be accessed by '
            "the pod",
        )
    ]


async def test_always_pulls_and_reports_the_time_and_size() -> None:
    store = Store({"nginx"})
    image_id, events, _ = await ensure(ImagePuller(store), container("nginx", "Always"))
    assert image_id == "sha256:nginx" and store.pulls == 1
    assert events[0] == ("Normal", "Pulling", 'Pulling image "nginx"')
    kind, reason, message = events[1]
    assert (kind, reason) == ("Normal", "Pulled")
    assert message.startswith('Successfully pulled image "nginx" in ')
    assert message.endswith("including waiting). Image size: 1234 bytes.")


async def test_never_without_the_image_is_err_image_never_pull() -> None:
    _, events, error = await ensure(ImagePuller(Store()), container("nginx", "Never"))
    message = 'Container image "nginx" is not present with pull policy of Never'
    assert error == f"ErrImageNeverPull: {message}"
    assert events == [("Warning", "ErrImageNeverPull", message)]


async def test_a_failed_pull_backs_off_then_tries_again() -> None:
    clock = Clock()
    store = Store(fail=errors.ImageNotFound("nope", 'failed to pull image "nope": not found'))
    puller = ImagePuller(store, clock=clock)
    _, events, error = await ensure(puller, container("nope"))
    assert error == 'ErrImagePull: failed to pull image "nope": not found'
    assert events[-1] == (
        "Warning",
        "Failed",
        'Failed to pull image "nope": failed to pull image "nope": not found',
    )
    clock.now += 5
    _, events, error = await ensure(puller, container("nope"))
    assert store.pulls == 1
    assert error == (
        'ImagePullBackOff: Back-off pulling image "nope": failed to pull image "nope": not found'
    )
    assert events == [("Normal", "BackOff", 'Back-off pulling image "nope"')]
    clock.now += 6  # past the first 10 s
    await ensure(puller, container("nope"))
    assert store.pulls == 2
    clock.now += 15  # within the doubled 20 s
    _, _, error = await ensure(puller, container("nope"))
    assert store.pulls == 2 and error.startswith("ImagePullBackOff")


async def test_an_invalid_reference_is_invalid_image_name() -> None:
    _, _, error = await ensure(ImagePuller(Store()), container("bad//name"))
    assert error.startswith("InvalidImageName: ")


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("reg:5000/app", "Always"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
    ],
)
def test_the_default_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    assert images._default_policy(image) == policy
