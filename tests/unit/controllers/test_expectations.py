"""Expectations: a controller waits to see its own creates and deletes before acting again.

Kubernetes' ControllerExpectations and UIDTrackingControllerExpectations
(pkg/controller/controller_utils.go). Each table row is a sequence of calls on one controller
key and what `satisfied` and `pending` say afterwards.
"""

from __future__ import annotations

import time
import types
from typing import Any

import pytest

from kubelite.controllers import expectations as expectations_module
from kubelite.controllers.expectations import EXPECTATIONS_TIMEOUT, Expectations

KEY = "default/web"

Step = tuple[str, tuple[Any, ...]]


@pytest.mark.parametrize(
    ("steps", "satisfied", "pending"),
    [
        ([], True, (0, 0)),
        ([("expect_creations", (KEY, 3))], False, (3, 0)),
        (
            [("expect_creations", (KEY, 2)), ("creation_observed", (KEY,))],
            False,
            (1, 0),
        ),
        (
            [
                ("expect_creations", (KEY, 2)),
                ("creation_observed", (KEY,)),
                ("creation_observed", (KEY,)),
            ],
            True,
            (0, 0),
        ),
        # Refused creates are never seen by the informer: they are counted off at once.
        (
            [
                ("expect_creations", (KEY, 4)),
                ("creation_observed", (KEY,)),
                ("creations_failed", (KEY, 3)),
            ],
            True,
            (0, 0),
        ),
        ([("expect_deletions", (KEY, ["default/a", "default/b"]))], False, (0, 2)),
        (
            [
                ("expect_deletions", (KEY, ["default/a", "default/b"])),
                ("deletion_observed", (KEY, "default/a")),
                ("deletion_observed", (KEY, "default/b")),
            ],
            True,
            (0, 0),
        ),
        # The same pod reported twice (terminating, then gone) counts once.
        (
            [
                ("expect_deletions", (KEY, ["default/a", "default/b"])),
                ("deletion_observed", (KEY, "default/a")),
                ("deletion_observed", (KEY, "default/a")),
            ],
            False,
            (0, 1),
        ),
        # Someone else's pod going away is not one of the deletes waited for.
        (
            [
                ("expect_deletions", (KEY, ["default/a"])),
                ("deletion_observed", (KEY, "default/other")),
            ],
            False,
            (0, 1),
        ),
        (
            [("expect_deletions", (KEY, ["default/a"])), ("deletion_failed", (KEY, "default/a"))],
            True,
            (0, 0),
        ),
        # Observations for a key with nothing expected change nothing.
        ([("creation_observed", (KEY,)), ("deletion_observed", (KEY, "default/a"))], True, (0, 0)),
        # A new batch replaces what was left of the previous one (SetExpectations).
        (
            [("expect_creations", (KEY, 5)), ("expect_deletions", (KEY, ["default/a"]))],
            False,
            (0, 1),
        ),
        ([("expect_creations", (KEY, 2)), ("forget", (KEY,))], True, (0, 0)),
        # Another controller's expectations are its own.
        ([("expect_creations", ("default/db", 2))], True, (0, 0)),
    ],
    ids=[
        "nothing-recorded",
        "creates-pending",
        "one-of-two-creates-seen",
        "all-creates-seen",
        "failed-creates-counted-off",
        "deletes-pending",
        "all-deletes-seen",
        "same-delete-counted-once",
        "unexpected-delete-ignored",
        "failed-delete-counted-off",
        "observed-without-expectations",
        "new-batch-replaces-old",
        "forget",
        "other-key",
    ],
)
def test_expectations(steps: list[Step], satisfied: bool, pending: tuple[int, int]) -> None:
    """SatisfiedExpectations is true once every expected create and delete was observed (or
    counted off as failed), and for a key with nothing recorded."""
    expectations = Expectations()
    for method, args in steps:
        getattr(expectations, method)(*args)
    assert expectations.satisfied(KEY) is satisfied
    assert expectations.pending(KEY) == pending


def test_expectations_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    """After ExpectationsTimeout (5 minutes) a key is acted on again even though what it
    waited for never came (a lost watch event costs one late sync, not a stuck controller)."""
    expectations = Expectations()
    expectations.expect_creations(KEY, 1)
    started = time.monotonic()
    clock = types.SimpleNamespace(monotonic=lambda: started + EXPECTATIONS_TIMEOUT - 1)
    monkeypatch.setattr(expectations_module, "time", clock)
    assert not expectations.satisfied(KEY)
    clock.monotonic = lambda: started + EXPECTATIONS_TIMEOUT + 1
    assert expectations.satisfied(KEY)
    assert EXPECTATIONS_TIMEOUT == 300.0
