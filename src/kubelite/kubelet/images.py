"""Making sure a container's image is there before it is created: pull policy, back-off, events.

The kubelet's image manager (`pkg/kubelet/images/image_manager.go`, EnsureImageExists):

- `imagePullPolicy` Never uses what is on the node or fails with `ErrImageNeverPull`;
  IfNotPresent pulls only when missing; Always pulls every time (a registry answering "same
  digest" makes that cheap).
- A failed pull is a `Failed` event (`Failed to pull image "x": ...`) and `ErrImagePull`; the
  next attempts within the back-off (10 s doubling to 300 s, per pod and image) are not tried
  but answered with `ImagePullBackOff` and a `BackOff` event (`Back-off pulling image "x"`).
- A pull is announced (`Pulling image "x"`) and reported with the time it took and the image's
  size (`Successfully pulled image "x" in 1.2s (1.2s including waiting). Image size: N bytes.`).
- An image already there is used if the pod may (KubeletEnsureSecretPulledImages, on since
  1.35: `image_pull_manager` decides from the records of who pulled it), with
  `Container image "x" already present on machine and can be accessed by the pod`; otherwise it
  is pulled again with the pod's own credentials, or, under Never, answered as if it were not
  there (`ErrImageNeverPull`), so that a pod learns nothing of images it may not use.

The waiting reason and message the puller raises are what the pod's container status shows.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

from kubelite.api.types import Obj
from kubelite.kubelet.backoff import Backoff
from kubelite.kubelet.image_pull_manager import ImagePullManager, pulled_with
from kubelite.kubelet.image_pull_records import SecretCredential
from kubelite.kubelet.pull_secrets import PodCredential
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
# The credentials of a pull: plain, or tracked to the Secret they came from.
Credential = AuthConfig | PodCredential


def _tracked(credential: Credential) -> PodCredential:
    if isinstance(credential, PodCredential):
        return credential
    return PodCredential(credential, None, "")


def _secret_of(credential: PodCredential | None) -> SecretCredential | None:
    if credential is None or credential.secret is None:
        return None
    ref = credential.secret
    return SecretCredential(ref.uid, ref.namespace, ref.name, credential.hash)


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
        pull_manager: ImagePullManager | None = None,
    ) -> None:
        self.images = images
        # Who pulled which image (in memory unless the kubelet gives one kept on disk).
        self.pull_manager = pull_manager or ImagePullManager()
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
        auths: Sequence[Credential] = (),
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
        auths: Sequence[Credential] = (),
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
        credentials = [_tracked(c) for c in auths]
        if present is not None and policy != "Always":
            pod_secrets = [s for c in credentials if (s := _secret_of(c)) is not None]
            if not self.pull_manager.must_attempt_image_pull(image, present.id, pod_secrets):
                self._remember(present)
                await record(
                    "Normal",
                    PULLED,
                    f'Container image "{image}" already present on machine and can be accessed '
                    "by the pod",
                )
                return present.id
        if policy == "Never":
            # Not there, or there but not for this pod: the same answer (it may not learn which).
            message = f'Container image "{image}" is not present with pull policy of Never'
            await record("Warning", ERR_IMAGE_NEVER_PULL, message)
            raise ImagePullError(ERR_IMAGE_NEVER_PULL, message)
        try:
            self.pull_manager.record_pull_intent(image)
        except OSError as e:
            reason = f"failed to record image pull intent: {e}"
            raise ImagePullError(
                reason,
                f'Failed to record image pull intent for container image "{image}": {reason}',
            ) from e
        try:
            image_id, used = await self._pull_after_backoff(pod, image, credentials, record)
        except BaseException:
            self.pull_manager.record_pull_failed(image)
            raise
        self.pull_manager.record_image_pulled(image, image_id, pulled_with(_secret_of(used)))
        return image_id

    async def _pull_after_backoff(
        self, pod: Obj, image: str, credentials: Sequence[PodCredential], record: Recorder
    ) -> tuple[str, PodCredential | None]:
        """The pull itself, unless still backing off from the last failure: the image id and
        the credential that pulled it."""
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
            image_id, used = await self._pull(image, credentials)
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
        return image_id, used

    async def _pull(
        self, image: str, credentials: Sequence[PodCredential]
    ) -> tuple[str, PodCredential | None]:
        """One pull per credential until one succeeds (and which one it was); all failing,
        their errors together (utilerrors.NewAggregate: one alone as it is, several as
        `[a, b]`)."""
        if not credentials:
            return await self.images.pull_image(image), None
        failures: list[runtime_errors.RuntimeFailure] = []
        for credential in credentials:
            try:
                return await self.images.pull_image(image, auth=credential.auth), credential
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
