"""What a create gives its manager, written straight as a `fieldsV1` object.

A create is an update from nothing: its manager gets every field that `compare({}, obj)` finds
added or modified, less the reset fields (and what is below them) and the fields nobody owns
(`managers.STRIPPED`), and `managers.encode` writes that set as fieldsV1. Every POST does this,
and going through a set of path tuples, a trie and sorted levels costs several times the walk
itself. Here the object is walked once with its schema and the fieldsV1 object is built as the
walk goes: the same paths in the same order, so the same bytes (a test holds this against the
general path).

compare's rules, for an old object that is empty, come down to two cases:

- a value at a path the old object lacks is added (`_added`): the path is owned, with
  everything below it; a new struct gets the fields Go gives every value of its type, so a new
  container owns `resources` even when the client left it out;
- where the old object has a zero value, because Go gives that field to every object (value
  structs like `spec`, and required fields; see `typed.Layout.zeros`), the path is owned only if
  the new value differs from the zero value as a whole (`_over_zero`); below it, a zero struct
  has zero fields of its own, and the rest is added.

How to walk a struct depends only on which fields it has, and objects of a kind come with the
same few sets of fields: a `Plan` (the fields in fieldsV1's order, and what each needs) is made
once per set and reused, so that the walk does not sort fields or look up their schemas again.
The fields nobody owns are in the plans too: a stripped leaf is left out, a reset field is
walked only for the errors compare() would raise.

In fieldsV1, `{}` is a path owned with nothing owned below it; a path both owned and with owned
fields below carries `".": {}` first; a path that is not owned itself only has its fields.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from kubelite.api.managedfields import fieldpath, managers, typed
from kubelite.api.managedfields.fieldpath import SELF, FieldSet
from kubelite.api.schema import Node

FieldsV1 = dict[str, Any]


def created_fields(obj: dict[str, Any], node: Node | None, reset: FieldSet) -> FieldsV1:
    """The fieldsV1 of what creating `obj` gives its manager (empty when nothing).

    Raises typed.SchemaError, as compare() does, for list items that cannot be keyed; its
    message names the item but not the list, which update() has no use for.
    """
    shape = typed.shape(node)
    if shape not in _CONTAINERS or not isinstance(obj, dict) or not obj:
        return {}
    # The object itself sits over an empty one, which has the zero fields of its kind.
    return _fields(obj, node, {}, True, _root_rule(reset))


_CONTAINERS = frozenset({typed.STRUCT, typed.MAP})
_LEAVES = frozenset({typed.SCALAR, typed.ATOMIC})


# --- what nobody owns ------------------------------------------------------------------------


class _Rule:
    """What may be owned at a path: the path itself (`own`), and the fields below it.

    `below` holds the rules of the fields under the path; `_RESET` there means nothing at or
    below the field is owned.
    """

    __slots__ = ("below", "own")

    def __init__(self) -> None:
        self.own = True
        self.below: dict[str, _Rule] = {}


_RESET = _Rule()


@functools.lru_cache(maxsize=64)
def _root_rule(reset: FieldSet) -> _Rule:
    """The rules of the stripped fields (not owned, what is below them is) and of `reset`."""
    root = _Rule()
    for path in managers.STRIPPED:
        rule = root
        for element in path:
            rule = rule.below.setdefault(element, _Rule())
        rule.own = False
    for path in reset:
        rule = root
        for element in path[:-1]:
            rule = rule.below.setdefault(element, _Rule())
            if rule is _RESET:
                break
        else:
            rule.below[path[-1]] = _RESET
    return root


# --- plans -----------------------------------------------------------------------------------


# How to walk one field: its name, schema node and shape, its zero value (or _NEW when there is
# none: the field is new), and the rule for it (None when nothing restricts it).
Step = tuple[str, "Node | None", str, Any, "_Rule | None"]
# The fields of a struct in fieldsV1's order: each one's element, and None for a leaf (owned as
# it is) or the step to walk it.
Plan = tuple[tuple[str, Step | None], ...]

_NEW: Any = object()

# Plans by (layout, the struct's field names in their order, over a zero value, rule).
_PLANS: dict[tuple[typed.Layout, tuple[str, ...], bool, _Rule | None], Plan] = {}
_MAX_PLANS = 4096


def _plan(layout: typed.Layout, obj: dict[str, Any], over_zero: bool, rule: _Rule | None) -> Plan:
    """The plan of a struct (or map) with `obj`'s fields, made once per set of fields."""
    key = (layout, tuple(obj), over_zero and bool(layout.zeros), rule)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _make_plan(*key)
        if layout.is_map:
            # A map's keys are data, not schema: its plans would be of no use again.
            return plan
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        _PLANS[key] = plan
    return plan


def _make_plan(
    layout: typed.Layout, names: tuple[str, ...], over_zero: bool, rule: _Rule | None
) -> Plan:
    zeros = layout.zeros
    rules = rule.below if rule is not None else {}
    steps: list[tuple[str, Step | None]] = []
    for name in sorted(zeros.keys() | names):
        element, sub_node, sub_shape = layout.member(name)
        sub_rule = rules.get(element)
        owned = sub_rule is None or (sub_rule.own and sub_rule is not _RESET)
        if name not in names:
            # A zero field the object leaves out: the zero value itself, which a new struct
            # owns (as a leaf: empty or null) and one over the zero value does not.
            if not over_zero and owned:
                steps.append((element, None))
            continue
        zero = zeros[name] if over_zero and name in zeros else _NEW
        if sub_shape in _LEAVES and zero is _NEW:
            # A leaf is owned as it is, unless it is stripped or reset; it holds no errors.
            if owned:
                steps.append((element, None))
        else:
            steps.append((element, (name, sub_node, sub_shape, zero, sub_rule)))
    return tuple(steps)


# --- the walk --------------------------------------------------------------------------------


def _fields(
    obj: dict[str, Any],
    node: Node | None,
    out: FieldsV1,
    over_zero: bool,
    rule: _Rule | None = None,
) -> FieldsV1:
    """`out` with the owned fields of a struct or map, in fieldsV1's order (by name).

    The struct is new, or sits `over_zero`: over its zero value, whose zero fields it owns
    only where it differs from them. `rule` says what may be owned below it.
    """
    # Callers come here for a STRUCT or MAP shape, which typed.shape() never gives a None node.
    assert node is not None
    layout = typed.layout(node)
    if layout.values_are_leaves and rule is None:
        for name in sorted(obj):
            out[fieldpath.field(name)] = {}
        return out
    for element, step in _plan(layout, obj, over_zero, rule):
        if step is None:
            out[element] = {}
            continue
        name, sub_node, sub_shape, zero, sub_rule = step
        value = obj[name]
        if sub_rule is not None:
            owned = _ruled(value, sub_node, sub_shape, zero, sub_rule)
            if owned is not None:
                out[element] = owned
        elif zero is not _NEW:
            owned = _over_zero(zero, value, sub_node, sub_shape)
            if owned is not None:
                out[element] = owned
        elif not value:
            # Empty or null: owned as a leaf, whatever the shape.
            out[element] = {}
        elif sub_shape == typed.STRUCT and type(value) is dict:
            out[element] = _fields(value, sub_node, {SELF: {}}, False)
        else:
            out[element] = _added(value, sub_node, sub_shape)
    return out


def _added(value: Any, node: Node | None, shape: str, rule: _Rule | None = None) -> FieldsV1:
    """A value where there was none: owned, and so is everything below it."""
    if shape == typed.LIST:
        if type(value) is list and value:
            return _items(value, node, {SELF: {}})
    elif shape in _CONTAINERS and type(value) is dict and value:
        return _fields(value, node, {SELF: {}}, False, rule)
    return {}


def _over_zero(
    zero: Any, value: Any, node: Node | None, shape: str, rule: _Rule | None = None
) -> FieldsV1 | None:
    """A value over the zero value Go gives the field (`{}` or null): None if nothing is owned."""
    if shape == typed.LIST and type(value) is list and value:
        return _items(value, node, {}) or None
    if shape in _CONTAINERS and type(value) is dict and value:
        # A zero struct has zero fields of its own; a null one has none.
        return _fields(value, node, {}, type(zero) is dict, rule) or None
    # Empty or null on both sides, or a leaf: owned if it is not the zero value.
    return None if typed.values_equal(zero, value) else {}


def _ruled(value: Any, node: Node | None, shape: str, zero: Any, rule: _Rule) -> FieldsV1 | None:
    """What a field some rule names owns: what compare() finds, less what the rule takes out."""
    if zero is _NEW:
        owned: FieldsV1 | None = _added(value, node, shape, rule)
    else:
        owned = _over_zero(zero, value, node, shape, rule)
    if rule is _RESET or owned is None:
        # A reset field is walked all the same: compare() refuses its bad lists too.
        return None
    if not rule.own:
        below = {element: sub for element, sub in owned.items() if element != SELF}
        return below or None
    if len(owned) == 1 and SELF in owned:
        # Owned itself, with everything that was below it taken out.
        return {}
    return owned


def _items(items: list[Any], node: Node | None, out: FieldsV1) -> FieldsV1:
    """`out` with the items of a new associative list, all owned, in fieldsV1's order."""
    # Callers come here for a LIST shape, which typed.shape() never gives a None node.
    assert node is not None
    groups = typed.index_items(node, items, ())
    item_node = node.items
    shape = typed.shape(item_node)
    structs = shape == typed.STRUCT
    for element in _in_order(groups) if len(groups) > 1 else groups:
        group = groups[element]
        item = group[0]
        if len(group) > 1:
            # Items repeating a key are one atomic value, owned with nothing below it.
            out[element] = {}
        elif structs and type(item) is dict and item:
            out[element] = _fields(item, item_node, {SELF: {}}, False)
        else:
            out[element] = _added(item, item_node, shape)
    return out


def _in_order(elements: dict[str, Any]) -> Iterable[str]:
    """The elements of a list's items as fieldsV1 orders them; most lists have two or so."""
    if len(elements) == 2:
        first, second = elements
        order = fieldpath.element_order
        return (second, first) if order(second) < order(first) else (first, second)
    return sorted(elements, key=fieldpath.element_order)
