"""Caches keyed on text a client chooses stay small however many distinct, long inputs come.

Each cache below remembers results for strings that arrive in request bodies (images, managedFields
elements and managers, names). An lru_cache bounds the number of entries, not their size: a
client sending long strings could make 1,024 or 16,384 entries hold megabytes each. Measured
with tracemalloc, with a margin wide enough not to be flaky.
"""

from __future__ import annotations

import contextlib
import gc
import json
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from kubelite.api.defaulting.pods import image_pull_policy
from kubelite.api.managedfields import fieldpath, managers
from kubelite.api.validation import names

INPUTS = 300
LONG = 64 << 10  # each input: 64 KiB, 19 MiB in all
MARGIN = 2 << 20


@contextmanager
def traced() -> Iterator[list[int]]:
    """Yields a list that holds, after the block, the bytes allocated in it and still alive."""
    held: list[int] = []
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        yield held
        gc.collect()
        held.append(tracemalloc.get_traced_memory()[0] - before)
    finally:
        tracemalloc.stop()


def distinct(i: int, prefix: str = "") -> str:
    """A long string of its own for each i."""
    head = f"{prefix}{i:06d}-"
    return head + "a" * (LONG - len(head))


def call_quietly(function: Callable[[str], Any], text: str) -> None:
    # A FieldsError for a malformed element: refused, and not cached either.
    with contextlib.suppress(ValueError):
        function(text)


CASES: dict[str, Callable[[int], None]] = {
    "image pull policy": lambda i: call_quietly(image_pull_policy, distinct(i, "registry/")),
    "fieldsV1 value element": lambda i: call_quietly(
        fieldpath.parse_element, "v:" + json.dumps(distinct(i))
    ),
    "fieldsV1 key element": lambda i: call_quietly(
        fieldpath.parse_element, "k:" + json.dumps({"name": distinct(i)})
    ),
    "fieldsV1 field element": lambda i: call_quietly(fieldpath.parse_element, "f:" + distinct(i)),
    "element order": lambda i: call_quietly(
        fieldpath.element_order, "v:" + json.dumps(distinct(i))
    ),
    "manager identifier": lambda i: call_quietly(
        lambda text: managers.identifier(text, "Update", "v1", ""), distinct(i)
    ),
    "object name": lambda i: call_quietly(names.is_dns1123_subdomain, distinct(i)),
    "label value": lambda i: call_quietly(names.is_valid_label_value, distinct(i)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_long_distinct_inputs_are_not_kept(case: str) -> None:
    feed = CASES[case]
    with traced() as held:
        for i in range(INPUTS):
            feed(i)
    assert held[0] < MARGIN, f"{case}: {held[0] / 1e6:.1f} MB kept"


def test_short_elements_are_still_remembered() -> None:
    """The bound is on length: the elements of ordinary objects are parsed once."""
    element = 'k:{"name":"nginx","containerPort":80}'
    first = fieldpath.parse_element(element)
    assert fieldpath.parse_element(element) is first
    assert fieldpath.element_order(element) is fieldpath.element_order(element)
