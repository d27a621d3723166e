"""`kubectl get` columns of PersistentVolumeClaims, as Kubernetes' printers (1.33) fill them.

A claim shows its capacity and access modes only once it is bound to a volume (before that the
request is not what it got), its phase as `Terminating` while it is being deleted, and
`<unset>` for a volume mode or volume attributes class it does not name. The storage class
comes from the old beta annotation first, then from spec.storageClassName.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api import meta
from kubelite.api.printers import AGE_COLUMN, NAME_COLUMN, PRINTERS, Column, Printer, age_of
from kubelite.api.quantity import Quantity, QuantityError
from kubelite.api.types import Obj

UNSET = "<unset>"
TERMINATING = "Terminating"
# k8s.io/api/core/v1: BetaStorageClassAnnotation.
BETA_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
# GetAccessModesAsString's abbreviations, in the order it writes them.
ACCESS_MODE_ABBREVIATIONS = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)

CLAIM_COLUMNS = (
    NAME_COLUMN,
    Column("Status", description="phase represents the current phase of PersistentVolumeClaim."),
    Column(
        "Volume",
        description="volumeName is the binding reference to the PersistentVolume backing this "
        "claim.",
    ),
    Column(
        "Capacity", description="capacity represents the actual resources of the underlying volume."
    ),
    Column(
        "Access Modes",
        description="accessModes contains the actual access modes the volume backing the PVC "
        "has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes"
        "#access-modes-1",
    ),
    Column("StorageClass", description="StorageClass of the pvc"),
    Column("VolumeAttributesClass", description="VolumeAttributesClass of the pvc"),
    AGE_COLUMN,
    Column(
        "VolumeMode",
        priority=1,
        description="volumeMode defines what type of volume is required by the claim. Value of "
        "Filesystem is implied when not included in claim spec.",
    ),
)


def access_modes_string(modes: list[str] | None) -> str:
    """`RWO,ROX,...` in a fixed order, whatever order or repeats the list has."""
    present = set(modes or ())
    return ",".join(short for mode, short in ACCESS_MODE_ABBREVIATIONS if mode in present)


def storage_class_of(claim: Obj) -> str:
    """GetPersistentVolumeClaimClass: the beta annotation wins over the field."""
    annotations = meta.get_path(claim, "metadata", "annotations", default=None) or {}
    if BETA_STORAGE_CLASS_ANNOTATION in annotations:
        return str(annotations[BETA_STORAGE_CLASS_ANNOTATION])
    return meta.get_path(claim, "spec", "storageClassName", default=None) or ""


def _quantity_string(value: Any) -> str:
    if value is None:
        return "0"
    try:
        return str(Quantity.from_json(value))
    except QuantityError:
        return str(value)


def claim_cells(claim: Obj, now: dt.datetime) -> list[Any]:
    spec = claim.get("spec") or {}
    status = claim.get("status") or {}
    phase = status.get("phase") or ""
    if meta.get_path(claim, "metadata", "deletionTimestamp"):
        phase = TERMINATING
    volume = spec.get("volumeName") or ""
    capacity = access = ""
    if volume:
        access = access_modes_string(status.get("accessModes"))
        capacity = _quantity_string((status.get("capacity") or {}).get("storage"))
    attributes_class = spec.get("volumeAttributesClassName")
    mode = spec.get("volumeMode")
    return [
        meta.name_of(claim),
        phase,
        volume,
        capacity,
        access,
        storage_class_of(claim),
        UNSET if attributes_class is None else attributes_class,
        age_of(claim, now),
        UNSET if mode is None else mode,
    ]


PRINTERS[("", "PersistentVolumeClaim")] = Printer(CLAIM_COLUMNS, claim_cells)
