"""The runtime's failures, one class each, so that the kubelet can tell them apart.

The kubelet turns image errors into `ErrImagePull` / `ImagePullBackOff` and container errors
into `CreateContainerError` / `RunContainerError` with the message given here, so every message
names the image, the container or the sandbox it is about.
"""

from __future__ import annotations


class RuntimeFailure(Exception):
    """Base of every error the runtime raises on purpose."""


# --- images ---


class ImageError(RuntimeFailure):
    """A pull or an image operation failed; `image` is the reference as the caller gave it."""

    def __init__(self, image: str, message: str) -> None:
        super().__init__(message)
        self.image = image


class InvalidImageReference(ImageError):
    """The reference does not parse (Kubernetes: `InvalidImageName`)."""


class ImageNotFound(ImageError):
    """The registry answered that the repository or tag does not exist."""


class RegistryUnauthorized(ImageError):
    """The registry refused the credentials, or wanted some and none were given."""


class RegistryUnavailable(ImageError):
    """The registry could not be reached: DNS, connection refused, TLS, timeout, 5xx."""


class UnknownRegistry(RegistryUnavailable):
    """The registry's host name does not resolve (DNS): often a typo in the image name."""


class DigestMismatch(ImageError):
    """A downloaded blob's digest is not the one the manifest named."""


class UnsupportedImage(ImageError):
    """A manifest media type or layer format the runtime cannot use, or no matching platform."""


class ImageInUse(ImageError):
    """The image cannot be removed while a container uses it."""


# --- sandboxes and containers ---


class SandboxError(RuntimeFailure):
    """A pod sandbox could not be made or changed; nothing of it was left behind."""


class NetworkError(SandboxError):
    """A CNI plugin failed; the message carries the plugin's own error."""


class ContainerError(RuntimeFailure):
    """A container could not be created or started; `reason` is short, message says why."""

    def __init__(self, message: str, *, reason: str = "RunContainerError") -> None:
        super().__init__(message)
        self.reason = reason


class NotFound(RuntimeFailure):
    """No sandbox or container has that id."""
