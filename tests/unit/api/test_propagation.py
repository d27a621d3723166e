"""Which garbage collector finalizers a DELETE leaves (deletionFinalizersForGarbageCollection)."""

from __future__ import annotations

import pytest

from kubelite.api.propagation import (
    DELETE_DEPENDENTS,
    ORPHAN_DEPENDENTS,
    UNSUPPORTED,
    deletion_finalizers,
    namespace_deletion_finalizers,
)

FG, ORPHAN, OTHER = "foregroundDeletion", "orphan", "example.com/x"


@pytest.mark.parametrize(
    ("finalizers", "policy", "orphan_dependents", "default", "expected"),
    [
        # Options first.
        ([], "Foreground", None, "", [FG]),
        ([], "Orphan", None, "", [ORPHAN]),
        ([], "Background", None, "", []),
        ([], "", True, "", [ORPHAN]),
        # orphanDependents=false is a background cascade, never a foreground one.
        ([], "", False, "", []),
        ([FG], "", False, "", []),
        # Then the finalizer an earlier delete (or the client) put there.
        ([ORPHAN], "", None, "", [ORPHAN]),
        ([OTHER, FG], "", None, "", [OTHER, FG]),
        # Then the kind's default.
        ([], "", None, "", []),
        ([], "", None, DELETE_DEPENDENTS, []),
        ([], "", None, ORPHAN_DEPENDENTS, [ORPHAN]),
        # A later delete swaps or drops the finalizer, keeping the others in their order.
        ([OTHER, ORPHAN], "Foreground", None, "", [OTHER, FG]),
        ([FG, OTHER], "Background", None, "", [OTHER]),
        ([ORPHAN, OTHER], "Orphan", None, "", [ORPHAN, OTHER]),
        # Kinds outside garbage collection lose them whatever was asked.
        ([ORPHAN, OTHER], "Foreground", None, UNSUPPORTED, [OTHER]),
    ],
)
def test_deletion_finalizers(
    finalizers: list[str],
    policy: str,
    orphan_dependents: bool | None,
    default: str,
    expected: list[str],
) -> None:
    assert (
        deletion_finalizers(
            finalizers,
            propagation=policy,
            orphan_dependents=orphan_dependents,
            default=default,
        )
        == expected
    )


@pytest.mark.parametrize(
    ("finalizers", "policy", "orphan_dependents", "expected"),
    [
        ([], "", None, []),
        ([ORPHAN], "", None, [ORPHAN]),
        ([], "Foreground", None, [FG]),
        ([], "Orphan", None, [ORPHAN]),
        ([ORPHAN], "Background", None, []),
        ([], "", True, [ORPHAN]),
        ([], "", False, [FG]),
    ],
)
def test_namespace_deletion_finalizers(
    finalizers: list[str], policy: str, orphan_dependents: bool | None, expected: list[str]
) -> None:
    assert (
        namespace_deletion_finalizers(
            finalizers, propagation=policy, orphan_dependents=orphan_dependents
        )
        == expected
    )
