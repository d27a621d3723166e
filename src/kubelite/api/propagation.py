"""Cascading deletion: which garbage collector finalizers a DELETE leaves on an object.

A DELETE says what should happen to the object's dependents (the objects whose
`metadata.ownerReferences` name it) with `propagationPolicy` (or the legacy `orphanDependents`):

- `Background`: the object goes at once; the garbage collector deletes the dependents after.
- `Foreground`: the object stays, with deletionTimestamp and the `foregroundDeletion`
  finalizer, until the garbage collector has deleted the dependents that block it.
- `Orphan`: the object stays with the `orphan` finalizer until the garbage collector has removed
  its ownerReference from every dependent.

The API server only records the choice as a finalizer; the garbage collector controller acts on
it. These are the rules of Kubernetes' generic registry (`registry/generic/registry/store.go`:
`shouldOrphanDependents`, `shouldDeleteDependents`, `deletionFinalizersForGarbageCollection`)
and of the namespace registry, which has its own (`pkg/registry/core/namespace/storage`).
"""

from __future__ import annotations

from collections.abc import Sequence

from kubelite.api.validation.objectmeta import FINALIZER_FOREGROUND, FINALIZER_ORPHAN

__all__ = [
    "BACKGROUND",
    "DELETE_DEPENDENTS",
    "FINALIZER_FOREGROUND",
    "FINALIZER_ORPHAN",
    "FOREGROUND",
    "ORPHAN",
    "ORPHAN_DEPENDENTS",
    "UNSUPPORTED",
    "deletion_finalizers",
    "namespace_deletion_finalizers",
]

# metav1.DeletionPropagation values.
ORPHAN = "Orphan"
BACKGROUND = "Background"
FOREGROUND = "Foreground"

# rest.GarbageCollectionPolicy: a kind's default when a DELETE names no policy. A kind without
# one ("") behaves as DELETE_DEPENDENTS; UNSUPPORTED kinds (Events) never get the finalizers.
DELETE_DEPENDENTS = "DeleteDependents"
ORPHAN_DEPENDENTS = "OrphanDependents"
UNSUPPORTED = "Unsupported"

_GC_FINALIZERS = (FINALIZER_ORPHAN, FINALIZER_FOREGROUND)


def _from_existing(finalizers: Sequence[str]) -> str | None:
    """The finalizer of an earlier cascading DELETE still on the object, if any."""
    return next((f for f in finalizers if f in _GC_FINALIZERS), None)


def should_orphan(
    finalizers: Sequence[str], propagation: str, orphan_dependents: bool | None, default: str
) -> bool:
    """shouldOrphanDependents: options first, then the object's finalizers, then the kind."""
    if default == UNSUPPORTED:
        return False
    if orphan_dependents is not None:
        return orphan_dependents
    if propagation:
        return propagation == ORPHAN
    existing = _from_existing(finalizers)
    if existing is not None:
        return existing == FINALIZER_ORPHAN
    return default == ORPHAN_DEPENDENTS


def should_delete_in_foreground(
    finalizers: Sequence[str], propagation: str, orphan_dependents: bool | None, default: str
) -> bool:
    """shouldDeleteDependents: `orphanDependents` (either value) never means foreground."""
    if default == UNSUPPORTED or orphan_dependents is not None:
        return False
    if propagation:
        return propagation == FOREGROUND
    return _from_existing(finalizers) == FINALIZER_FOREGROUND


def _with(finalizers: Sequence[str], *, orphan: bool, foreground: bool) -> list[str]:
    """The finalizers with the two GC ones set as asked; unchanged (same order) if equal."""
    kept = [f for f in finalizers if f not in _GC_FINALIZERS]
    if orphan:
        kept.append(FINALIZER_ORPHAN)
    if foreground:
        kept.append(FINALIZER_FOREGROUND)
    return list(finalizers) if set(kept) == set(finalizers) else kept


def deletion_finalizers(
    finalizers: Sequence[str],
    *,
    propagation: str = "",
    orphan_dependents: bool | None = None,
    default: str = "",
) -> list[str]:
    """The finalizers an object has after a DELETE (deletionFinalizersForGarbageCollection).

    The GC finalizers already there are dropped and added back as the options, the object and
    the kind's default policy decide; the others are kept. A later DELETE of an object whose
    deletion is held by finalizers may change its mind: `Orphan` then `Foreground` swaps the
    finalizer, and `Background` drops it (the object may then go at once).

    >>> deletion_finalizers([], propagation="Foreground")
    ['foregroundDeletion']
    >>> deletion_finalizers(["example.com/x", "orphan"], propagation="Background")
    ['example.com/x']
    """
    orphan = should_orphan(finalizers, propagation, orphan_dependents, default)
    foreground = should_delete_in_foreground(finalizers, propagation, orphan_dependents, default)
    return _with(finalizers, orphan=orphan, foreground=foreground)


def namespace_deletion_finalizers(
    finalizers: Sequence[str], *, propagation: str = "", orphan_dependents: bool | None = None
) -> list[str]:
    """The first DELETE of a namespace (shouldHaveOrphanFinalizer and its sibling).

    Unlike the generic rule, `orphanDependents: false` asks for foreground deletion, and with
    no options the finalizers stay as they are.
    """
    if orphan_dependents is not None:
        orphan, foreground = orphan_dependents, not orphan_dependents
    elif propagation:
        orphan, foreground = propagation == ORPHAN, propagation == FOREGROUND
    else:
        orphan = FINALIZER_ORPHAN in finalizers
        foreground = FINALIZER_FOREGROUND in finalizers
    return _with(finalizers, orphan=orphan, foreground=foreground)
