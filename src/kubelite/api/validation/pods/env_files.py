"""`env[].valueFrom.fileKeyRef` (KEP-3721: EnvFiles, beta and on since Kubernetes 1.35).

A variable may take its value from one key of an env file that a container of the pod wrote into
one of the pod's emptyDir volumes. The API server checks what it can without the file:

- the selector itself (`validate_file_key_selector`): `key` is a variable name as relaxed since
  1.30 (printable ASCII but `=`) of at most 128 characters (the limit the 1.37 field
  documentation still states), `path` a relative path without `..`, `volumeName` a DNS label;
- against the whole spec (`validate_file_key_ref_volumes`): the volume must be one of the pod's,
  and an emptyDir, the one kind of volume the pod itself fills and the kubelet can read safely.

Whether the file and the key exist is only known when the container starts (the kubelet's
CreateContainerConfigError). The field paths follow Kubernetes'; the wording of the two
volume-level details could not be checked against a 1.37 validation.go (see the report of the
change that added this).
"""

from __future__ import annotations

from collections.abc import Iterator

from kubelite.api.errors import FieldError, child, field_not_found, invalid, required, too_long
from kubelite.api.types import Obj
from kubelite.api.validation import names
from kubelite.api.validation.pods.fields import _index, _local_descending_path, _names_errors

# "During Alpha stage of the EnvFiles feature gate, the key size is limited to 128 characters."
MAX_FILE_KEY_LENGTH = 128

_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def validate_file_key_selector(selector: Obj, path: str) -> list[FieldError]:
    """The rules of one `fileKeyRef` at `path`, on its own."""
    errs: list[FieldError] = []
    key = selector.get("key") or ""
    if not key:
        errs.append(required(child(path, "key")))
    else:
        errs.extend(_names_errors(child(path, "key"), key, names.is_env_var_name(key)))
        if len(key) > MAX_FILE_KEY_LENGTH:
            errs.append(too_long(child(path, "key"), MAX_FILE_KEY_LENGTH))
    file_path = selector.get("path") or ""
    if not file_path:
        errs.append(required(child(path, "path")))
    else:
        errs.extend(_local_descending_path(path, "path", file_path))
    volume = selector.get("volumeName") or ""
    if not volume:
        errs.append(required(child(path, "volumeName")))
    else:
        errs.extend(
            _names_errors(child(path, "volumeName"), volume, names.is_dns1123_label(volume))
        )
    return errs


def _file_key_refs(spec: Obj, path: str) -> Iterator[tuple[Obj, str]]:
    """Each fileKeyRef of the spec's containers with the path of its `volumeName`."""
    for kind in _CONTAINER_LISTS:
        for i, container in enumerate(spec.get(kind) or ()):
            for j, var in enumerate(container.get("env") or ()):
                ref = (var.get("valueFrom") or {}).get("fileKeyRef")
                if isinstance(ref, dict) and ref.get("volumeName"):
                    env_path = _index(child(_index(child(path, kind), i), "env"), j)
                    ref_path = child(child(env_path, "valueFrom"), "fileKeyRef")
                    yield ref, child(ref_path, "volumeName")


def validate_file_key_ref_volumes(spec: Obj, path: str) -> list[FieldError]:
    """Every fileKeyRef names a volume of the pod, and that volume is an emptyDir."""
    refs = list(_file_key_refs(spec, path))
    if not refs:
        return []
    volumes = {v.get("name"): v for v in spec.get("volumes") or () if isinstance(v, dict)}
    errs: list[FieldError] = []
    for ref, at in refs:
        name = ref["volumeName"]
        volume = volumes.get(name)
        if volume is None:
            errs.append(field_not_found(at, name))
        elif volume.get("emptyDir") is None:
            errs.append(invalid(at, name, "must reference an emptyDir volume"))
    return errs
