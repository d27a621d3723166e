"""What several plugins share: kube-scheduler's `plugins/helper` normalization."""

from __future__ import annotations

from kubelite.scheduler.framework.interface import MAX_NODE_SCORE


def default_normalize_score(
    scores: list[tuple[str, int]], *, reverse: bool, max_priority: int = MAX_NODE_SCORE
) -> list[tuple[str, int]]:
    """helper.DefaultNormalizeScore: scale [0, max(scores)] to [0, max_priority] with integer
    division, and with `reverse` subtract from max_priority (fewer is better). When every score
    is 0, they stay 0, or all become max_priority when reversed.

    >>> default_normalize_score([("a", 1), ("b", 4)], reverse=True)
    [('a', 75), ('b', 0)]
    """
    highest = 0
    for _, score in scores:
        if score > highest:
            highest = score
    if highest == 0:
        if reverse:
            return [(name, max_priority) for name, _ in scores]
        return scores
    if reverse:
        return [(name, max_priority - max_priority * score // highest) for name, score in scores]
    return [(name, max_priority * score // highest) for name, score in scores]
