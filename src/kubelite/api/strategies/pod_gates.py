"""The pod fields that 1.37's schema carries but whose features are off by default in 1.37.

Kubernetes keeps such a field out of storage (`dropDisabledPodFields` in
`pkg/api/pod/util.go`): a write that sets it has it silently removed, unless the stored object
already uses it, so that turning a gate off never breaks updates of existing objects. Strict
decoding accepts the fields (they are in the 1.37 OpenAPI definitions), so this is where they
go. The same rule runs on pods and on the pod templates of workloads (DropDisabledTemplateFields).

Each entry is a field name and the places it may appear; "used" means present in any of those
places of the stored object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from kubelite.api.types import Obj

Places = Callable[[Obj], Iterator[Obj]]


def _dicts(items: object) -> Iterator[Obj]:
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict):
                yield item


def _containers(spec: Obj) -> Iterator[Obj]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from _dicts(spec.get(key))


def _volume_sources(spec: Obj, *kinds: str) -> Iterator[Obj]:
    for volume in _dicts(spec.get("volumes")):
        for kind in kinds:
            source = volume.get(kind)
            if isinstance(source, dict):
                yield source


def _projections(spec: Obj) -> Iterator[Obj]:
    for projected in _volume_sources(spec, "projected"):
        yield from _dicts(projected.get("sources"))


def _empty_dirs(spec: Obj) -> Iterator[Obj]:
    return _volume_sources(spec, "emptyDir")


def _volume_mounts(spec: Obj) -> Iterator[Obj]:
    for container in _containers(spec):
        yield from _dicts(container.get("volumeMounts"))


def _file_sources(spec: Obj) -> Iterator[Obj]:
    """The volume sources that take a defaultUser (VolumeOwnershipUser)."""
    return _volume_sources(spec, "configMap", "secret", "downwardAPI", "projected")


def _file_items(spec: Obj) -> Iterator[Obj]:
    """Everything that names one projected file, and so takes a `user`."""
    for source in _volume_sources(spec, "configMap", "secret", "downwardAPI"):
        yield from _dicts(source.get("items"))
    for projection in _projections(spec):
        for kind in ("configMap", "secret", "downwardAPI"):
            projected = projection.get(kind)
            if isinstance(projected, dict):
                yield from _dicts(projected.get("items"))
        for kind in ("serviceAccountToken", "clusterTrustBundle"):
            token = projection.get(kind)
            if isinstance(token, dict):
                yield token


def _handlers(spec: Obj) -> Iterator[Obj]:
    """Probes and lifecycle hooks: what may hold an httpGet or grpc action."""
    for container in _containers(spec):
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if isinstance(container.get(probe), dict):
                yield container[probe]
        lifecycle = container.get("lifecycle")
        if isinstance(lifecycle, dict):
            for hook in ("postStart", "preStop"):
                if isinstance(lifecycle.get(hook), dict):
                    yield lifecycle[hook]


def _actions(kind: str) -> Places:
    def places(spec: Obj) -> Iterator[Obj]:
        for handler in _handlers(spec):
            action = handler.get(kind)
            if isinstance(action, dict):
                yield action

    return places


def _spec(spec: Obj) -> Iterator[Obj]:
    yield spec


# (field, where it may be): 1.37's fields of alpha or off-by-default beta features.
_SPEC_FIELDS: tuple[tuple[str, Places], ...] = (
    ("mode", _empty_dirs),  # emptyDir.mode
    ("bindMountOptions", _volume_mounts),
    ("defaultUser", _file_sources),
    ("user", _file_items),
    ("mode", _actions("grpc")),
    ("protocol", _actions("httpGet")),
    ("evictionResponders", _spec),
    ("schedulingGroup", _spec),
)

_STATUS_FIELDS = ("volumeHealth", "nodeAllocatableResourceClaimStatuses")


def drop_disabled_spec_fields(spec: Obj, old_spec: Obj | None) -> None:
    """Remove from `spec` (in place) the off features' fields the stored spec does not use."""
    for field, places in _SPEC_FIELDS:
        if old_spec and any(field in place for place in places(old_spec)):
            continue
        for place in places(spec):
            place.pop(field, None)


def drop_disabled_status_fields(status: Obj, old_status: Obj | None) -> None:
    """The same for a pod's status: volume health and DRA's per-node allocations, and the
    mounts' `volumeStatus` (ImageVolumeWithDigest, alpha)."""
    old_status = old_status or {}
    for field in _STATUS_FIELDS:
        if field not in old_status:
            status.pop(field, None)
    for key in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        for container in _dicts(status.get(key)):
            for mount in _dicts(container.get("volumeMounts")):
                mount.pop("volumeStatus", None)
