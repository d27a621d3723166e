"""The RBAC objects an API server authorizes with, held in memory and kept current by watches.

kube-apiserver's RBAC authorizer reads Roles, ClusterRoles and their bindings from informer
caches, never from etcd on a request's path; this is the same, fed by the store's own watch.
For speed the bindings are indexed by subject (`u:<user>`, `g:<group>`; a ServiceAccount
subject is the user `system:serviceaccount:<ns>:<name>` it authenticates as), so that a request
looks at the bindings that name its user and groups, not at every binding of the cluster:
with a thousand bindings a check costs what it costs with ten.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from kubelite.api.goformat import go_quote
from kubelite.apiserver.auth import User
from kubelite.apiserver.rbac.mirror import StoreMirror
from kubelite.apiserver.rbac.rules import Rule, parse_rules
from kubelite.storage.interface import Store

ROLES = "/registry/roles/"
CLUSTER_ROLES = "/registry/clusterroles/"
ROLE_BINDINGS = "/registry/rolebindings/"
CLUSTER_ROLE_BINDINGS = "/registry/clusterrolebindings/"
PREFIXES = (ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS)
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True, slots=True)
class Binding:
    """What authorization needs of a RoleBinding or ClusterRoleBinding."""

    namespace: str
    name: str
    role_kind: str
    role_name: str
    # (index key, the subject as RBAC's allow reason describes it)
    subjects: tuple[tuple[str, str], ...]

    def describe(self, keys: set[str]) -> str:
        """`ClusterRoleBinding "x" of ClusterRole "y" to Group "z"` (RBAC's describers), with
        the first of its subjects, in its own order, that is one of `keys`."""
        subject = next((d for k, d in self.subjects if k in keys), "")
        kind = "RoleBinding" if self.namespace else "ClusterRoleBinding"
        name = f"{self.name}/{self.namespace}" if self.namespace else self.name
        return (
            f"{kind} {go_quote(name)} of {self.role_kind} {go_quote(self.role_name)} to {subject}"
        )


def subject_key(subject: Any, binding_namespace: str) -> tuple[str, str] | None:
    """The index key of a binding's subject (`appliesToUser`) and its description; None for
    one that matches no one (a ServiceAccount of no namespace, an unknown kind)."""
    if not isinstance(subject, dict):
        return None
    kind, name = subject.get("kind"), subject.get("name") or ""
    if kind == "User":
        return f"u:{name}", f"User {go_quote(name)}"
    if kind == "Group":
        return f"g:{name}", f"Group {go_quote(name)}"
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        if not namespace:
            return None
        key = f"u:{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"
        return key, f"ServiceAccount {go_quote(f'{name}/{namespace}')}"
    return None


def user_keys(user: User) -> list[str]:
    return [f"u:{user.name}", *(f"g:{g}" for g in user.groups)]


def _parse_binding(obj: Any) -> Binding | None:
    if not isinstance(obj, dict):
        return None
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace") or ""
    ref = obj.get("roleRef") or {}
    keys = (subject_key(s, namespace) for s in obj.get("subjects") or ())
    # In the binding's order (the allow reason names the first that matches), each once.
    subjects = dict.fromkeys(k for k in keys if k is not None)
    return Binding(
        namespace,
        metadata.get("name") or "",
        ref.get("kind") or "",
        ref.get("name") or "",
        tuple(subjects),
    )


class PolicyCache(StoreMirror):
    """Every Role, ClusterRole and binding of the store, and the bindings by subject."""

    prefixes = PREFIXES

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.roles: dict[tuple[str, str], tuple[Rule, ...]] = {}
        self.cluster_roles: dict[str, tuple[Rule, ...]] = {}
        # store key -> binding; subject key -> {store key: binding}
        self._bindings: dict[str, Binding] = {}
        self._cluster_index: dict[str, dict[str, Binding]] = {}
        # namespace -> subject key -> {store key: binding}
        self._namespace_index: dict[str, dict[str, dict[str, Binding]]] = {}
        # Bumped by every change, so that decisions drawn from the policy can be remembered
        # until it changes.
        self.generation = 0

    # --- lookups ---------------------------------------------------------------------------

    def bindings_for(self, user: User, namespace: str) -> Iterator[tuple[Binding, str]]:
        """The ClusterRoleBindings naming the user or one of its groups, then (for a
        namespace) the RoleBindings of that namespace that do; each with the subject key
        that matched."""
        keys = user_keys(user)
        seen: set[str] = set()
        for key in keys:
            for store_key, binding in self._cluster_index.get(key, {}).items():
                if store_key not in seen:
                    seen.add(store_key)
                    yield binding, key
        if not namespace:
            return
        index = self._namespace_index.get(namespace)
        if not index:
            return
        for key in keys:
            for store_key, binding in index.get(key, {}).items():
                if store_key not in seen:
                    seen.add(store_key)
                    yield binding, key

    def missing_role(self, binding: Binding) -> str:
        """The error RBAC records for a binding whose role is not there, as the listers word
        it (`clusterrole.rbac.authorization.k8s.io "x" not found`)."""
        kind = "clusterrole" if binding.role_kind == "ClusterRole" else "role"
        return f"{kind}.rbac.authorization.k8s.io {go_quote(binding.role_name)} not found"

    def role_rules(self, binding: Binding) -> tuple[Rule, ...] | None:
        """The rules a binding grants; None when its role does not exist (yet)."""
        if binding.role_kind == "ClusterRole":
            return self.cluster_roles.get(binding.role_name)
        if binding.role_kind == "Role" and binding.namespace:
            return self.roles.get((binding.namespace, binding.role_name))
        return None

    def rules_for(self, user: User, namespace: str) -> list[Rule]:
        """Every rule the user holds in the namespace ("" : cluster-wide only)."""
        out: list[Rule] = []
        for binding, _ in self.bindings_for(user, namespace):
            out.extend(self.role_rules(binding) or ())
        return out

    # --- keeping current -------------------------------------------------------------------

    def apply(self, key: str, value: bytes | None) -> None:
        """Take one object's new state (None: deleted) at its store key."""
        # Whatever was decided from the policy before is stale from here on.
        self.generation += 1
        obj = orjson.loads(value) if value is not None else None
        if key.startswith(CLUSTER_ROLES):
            name = key[len(CLUSTER_ROLES) :]
            if obj is None:
                self.cluster_roles.pop(name, None)
            else:
                self.cluster_roles[name] = parse_rules(obj.get("rules"))
        elif key.startswith(ROLES):
            namespace, _, name = key[len(ROLES) :].partition("/")
            if obj is None:
                self.roles.pop((namespace, name), None)
            else:
                self.roles[(namespace, name)] = parse_rules(obj.get("rules"))
        elif key.startswith((ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS)):
            self._unindex(key)
            binding = _parse_binding(obj) if obj is not None else None
            if binding is not None:
                self._index(key, binding)

    def _index(self, key: str, binding: Binding) -> None:
        self._bindings[key] = binding
        if binding.namespace:
            index = self._namespace_index.setdefault(binding.namespace, {})
        else:
            index = self._cluster_index
        for subject, _ in binding.subjects:
            index.setdefault(subject, {})[key] = binding

    def _unindex(self, key: str) -> None:
        old = self._bindings.pop(key, None)
        if old is None:
            return
        index = (
            self._namespace_index.get(old.namespace, {}) if old.namespace else self._cluster_index
        )
        for subject, _ in old.subjects:
            by_key = index.get(subject)
            if by_key is not None:
                by_key.pop(key, None)
                if not by_key:
                    del index[subject]
        if old.namespace and not index:
            self._namespace_index.pop(old.namespace, None)

    def _known(self, prefix: str) -> list[str]:
        if prefix == CLUSTER_ROLES:
            return [CLUSTER_ROLES + name for name in self.cluster_roles]
        if prefix == ROLES:
            return [f"{ROLES}{ns}/{name}" for ns, name in self.roles]
        return [k for k in self._bindings if k.startswith(prefix)]
