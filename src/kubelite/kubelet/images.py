"""Making sure a container's image is there before it is created: pull policy, back-off, events.

The kubelet's image manager (`pkg/kubelet/images/image_manager.go`, EnsureImageExists):

- `imagePullPolicy` Never uses what is on the node or fails with `ErrImageNeverPull`;
  IfNotPresent pulls only when missing; Always pulls every time (a registry answering "same
  digest" makes that cheap).
- A failed pull is a `Failed` event (`Failed to pull image "x": ...`) and `ErrImagePull`; the
  next attempts within the back-off (10 s doubling to 300 s, per pod and image) are not tried
  but answered with `ImagePullBackOff` and a `BackOff` event (`Back-off pulling image "x"`).
- A pull is announced (`Pulling image "x"`) and reported with the time it took and the image's
  size (`Successfully pulled image "x" in 1.2s (1.2s including waiting). Image size: N bytes.`),
  an image already there with `Container image "x" already present on machine`.

The waiting reason and message the puller raises are what the pod's container status shows.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

from kubelite.api.types import Obj
from kubelite.kubelet.backoff import Backoff
from kubelite.kubelet.status.messages import go_duration
from kubelite.runtime import errors as runtime_errors
from kubelite.runtime.cri import AuthConfig, Image, ImageService

# Container waiting reasons of image trouble (pkg/kubelet/images/types.go).
ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACKOFF = "ImagePullBackOff"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
INVALID_IMAGE_NAME = "InvalidImageName"

# Event reasons (pkg/kubelet/events/event.go).
PULLING = "Pulling"
PULLED = "Pulled"
FAILED = "Failed"
BACK_OFF = "BackOff"

# Records an event about the container: (type, reason, message).
Recorder = Callable[[str, str, str], Awaitable[None]]


class ImagePullError(Exception):
    """The image is not there and will not be for now: `reason` is the container's waiting
    reason, the message its waiting message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class ImagePuller:
    """EnsureImageExists for the containers of one node."""

    def __init__(
        self,
        images: ImageService,
        *,
        clock: Callable[[], float] = time.monotonic,
        backoff: Backoff | None = None,
    ) -> None:
        self.images = images
        self.clock = clock
        self.backoff = backoff or Backoff(clock)
        self._last_error: dict[str, str] = {}
        # Image id -> its digest reference (`docker.io/library/nginx@sha256:...`), which pods'
        # container statuses show as imageID.
        self.repo_digests: dict[str, str] = {}
        # A pull-back-off entry counts from the failed pull, not from a container's exit.
        self._failed_at: dict[str, float] = {}

    async def ensure_image(
        self,
        pod: Obj,
        container: Obj,
        record: Recorder,
        *,
        auths: Sequence[AuthConfig] = (),
    ) -> str:
        """The image id for the container, pulling it as its policy says (with `auths`, the
        credentials of the pod's pull secrets, tried in turn); raises ImagePullError when it
        cannot be had."""
        image = container.get("image") or ""
        policy = container.get("imagePullPolicy") or default_policy(image)
        return await self.ensure(pod, image, policy, record, auths=auths)

    async def ensure(
        self,
        pod: Obj,
        image: str,
        policy: str,
        record: Recorder,
        *,
        auths: Sequence[AuthConfig] = (),
    ) -> str:
        """EnsureImageExists for any reference of the pod (a container's image, an image
        volume's): the image id, pulled as `policy` says. With credentials (from the pod's
        pull secrets), each is tried in turn until one pulls, as the kubelet does; without,
        the pull is anonymous (or uses the runtime's own credentials)."""
        try:
            present = await self.images.image_status(image)
        except runtime_errors.InvalidImageReference as e:
            message = f'Failed to apply default image tag "{image}": {e}'
            await record("Warning", INVALID_IMAGE_NAME, message)
            raise ImagePullError(INVALID_IMAGE_NAME, message) from e
        if present is not None and policy != "Always":
            self._remember(present)
            await record("Normal", PULLED, f'Container image "{image}" already present on machine')
            return present.id
        if policy == "Never":
            message = f'Container image "{image}" is not present with pull policy of Never'
            await record("Warning", ERR_IMAGE_NEVER_PULL, message)
            raise ImagePullError(ERR_IMAGE_NEVER_PULL, message)
        key = f"{pod['metadata'].get('uid', '')}_{image}"
        failed_at = self._failed_at.get(key)
        if failed_at is not None and self.backoff.in_backoff_since(key, failed_at):
            message = f'Back-off pulling image "{image}"'
            await record("Normal", BACK_OFF, message)
            previous = self._last_error.get(key)
            raise ImagePullError(
                IMAGE_PULL_BACKOFF, f"{message}: {previous}" if previous else message
            )
        await record("Normal", PULLING, f'Pulling image "{image}"')
        started = self.clock()
        try:
            image_id = await self._pull(image, auths)
        except runtime_errors.RuntimeFailure as e:
            now = self.clock()
            self.backoff.next(key, now)
            self._failed_at[key] = now
            self._last_error[key] = str(e)
            await record("Warning", FAILED, f'Failed to pull image "{image}": {e}')
            raise ImagePullError(ERR_IMAGE_PULL, str(e)) from e
        # Cut to milliseconds, as the kubelet prints pull times.
        took = go_duration(int((self.clock() - started) * 1000) / 1000)
        self.backoff.reset(key)
        self._failed_at.pop(key, None)
        self._last_error.pop(key, None)
        pulled = await self.images.image_status(image_id)
        size = pulled.size if pulled is not None else 0
        if pulled is not None:
            self._remember(pulled)
        await record(
            "Normal",
            PULLED,
            f'Successfully pulled image "{image}" in {took} ({took} including waiting). '
            f"Image size: {size} bytes.",
        )
        return image_id

    async def _pull(self, image: str, auths: Sequence[AuthConfig]) -> str:
        """One pull per credential until one succeeds; all failing, their errors together
        (utilerrors.NewAggregate: one alone as it is, several as `[a, b]`)."""
        if not auths:
            return await self.images.pull_image(image)
        failures: list[runtime_errors.RuntimeFailure] = []
        for auth in auths:
            try:
                return await self.images.pull_image(image, auth=auth)
            except runtime_errors.RuntimeFailure as e:
                failures.append(e)
        if len(failures) == 1:
            raise failures[0]
        messages = list(dict.fromkeys(str(f) for f in failures))
        text = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
        raise runtime_errors.ImageError(image, text)

    def _remember(self, image: Image) -> None:
        if image.repo_digests:
            self.repo_digests[image.id] = image.repo_digests[0]


def default_policy(image: str) -> str:
    """The API's default, for a container (or image volume) that reached the kubelet without
    one: Always for `:latest` or no tag, IfNotPresent otherwise."""
    name = image.split("@", 1)[0]
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
    if "@" in image:
        return "IfNotPresent"
    return "Always" if tag in ("", "latest") else "IfNotPresent"


# The name it had first, which tests still use.
_default_policy = default_policy
