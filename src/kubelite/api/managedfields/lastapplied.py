"""Moving an object from client-side to server-side apply with kubectl, without conflicts.

`kubectl apply` (client-side) records what it applied in the last-applied-configuration
annotation and owns those fields as the updater `kubectl-client-side-apply`. When the same user
then runs `kubectl apply --server-side` (field manager `kubectl`), Kubernetes
(`lastappliedmanager.go`) lets the apply take over, without conflict, every field the annotation
holds with the value the object still has. Afterwards (`lastappliedupdater.go`) it keeps the
annotation in step with the server-side configuration, so that going back to client-side apply
still works. Both only for the manager `kubectl`: other managers opt out by their name.
"""

from __future__ import annotations

import json
from typing import Any

from kubelite.api.managedfields import fieldpath, typed
from kubelite.api.managedfields.compare import compare
from kubelite.api.managedfields.fieldpath import FieldSet
from kubelite.api.managedfields.fieldset import field_set
from kubelite.api.schema import Node

ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
# The field manager `kubectl apply --server-side` uses by default.
KUBECTL = "kubectl"
# Annotations together may hold this many bytes (TotalAnnotationSizeLimitB in apimachinery's
# validation); a last-applied annotation that would pass it is dropped instead.
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def _annotations(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return annotations if isinstance(annotations, dict) else {}


def allowed_conflicts(live: dict[str, Any], node: Node, api_version: str) -> FieldSet | None:
    """The fields the annotation of `live` lets `kubectl` take over; None without a usable one.

    Those are the fields of the last applied configuration whose value the live object still
    has: nobody changed them since client-side apply set them.
    """
    text = _annotations(live).get(ANNOTATION)
    if not isinstance(text, str) or not text:
        return None
    try:
        last = json.loads(text)
    except ValueError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != api_version:
        return None
    try:
        fields = field_set(last, node)
        changed = compare(last, live, node)
    except typed.SchemaError:
        return None
    return fields - changed.modified - changed.added - changed.removed


def record(result: dict[str, Any], config: dict[str, Any]) -> None:
    """Set the annotation of `result`, if it has one, to the configuration `kubectl` applied."""
    annotations = _annotations(result)
    if not annotations.get(ANNOTATION):
        return
    applied = dict(config)
    metadata = applied.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("annotations"), dict):
        # The annotation never holds itself; an emptied map stays, as kubectl writes it.
        applied["metadata"] = {
            **metadata,
            "annotations": {k: v for k, v in metadata["annotations"].items() if k != ANNOTATION},
        }
    # json.Encoder, as Kubernetes encodes it, ends the document with a newline.
    annotations[ANNOTATION] = fieldpath.go_json(applied) + "\n"
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > TOTAL_ANNOTATION_SIZE_LIMIT:
        del annotations[ANNOTATION]
