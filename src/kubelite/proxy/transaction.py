"""One `nft -f` file per sync: the whole table at start, then only what changed.

nft applies a file as one kernel transaction, so the node never has half a ruleset: either every
command of a sync takes effect or none does.

A full sync (`full_sync`) replaces the table's contents and nothing else: `add table` then
`delete table` (which touches only our table) and the table rebuilt, all in one transaction.
Connections already open keep flowing: their NAT lives in their conntrack entries, not in the
rules, and the filter chains only look at new connections.

An incremental sync (`incremental_sync`) writes only the Services that changed: their chains
are flushed and rewritten, their map elements deleted and added. A chain no longer used is
flushed and deleted in a later sync, as kube-proxy does (kernels before 6.2 may still count a
reference from a map element deleted in the same transaction). The commands are ordered so
that nothing refers to an object that does not exist yet or is deleted while referenced.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from kubelite.proxy.claims import Key
from kubelite.proxy.rules import ProxyConfig, ServiceRules, skeleton

EMPTY = ServiceRules()


def _elements(t: str, verb: str, items: Iterable[tuple[Key, str]]) -> list[str]:
    """`add element` / `delete element` commands, one per map or set."""
    by_name: dict[str, list[str]] = defaultdict(list)
    for (name, key), value in items:
        by_name[name].append(f"{key} : {value}" if value and verb == "add" else key)
    return [f"{verb} element {t} {name} {{ {', '.join(keys)} }}" for name, keys in by_name.items()]


def full_sync(
    config: ProxyConfig, services: Iterable[ServiceRules], elements: Mapping[Key, str]
) -> str:
    """The file that replaces the table's contents with the skeleton, these Services' chains
    and sets, and the map and set elements."""
    t = f"inet {config.table}"
    services = list(services)
    out = [f"add table {t}", f"delete table {t}", *skeleton(config)]
    for rules in services:
        out.extend(f"add set {t} {name} {{ {body} }}" for name, body in rules.sets.items())
    for rules in services:
        out.extend(f"add chain {t} {name}" for name in rules.chains)
    for rules in services:
        for name, lines in rules.chains.items():
            out.extend(f"add rule {t} {name} {line}" for line in lines)
    out += _elements(t, "add", elements.items())
    return "\n".join(out) + "\n"


def incremental_sync(
    config: ProxyConfig,
    changes: Iterable[tuple[ServiceRules, ServiceRules]],
    delete_chains: Iterable[str] = (),
    *,
    add_elements: Iterable[tuple[Key, str]] = (),
    delete_elements: Iterable[tuple[Key, str]] = (),
) -> tuple[str, set[str]]:
    """The file that turns each (old, new) pair of a Service's chains and sets into the new
    ones, deletes `delete_chains` (flushed, unreferenced for a while), and deletes and adds
    map and set elements. Returns it with the chains this sync leaves unused (flushed here,
    to delete later)."""
    t = f"inet {config.table}"
    deleted = [f"delete chain {t} {name}" for name in delete_chains]
    flush: list[str] = []
    del_sets: list[str] = []
    add_sets: list[str] = []
    add_chains: list[str] = []
    add_rules: list[str] = []
    stale: set[str] = set()
    for old, new in changes:
        changed_sets = {n for n, body in old.sets.items() if n in new.sets and new.sets[n] != body}
        # A set whose timeout changed is deleted and made again: every rule that names it
        # must go first, so the whole Service is rewritten.
        rewrite_all = bool(changed_sets)
        for name, lines in new.chains.items():
            if name in old.chains and old.chains[name] == lines and not rewrite_all:
                continue
            if name in old.chains:
                flush.append(name)
            else:
                add_chains.append(name)
            add_rules.extend(f"add rule {t} {name} {line}" for line in lines)
        for name in old.chains:
            if name not in new.chains:
                flush.append(name)
                stale.add(name)
        del_sets += [n for n in old.sets if n not in new.sets or n in changed_sets]
        add_sets += [
            f"add set {t} {n} {{ {body} }}"
            for n, body in new.sets.items()
            if n not in old.sets or n in changed_sets
        ]
    out = [
        *deleted,
        *_elements(t, "delete", delete_elements),
        *(f"flush chain {t} {name}" for name in flush),
        *(f"delete set {t} {name}" for name in del_sets),
        *add_sets,
        *(f"add chain {t} {name}" for name in add_chains),
        *add_rules,
        *_elements(t, "add", add_elements),
    ]
    return ("\n".join(out) + "\n" if out else ""), stale


def delete_table(config: ProxyConfig) -> str:
    """The file that removes the table, whether or not it exists."""
    t = f"inet {config.table}"
    return f"add table {t}\ndelete table {t}\n"
