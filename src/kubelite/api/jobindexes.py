"""The interval text of an Indexed Job's completion indexes: `1,3-5,7`.

`status.completedIndexes`, `status.failedIndexes` and a success policy's `succeededIndexes` all
use it: increasing decimal indexes, comma-separated, with runs of three or more written as
`first-last` (two in a row stay `1,2`, as Kubernetes writes them). The API server validates the
text (`check`); the Job controller reads and writes it (`parse`, `format`).
"""

from __future__ import annotations

from collections.abc import Iterable


class IndexesError(ValueError):
    """Text that is not an ordered list of indexes below the Job's completions."""


def check(text: str, completions: int) -> int:
    """How many indexes `text` names; IndexesError, with Kubernetes' words, if malformed."""
    if not text:
        return 0
    last: int | None = None
    total = 0
    for interval in text.split(","):
        limits = interval.split("-")
        if len(limits) > 2:
            raise IndexesError(
                f'the fragment "{interval}" violates the requirement that an index interval can '
                "have at most two parts separated by '-'"
            )
        first = _index(limits[0], completions)
        if last is not None and last >= first:
            raise IndexesError(f"non-increasing order, previous: {last}, current: {first}")
        total += 1
        last = first
        if len(limits) == 2:
            end = _index(limits[1], completions)
            if last >= end:
                raise IndexesError(f"non-increasing order, previous: {last}, current: {end}")
            total += end - first
            last = end
    return total


def _index(text: str, completions: int) -> int:
    if not text.isdigit():
        raise IndexesError(f'cannot convert string to integer for index: "{text}"')
    value = int(text)
    if value >= completions:
        raise IndexesError(f'too large index: "{text}"')
    return value


def parse(text: str | None, completions: int) -> set[int]:
    """The indexes below `completions` that `text` names; malformed parts are skipped, as the
    controller skips them (the text may predate a scale-down)."""
    found: set[int] = set()
    for interval in (text or "").split(","):
        first, _, last = interval.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            continue
        end = int(last) if last else int(first)
        found.update(i for i in range(int(first), end + 1) if i < completions)
    return found


def format(indexes: Iterable[int]) -> str:
    """`0,2-4,7`: runs of three or more compressed."""
    ordered = sorted(set(indexes))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{ordered[i]}-{ordered[j]}")
        else:
            parts.extend(str(ordered[k]) for k in range(i, j + 1))
        i = j + 1
    return ",".join(parts)
