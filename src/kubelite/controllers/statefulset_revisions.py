"""A StatefulSet's history: ControllerRevisions of its pod template.

Kubernetes' `pkg/controller/history` and the revision half of `stateful_set_utils.go`. Each
distinct template the set has had is recorded in a ControllerRevision named
`<set>-<hash>`, whose `data` is a strategic merge patch that puts that template back
(`{"spec":{"template":{...,"$patch":"replace"}}}`) and whose `revision` numbers it in the order
the set went through them. Pods carry the hash in their `controller-revision-hash` label, so
the controller can tell which pods are at the set's current revision and which at its update
revision.

The hash is Kubernetes' own: FNV-1 (32 bit) of the patch's JSON (keys sorted, as Go writes a
map), followed by the collision count in decimal when one is kept, printed in decimal and
spelled with the "safe" alphabet that keeps vowels (and so words) out of names. A name taken by
a revision with other data is a collision: the set's status.collisionCount goes up and the hash
changes.

Going back to an earlier template does not make a new revision: the old one is renumbered as
the newest. History beyond `revisionHistoryLimit` is pruned, oldest first, never a revision
that a pod or the status still names.

DaemonSets record the same patch under the same kind of name (daemonset_history.py), but hash
it as Deployments hash their templates.
"""

from __future__ import annotations

import json
from typing import Any

from kubelite.api import meta
from kubelite.api.defaulting.apps import default_pod_template
from kubelite.api.resources import CONTROLLER_REVISIONS
from kubelite.api.types import Obj
from kubelite.api.validation.apps import semantic_equal
from kubelite.controllers import statefulset_pods as pods
from kubelite.controllers.podcontrol import owner_reference

HASH_LABEL = "controller.kubernetes.io/hash"
# ControllerRevisionName keeps names within 253 bytes by cutting the prefix.
MAX_PREFIX = 223
DEFAULT_REVISION_HISTORY_LIMIT = 10
# rand.SafeEncodeString's alphabet: no vowels, no easily confused characters.
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def go_json(value: Any) -> bytes:
    """JSON as Go's encoding/json writes a map: compact, keys sorted, HTML characters escaped."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    for char, escaped in _GO_ESCAPES.items():
        text = text.replace(char, escaped)
    return text.encode()


def fnv1_32(data: bytes) -> int:
    """hash/fnv's New32 (FNV-1: multiply, then xor)."""
    value = _FNV_OFFSET
    for byte in data:
        value = (value * _FNV_PRIME) & 0xFFFFFFFF
        value ^= byte
    return value


def safe_encode(text: str) -> str:
    return "".join(_SAFE_ALPHABET[ord(ch) % len(_SAFE_ALPHABET)] for ch in text)


def hash_revision(data: Any, collision_count: int | None) -> str:
    """HashControllerRevision of a revision holding `data`."""
    raw = go_json(data)
    if collision_count is not None:
        raw += str(collision_count).encode()
    return safe_encode(str(fnv1_32(raw)))


def revision_name(prefix: str, hash_: str) -> str:
    return f"{prefix[:MAX_PREFIX]}-{hash_}"


def revision_data(sset: Obj) -> Obj:
    """The patch that restores the set's template (getPatch): only the template is recorded."""
    template = meta.clone(pods.spec_of(sset).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def new_revision(sset: Obj, number: int, collision_count: int | None) -> Obj:
    """The ControllerRevision of the set's present template, numbered `number`."""
    data = revision_data(sset)
    return controller_revision(sset, hash_revision(data, collision_count), data, number)


def controller_revision(
    owner: Obj, hash_: str, data: Obj, number: int, *, hash_label: str = HASH_LABEL
) -> Obj:
    """A ControllerRevision of `owner` (a StatefulSet or a DaemonSet) holding `data`, named
    `<owner>-<hash>` and numbered `number`.

    Labelled with the template's labels (so the owner's selector finds it) and the hash under
    `hash_label`, annotated with the owner's annotations, and controlled by the owner.
    """
    template_labels = meta.get_path(owner, "spec", "template", "metadata", "labels") or {}
    md: Obj = {
        "name": revision_name(meta.name_of(owner), hash_),
        "namespace": meta.namespace_of(owner),
        "labels": {**template_labels, hash_label: hash_},
        "ownerReferences": [owner_reference(owner)],
    }
    annotations = (owner.get("metadata") or {}).get("annotations")
    if annotations:
        md["annotations"] = dict(annotations)
    return {
        "apiVersion": CONTROLLER_REVISIONS.api_version,
        "kind": CONTROLLER_REVISIONS.kind,
        "metadata": md,
        "data": data,
        "revision": number,
    }


def apply_revision(sset: Obj, revision: Obj) -> Obj:
    """The set as it was at `revision`: its template replaced by the recorded one."""
    restored = meta.clone(sset)
    template = meta.clone(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    restored.setdefault("spec", {})["template"] = template
    return restored


def _hash_number(revision: Obj) -> int | None:
    """The hash label read as Go's ParseInt does (almost never a number, being safe-encoded)."""
    text = meta.labels_of(revision).get(HASH_LABEL)
    if text is None:
        return None
    try:
        value = int(text, 10)
    except ValueError:
        return None
    return value if -(2**31) <= value < 2**31 else None


def equal_revision(a: Obj | None, b: Obj | None) -> bool:
    """Same data (EqualRevision); differing numeric hash labels settle it first."""
    if a is None or b is None:
        return a is b
    ha, hb = _hash_number(a), _hash_number(b)
    if ha is not None and hb is not None and ha != hb:
        return False
    return go_json(a.get("data")) == go_json(b.get("data"))


def describes_set(revision: Obj, wanted: Obj, sset: Obj) -> bool:
    """Whether `revision` records the set's present template: its data equals that of
    `wanted` (the revision the set would get now), or, failing that, the template it restores
    equals the set's once both are defaulted, compared as apiequality.Semantic does (a null
    and a missing field alike): StatefulSetSemanticRevisionComparison, beta and on
    (kubernetes#135017, backported to 1.34). So a revision written before a field was
    defaulted, or serialized otherwise (1.33 wrote `"creationTimestamp": null` into the
    template's metadata), starts no rolling update."""
    if equal_revision(revision, wanted):
        return True
    restored = apply_revision(sset, revision)["spec"]
    present = {"template": meta.clone(pods.spec_of(sset).get("template") or {})}
    default_pod_template(restored)
    default_pod_template(present)
    return semantic_equal(restored["template"], present["template"])


def sort_revisions(revisions: list[Obj]) -> list[Obj]:
    """By revision number; ties by creation time, then name."""
    return sorted(
        revisions,
        key=lambda r: (
            int(r.get("revision") or 0),
            (r.get("metadata") or {}).get("creationTimestamp") or "",
            meta.name_of(r),
        ),
    )


def next_revision_number(revisions: list[Obj]) -> int:
    """One past the newest, 1 for the first (revisions sorted)."""
    return int(revisions[-1].get("revision") or 0) + 1 if revisions else 1


def history_to_prune(
    sset: Obj, set_pods: list[Obj], revisions: list[Obj], live_names: set[str]
) -> list[Obj]:
    """The revisions truncateHistory deletes: the oldest of those no pod or status names,
    beyond revisionHistoryLimit (revisions sorted)."""
    live = set(live_names) | {pods.pod_revision(p) for p in set_pods}
    history = [r for r in revisions if meta.name_of(r) not in live]
    limit = pods.spec_of(sset).get("revisionHistoryLimit")
    limit = DEFAULT_REVISION_HISTORY_LIMIT if limit is None else int(limit)
    if limit < 0 or len(history) <= limit:
        return []
    return history[: len(history) - limit]
