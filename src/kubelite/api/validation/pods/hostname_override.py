"""`spec.hostnameOverride` (KEP-4762: HostnameOverride, beta on in 1.35, GA in 1.37).

The override becomes the pod's kernel hostname as it is, so it must be a name the kernel and a
resolver accept: an RFC 1123 subdomain of at most 64 characters (the kernel's nodename). It
replaces what `hostname`, `subdomain` and `setHostnameAsFQDN` would make, so asking for an FQDN
hostname as well is contradictory; and a host-network pod shares the node's UTS namespace, so it
cannot have a hostname of its own.

The setHostnameAsFQDN message is the one of Kubernetes' TestValidatePodHostName
(kubernetes/kubernetes#132558); the host-network one is worded the same way.
"""

from __future__ import annotations

from kubelite.api.errors import FieldError, child, forbidden_field, too_long
from kubelite.api.types import Obj
from kubelite.api.validation.pods.fields import _dns1123_subdomain

# The kernel's nodename holds 64 bytes (sethostname(2)); the OpenAPI says "at most 64 characters".
MAX_HOSTNAME_OVERRIDE_LENGTH = 64


def validate_hostname_override(spec: Obj, path: str) -> list[FieldError]:
    """The rules of `hostnameOverride` in the PodSpec at `path`; nothing when it is unset."""
    override = spec.get("hostnameOverride")
    if override is None:
        return []
    at = child(path, "hostnameOverride")
    errs: list[FieldError] = []
    if spec.get("setHostnameAsFQDN"):
        errs.append(forbidden_field(at, "may not be specified when setHostnameAsFQDN is true"))
    if spec.get("hostNetwork"):
        errs.append(forbidden_field(at, "may not be specified when hostNetwork is true"))
    errs.extend(_dns1123_subdomain(at, override))
    if len(override) > MAX_HOSTNAME_OVERRIDE_LENGTH:
        errs.append(too_long(at, MAX_HOSTNAME_OVERRIDE_LENGTH))
    return errs
