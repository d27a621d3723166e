"""The pod's volumes (validateVolumes, validateVolumeSource): one source per volume, each
source's own rules, and the projected sources of service account tokens and the downward API.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import (
    FieldError,
    child,
    duplicate,
    forbidden_field,
    invalid,
    not_supported,
    required,
)
from kubelite.api.types import Obj
from kubelite.api.validation import names
from kubelite.api.validation.pods.env import (
    _VOLUME_FIELD_PATHS,
    _validate_object_field_selector,
    _validate_resource_field_selector,
)
from kubelite.api.validation.pods.fields import (
    _enum,
    _index,
    _is_int,
    _local_descending_path,
    _name_at,
    _no_backsteps,
    _plainly_relative,
    _quantity,
)

FILE_MODE_ERROR_MSG = "must be a number between 0 and 0777 (octal), both inclusive"

MAX_FILE_MODE = 0o777

# validatePullPolicy's values, for an image volume as for a container.
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")

MIN_TOKEN_EXPIRATION_SECONDS = 10 * 60
MAX_TOKEN_EXPIRATION_SECONDS = 1 << 32

_HOST_PATH_TYPES = (
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
)

# The volume sources in the order validateVolumeSource checks them, with the path segment its
# "may not specify more than 1 volume type" error names (Kubernetes misspells two of them).
_VOLUME_SOURCE_CHECKS = (
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
)

# The volume sources validateVolumeSource looks into (the others only count as a source).
_CHECKED_VOLUME_SOURCES = frozenset(
    {
        "emptyDir",
        "hostPath",
        "secret",
        "configMap",
        "persistentVolumeClaim",
        "downwardAPI",
        "projected",
        "nfs",
        "gitRepo",
        "image",
    }
)
# Each volume source's position in that order, and its name in the error.
_VOLUME_SOURCE_ORDER = {key: (i, shown) for i, (key, shown) in enumerate(_VOLUME_SOURCE_CHECKS)}


def _file_mode(parent: str, name: str, mode: Any) -> list[FieldError]:
    """The file mode at `parent`.`name`, a path only written out for an error."""
    if _is_int(mode) and not 0 <= mode <= MAX_FILE_MODE:
        return [invalid(child(parent, name), mode, FILE_MODE_ERROR_MSG)]
    return []


def _local_non_reserved_path(parent: str, name: str, target: str) -> list[FieldError]:
    if _plainly_relative(target):
        return []
    errs = _local_descending_path(parent, name, target)
    if target.startswith("..") and not target.startswith("../"):
        errs.append(invalid(child(parent, name), target, "must not start with '..'"))
    return errs


def _validate_volumes(volumes: list[Obj], path: str) -> tuple[dict[str, Obj], list[FieldError]]:
    """ValidateVolumes; returns the volumes that are valid, which mounts may name."""
    errs: list[FieldError] = []
    valid: dict[str, Obj] = {}
    for i, volume in enumerate(volumes):
        volume_path = f"{path}[{i}]"
        name = volume.get("name") or ""
        volume_errs = _validate_volume_source(volume, volume_path)
        if not name:
            volume_errs.append(required(child(volume_path, "name")))
        else:
            volume_errs.extend(_name_at(volume_path, "name", name, names.is_dns1123_label))
        if name in valid:
            volume_errs.append(duplicate(child(volume_path, "name"), name))
        if volume_errs:
            errs.extend(volume_errs)
        else:
            valid[name] = volume
    return valid, errs


def _validate_volume_source(volume: Obj, path: str) -> list[FieldError]:
    sources = _volume_sources_of(volume)
    if not sources:
        return [required(path, "must specify a volume type")]
    first = sources[0]
    errs: list[FieldError] = []
    if isinstance(volume[first], dict):
        errs.extend(_validate_one_volume_source(first, volume[first], path))
    for key in sources[1:]:
        shown = _VOLUME_SOURCE_ORDER[key][1]
        errs.append(forbidden_field(child(path, shown), "may not specify more than 1 volume type"))
    return errs


def _volume_sources_of(volume: Obj) -> list[str]:
    """The sources a volume sets, in the order validateVolumeSource checks them.

    A volume names one source among thirty: finding it from the volume's own few keys spares
    looking up all thirty.
    """
    present = []
    for key in volume:
        if key in _VOLUME_SOURCE_ORDER and volume[key] is not None:
            present.append(key)
    if len(present) > 1:
        present.sort(key=_VOLUME_SOURCE_ORDER.__getitem__)
    return present


def _validate_one_volume_source(key: str, source: Obj, volume_path: str) -> list[FieldError]:
    if key not in _CHECKED_VOLUME_SOURCES or (key == "emptyDir" and "sizeLimit" not in source):
        return []
    path = child(volume_path, key)
    errs: list[FieldError] = []
    if key == "emptyDir" and source.get("sizeLimit") is not None:
        size = _quantity(source["sizeLimit"])
        if size is not None and size.sign() < 0:
            errs.append(
                forbidden_field(
                    child(path, "sizeLimit"), "SizeLimit field must be a valid resource quantity"
                )
            )
    elif key == "hostPath":
        host_path = source.get("path") or ""
        if not host_path:
            return [required(child(path, "path"))]
        errs.extend(_no_backsteps(path, "path", host_path))
        kind = source.get("type")
        if kind is not None and kind not in _HOST_PATH_TYPES:
            errs.append(not_supported(child(path, "type"), kind, _HOST_PATH_TYPES))
    elif key in ("secret", "configMap"):
        name_key = "secretName" if key == "secret" else "name"
        if not source.get(name_key):
            errs.append(required(child(path, name_key)))
        errs.extend(_file_mode(path, "defaultMode", source.get("defaultMode")))
        for i, item in enumerate(source.get("items") or []):
            errs.extend(_validate_key_to_path(item, _index(child(path, "items"), i)))
    elif key == "persistentVolumeClaim":
        if not source.get("claimName"):
            errs.append(required(child(path, "claimName")))
    elif key == "downwardAPI":
        errs.extend(_file_mode(path, "defaultMode", source.get("defaultMode")))
        for item in source.get("items") or []:
            # Kubernetes reports an item's problems at the source, not at the item.
            errs.extend(_validate_downward_api_file(item, path))
    elif key == "projected":
        errs.extend(_file_mode(path, "defaultMode", source.get("defaultMode")))
        errs.extend(_validate_projection_sources(source.get("sources") or [], path))
    elif key == "nfs":
        if not source.get("server"):
            errs.append(required(child(path, "server")))
        nfs_path = source.get("path") or ""
        if not nfs_path:
            errs.append(required(child(path, "path")))
        if not nfs_path.startswith("/"):
            errs.append(invalid(child(path, "path"), nfs_path, "must be an absolute path"))
    elif key == "gitRepo":
        if not source.get("repository"):
            errs.append(required(child(path, "repository")))
        errs.extend(_local_descending_path(path, "directory", source.get("directory") or ""))
    elif key == "image":
        # validateImageVolumeSource. A pod template's reference is required too since
        # kubernetes#135989: an empty one only failed later, when pods were made from it.
        if not source.get("reference"):
            errs.append(required(child(path, "reference")))
        errs.extend(_enum(path, "pullPolicy", source.get("pullPolicy"), _PULL_POLICIES))
    return errs


def _validate_key_to_path(item: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not item.get("key"):
        errs.append(required(child(path, "key")))
    target = item.get("path") or ""
    if not target:
        errs.append(required(child(path, "path")))
    errs.extend(_local_non_reserved_path(path, "path", target))
    errs.extend(_file_mode(path, "mode", item.get("mode")))
    return errs


def _validate_downward_api_file(item: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    target = item.get("path") or ""
    if not target:
        errs.append(required(child(path, "path")))
    errs.extend(_local_non_reserved_path(path, "path", target))
    field_ref = item.get("fieldRef")
    resource_ref = item.get("resourceFieldRef")
    if field_ref is not None:
        errs.extend(_validate_object_field_selector(field_ref, _VOLUME_FIELD_PATHS, path))
        if resource_ref is not None:
            errs.append(
                invalid(
                    path,
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                )
            )
    elif resource_ref is not None:
        errs.extend(
            _validate_resource_field_selector(
                resource_ref, child(path, "resourceFieldRef"), volume=True
            )
        )
    else:
        errs.append(required(path, "one of fieldRef and resourceFieldRef is required"))
    errs.extend(_file_mode(path, "mode", item.get("mode")))
    return errs


def _validate_projection_sources(sources: list[Obj], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    # The files the sources project, which must not collide.
    seen_paths: set[str] = set()
    sources_path = child(path, "sources")
    for i, source in enumerate(sources):
        source_path = f"{sources_path}[{i}]"
        count = 0
        for kind in ("secret", "configMap"):
            projection = source.get(kind)
            if projection is None:
                continue
            count += 1
            if not projection.get("name"):
                errs.append(required(child(child(source_path, kind), "name")))
            items = projection.get("items") or []
            items_path = child(child(source_path, kind), "items") if items else ""
            for j, item in enumerate(items):
                errs.extend(_validate_key_to_path(item, f"{items_path}[{j}]"))
                target = item.get("path")
                if target:
                    if target in seen_paths:
                        errs.append(_duplicate_path(path, projection.get("name") or ""))
                    seen_paths.add(target)
        downward = source.get("downwardAPI")
        if downward is not None:
            count += 1
            items = downward.get("items") or []
            downward_path = child(source_path, "downwardAPI") if items else ""
            for item in items:
                errs.extend(_validate_downward_api_file(item, downward_path))
                target = item.get("path")
                if target:
                    if target in seen_paths:
                        errs.append(_duplicate_path(path, target))
                    seen_paths.add(target)
        token = source.get("serviceAccountToken")
        if token is not None:
            count += 1
            expiration = token.get("expirationSeconds") or 0
            if expiration < MIN_TOKEN_EXPIRATION_SECONDS:
                errs.append(
                    invalid(
                        _token_expiration_path(source_path),
                        expiration,
                        "may not specify a duration less than 10 minutes",
                    )
                )
            if expiration > MAX_TOKEN_EXPIRATION_SECONDS:
                errs.append(
                    invalid(
                        _token_expiration_path(source_path),
                        expiration,
                        "may not specify a duration larger than 2^32 seconds",
                    )
                )
            # Kubernetes names the projected volume's path here, not the token's.
            if not token.get("path"):
                errs.append(required(child(path, "path")))
            else:
                errs.extend(_local_non_reserved_path(path, "path", token["path"]))
        if source.get("clusterTrustBundle") is not None:
            count += 1
        if count > 1:
            errs.append(
                forbidden_field(source_path, "may not specify more than 1 volume type per source")
            )
    return errs


def _duplicate_path(path: str, value: str) -> FieldError:
    return invalid(path, value, "conflicting duplicate paths")


def _token_expiration_path(source_path: str) -> str:
    return child(child(source_path, "serviceAccountToken"), "expirationSeconds")
