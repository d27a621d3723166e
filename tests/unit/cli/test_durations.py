"""Go's duration syntax for kube-controller-manager's duration flags."""

from __future__ import annotations

import pytest

from kubelite.cli.cluster import durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("50s", 50.0),
        ("1m0s", 60.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1h", 3600.0),
        ("1.5s", 1.5),
        ("2", 2.0),
        ("0", 0.0),
        ("-5s", -5.0),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert durations.parse(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "s", "1m30", "ten seconds"])
def test_invalid_durations_are_refused_as_go_words_it(text: str) -> None:
    with pytest.raises(ValueError, match=r'^time: invalid duration "'):
        durations.parse(text)
