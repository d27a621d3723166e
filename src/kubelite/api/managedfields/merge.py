"""Merging an applied configuration into the live object (TypedValue.Merge).

The configuration wins on every leaf it sets and leaves everything else as it is: structs and
granular maps merge field by field, associative lists item by item (matched by key or value),
atomic values are replaced whole. Nothing is removed here; what an applier stopped applying is
taken out afterwards (`remove`, by ownership).

Merged lists keep a stable order: items only the live list has stay where they were, items the
configuration names come in the configuration's order, and the items both have are placed as the
configuration orders them. For `[a, x, b]` live and `[b, a]` applied, the result is `[x, b, a]`.
"""

from __future__ import annotations

from typing import Any, cast

from kubelite.api.managedfields import typed
from kubelite.api.managedfields.compare import ABSENT
from kubelite.api.managedfields.fieldpath import Path
from kubelite.api.schema import Node


def merge(live: Any, config: Any, node: Node | None, path: Path = ()) -> Any:
    """`config` merged into `live` under `node` (either may be ABSENT, not both)."""
    return _merge(live, config, node, typed.shape(node), path)


_LEAVES = frozenset({typed.SCALAR, typed.ATOMIC})


def _merge(live: Any, config: Any, node: Node | None, shape: str, path: Path) -> Any:
    if shape in _LEAVES:
        return live if config is ABSENT else config
    assert node is not None
    container = list if shape == typed.LIST else dict
    live_value = live if isinstance(live, container) else None
    config_value = config if isinstance(config, container) else None
    if not live_value and not config_value:
        return live if config is ABSENT else config
    if config is not ABSENT and config is not None and config_value is None:
        # A value of another type than the schema's replaces the live one whole.
        return config
    # Both values are of `container`, the type `shape` names.
    if shape == typed.LIST:
        return _merge_lists(
            cast(list[Any], live_value or []), cast(list[Any], config_value or []), node, path
        )
    live_map = cast(dict[str, Any], live_value or {})
    config_map = cast(dict[str, Any], config_value or {})
    layout = typed.layout(node)
    declared = layout.declared
    out: dict[str, Any] = {}
    for name in (*live_map, *(k for k in config_map if k not in live_map)):
        element, sub_node, sub_shape = declared.get(name) or layout.member(name)
        live_sub = live_map.get(name, ABSENT)
        config_sub = config_map.get(name, ABSENT)
        if sub_shape in _LEAVES:
            # A leaf: the configuration's value wins.
            out[name] = live_sub if config_sub is ABSENT else config_sub
        else:
            out[name] = _merge(live_sub, config_sub, sub_node, sub_shape, (*path, element))
    return out


def _merge_lists(live: list[Any], config: list[Any], node: Node, path: Path) -> list[Any]:
    live_items = typed.index_items(node, live, path)
    config_items = typed.index_items(node, config, path, allow_duplicates=False)
    live_order = list(live_items)
    config_order = list(config_items)
    shared = [element for element in config_order if element in live_items]
    item_shape = typed.shape(node.items)
    out: list[Any] = []

    def emit(element: str) -> None:
        live_group = live_items.get(element)
        config_group = config_items.get(element)
        if config_group is None:
            out.extend(live_group or ())
        elif live_group is None or len(live_group) > 1:
            # Items repeating a key are one atomic value, replaced by the applied item.
            out.append(config_group[0])
        else:
            item = _merge(live_group[0], config_group[0], node.items, item_shape, (*path, element))
            out.append(item)

    li = ci = si = 0
    while li < len(live_order) or ci < len(config_order):
        if li < len(live_order) and ci < len(config_order):
            element = live_order[li]
            if element == config_order[ci]:
                emit(element)
                li, ci, si = li + 1, ci + 1, si + 1
                continue
            if element in config_items and si < len(shared) and shared[si] != element:
                # A shared item, placed later in the configuration's order.
                li += 1
                continue
        if li < len(live_order) and live_order[li] not in config_items:
            emit(live_order[li])
            li += 1
            continue
        if ci < len(config_order):
            element = config_order[ci]
            emit(element)
            ci += 1
            if si < len(shared) and shared[si] == element:
                si += 1
    return out
